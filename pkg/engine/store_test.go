package engine

import "testing"

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"web", true},
		{"/web", true},
		{"a_b.c-D9", true},
		{"", false},
		{"/", false},
		{"//web", false},
		{"-web", false},
		{"_web", false},
		{"a/b", false},
		{"a b", false},
		{"é", false},
	} {
		if got := validName(tc.name); got != tc.want {
			t.Errorf("validName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
