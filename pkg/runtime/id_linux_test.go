package runtime

import "testing"

func TestValidateID(t *testing.T) {
	long := make([]byte, 1025)
	for i := range long {
		long[i] = 'a'
	}
	for _, c := range []struct {
		id string
		ok bool
	}{
		{"abc", true}, {"A_b+c-d.e9", true}, {"x..y", true}, {"...", true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"a b", false},
		{"é", false}, {"a\x00", false}, {string(long), false}, {string(long[:1024]), true},
	} {
		if err := validateID(c.id); (err == nil) != c.ok {
			t.Errorf("validateID(%q) = %v, want ok=%v", c.id, err, c.ok)
		}
	}
}
