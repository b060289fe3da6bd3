package monitor

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		ws   unix.WaitStatus
		want int
	}{
		{unix.WaitStatus(0), 0},
		{unix.WaitStatus(3 << 8), 3},
		{unix.WaitStatus(9), 137},  // killed by SIGKILL
		{unix.WaitStatus(15), 143}, // killed by SIGTERM
	} {
		if got := exitCode(tc.ws); got != tc.want {
			t.Errorf("exitCode(%#x) = %d, want %d", int(tc.ws), got, tc.want)
		}
	}
}
