package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// kernelAtLeast reports whether the running kernel is at least major.minor.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		t.Fatalf("kernel release %q: %v", u.Release, err)
	}
	return ma > major || ma == major && mi >= minor
}

// A --rm container's writable layer is a volatile overlay (never synced);
// a kept container's is not.
func TestEngineRmRootfsIsVolatile(t *testing.T) {
	e := newEngineEnv(t)
	if !kernelAtLeast(t, 5, 10) {
		t.Skip("overlayfs volatile needs Linux 5.10")
	}
	for _, tc := range []struct {
		name     string
		flags    []string
		volatile bool
	}{
		{"rm", []string{"--rm"}, true},
		{"kept", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := e.run(tc.flags, "grep", " / ", "/proc/mounts")
			if code != 0 {
				t.Fatalf("run: exit %d: %s", code, errOut)
			}
			if got := strings.Contains(out, "volatile"); got != tc.volatile {
				t.Fatalf("rootfs mount %q: volatile %v, want %v", out, got, tc.volatile)
			}
		})
	}
}

// The in-process runtime keeps its state where berth-runtime's command line
// finds it: both faces manage the same containers.
func TestEngineFastPathSharesRuntimeState(t *testing.T) {
	e := newEngineEnv(t)
	id := e.mustRunD(nil, "sleep", "600")
	rt := filepath.Join(filepath.Dir(e.bin), "berth-runtime")
	out, err := exec.Command(rt, "--root", filepath.Join(e.runroot, "runtime"), "state", id).CombinedOutput()
	if err != nil {
		t.Fatalf("berth-runtime state %s: %v: %s", id, err, out)
	}
	if !strings.Contains(string(out), `"running"`) {
		t.Fatalf("berth-runtime state: %s, want running", out)
	}
	if _, errOut, code := e.berth("rm", "-f", id); code != 0 {
		t.Fatalf("rm -f: exit %d: %s", code, errOut)
	}
	if out, err := exec.Command(rt, "--root", filepath.Join(e.runroot, "runtime"), "state", id).CombinedOutput(); err == nil {
		t.Fatalf("berth-runtime still knows %s after rm: %s", id, out)
	}
}
