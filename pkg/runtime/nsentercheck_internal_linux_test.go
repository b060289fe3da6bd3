package runtime

import (
	"errors"
	"testing"
)

// A parent without cgo may start a child that joins namespaces only when
// it re-executes an init binary, and that binary refuses to run without
// the constructor, so no child ever goes on in namespaces it failed to join.
func TestNsenterCheck(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		joins, initBinary, available bool
		ok                           bool
	}{
		{"no joins, no cgo", false, false, false, true},
		{"joins, cgo self", true, false, true, true},
		{"joins, no cgo, self", true, false, false, false},
		{"joins, no cgo, init binary", true, true, false, true},
		{"joins, cgo, init binary", true, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := nsenterCheck(tc.joins, tc.initBinary, tc.available)
			if (err == nil) != tc.ok {
				t.Fatalf("nsenterCheck(%v, %v, %v) = %v, want ok=%v", tc.joins, tc.initBinary, tc.available, err, tc.ok)
			}
			if err != nil && !errors.Is(err, errNotSupported) {
				t.Fatalf("error %v is not errNotSupported", err)
			}
		})
	}
}

func TestChildNsenterCheck(t *testing.T) {
	for _, tc := range []struct {
		env       string
		available bool
		ok        bool
	}{
		{"", false, true},
		{"", true, true},
		{"5;0;1;6:1073741824", true, true},
		{"5;0;1;6:1073741824", false, false},
	} {
		err := childNsenterCheck(tc.env, tc.available)
		if (err == nil) != tc.ok {
			t.Errorf("childNsenterCheck(%q, %v) = %v, want ok=%v", tc.env, tc.available, err, tc.ok)
		}
	}
}
