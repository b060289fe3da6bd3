package runtime_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SetInitBinary decides which binary the container init re-executes: a
// working one runs the container, a missing one fails the create naming it.
func TestSetInitBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t)
	rt.SetInitBinary(self)
	if code, out, err := runOutput(t, rt, testSpec("/bin/sh", "-c", "echo via-init-binary")); err != nil || code != 0 || !strings.Contains(out, "via-init-binary") {
		t.Fatalf("run with init binary %s: code %d, err %v, output %q", self, code, err, out)
	}

	missing := filepath.Join(t.TempDir(), "no-such-runtime")
	rt = newRuntime(t)
	rt.SetInitBinary(missing)
	if _, out, err := runOutput(t, rt, testSpec("/bin/true")); err == nil || !strings.Contains(err.Error(), "no-such-runtime") {
		t.Fatalf("run with missing init binary: err %v (output %q), want an error naming it", err, out)
	}
}
