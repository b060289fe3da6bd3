package tarpath

import "testing"

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"a/b": "a/b", "./a/b/": "a/b", "/a//b": "a/b", ".": ".", "./": ".", "/": ".", "a/./b": "a/b",
		"..": "", "a/../b": "", "../x": "", "a/..": "", "a\x00b": "",
	} {
		got, err := Clean(in)
		if want == "" {
			if err == nil {
				t.Errorf("Clean(%q) = %q, want error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("Clean(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
