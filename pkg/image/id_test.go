package image

import (
	"strings"
	"testing"
)

func TestIsImageID(t *testing.T) {
	full := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		ref         string
		full, short bool
	}{
		{full, true, true},
		{full[7:], false, true},
		{"abcd", false, true},
		{"sha256:abcd", false, true},
		{"abc", false, false},
		{"sha256:", false, false},
		{"ABCD", false, false},
		{"abcg", false, false},
		{full + "a", false, false},
		{"busybox", false, false},
	} {
		if got := isFullID(tc.ref); got != tc.full {
			t.Errorf("isFullID(%q) = %v, want %v", tc.ref, got, tc.full)
		}
		if got := isShortID(tc.ref); got != tc.short {
			t.Errorf("isShortID(%q) = %v, want %v", tc.ref, got, tc.short)
		}
	}
}
