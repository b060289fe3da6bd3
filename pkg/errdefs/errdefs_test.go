package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain", errors.New("boom"), 1},
		{"sentinel", fmt.Errorf("image %q: %w", "x", ErrNotFound), 1},
		{"exit", &ExitError{Code: 137}, 137},
		{"wrapped exit", fmt.Errorf("running: %w", &ExitError{Code: 125, Err: ErrInvalidArgument}), 125},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExitCode(tc.err); got != tc.want {
				t.Fatalf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestExitErrorUnwraps(t *testing.T) {
	err := fmt.Errorf("ctx: %w", &ExitError{Code: 125, Err: fmt.Errorf("name %q: %w", "web", ErrConflict)})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("errors.Is(%v, ErrConflict) = false", err)
	}
	if (&ExitError{Code: 3}).Error() != "" {
		t.Fatal("ExitError without Err must print nothing")
	}
}
