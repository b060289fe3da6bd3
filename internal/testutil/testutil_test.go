package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The offline base image is usable: a shell and the common tools run
// chrooted into it.
func TestBusyboxRootfsRuns(t *testing.T) {
	RequireRoot(t)
	dir := BusyboxRootfs(t)
	for _, p := range []string{"bin/sh", "bin/ls", "usr/bin/wc", "etc/passwd"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err != nil {
			t.Errorf("rootfs lacks %s: %v", p, err)
		}
	}
	out, err := exec.Command("chroot", dir, "/bin/sh", "-c", "echo hello | wc -c; id -un").CombinedOutput()
	if err != nil {
		t.Fatalf("chroot sh: %v: %s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) != 2 || got[0] != "6" || got[1] != "root" {
		t.Fatalf("chroot sh printed %q, want 6 and root", out)
	}
}
