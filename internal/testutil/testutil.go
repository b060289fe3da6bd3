// Package testutil holds what berth's test tiers share: skipping root-only
// tests with a reason, the offline busybox rootfs, and the built binary.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// InCI reports whether the tests run in CI, where a missing prerequisite is a
// failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") != "" }

// RequireRoot skips t unless it runs as root: the test needs privileges or
// kernel features (namespaces, mounts, cgroups) that only root has.
// BERTH_UNIT_ONLY=1 skips it too, for a quick unit-only run.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Getenv("BERTH_UNIT_ONLY") != "" {
		t.Skip("BERTH_UNIT_ONLY is set: skipping a root/kernel test")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (namespaces, mounts, cgroups); run `sudo make test`")
	}
}

// RequireCommand skips t (fails it in CI) when name is not on PATH.
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name+" is not installed; `make deps` installs it")
	}
	return p
}

func missing(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatal(why)
	}
	t.Skip(why)
}

// RepoRoot returns the top of the berth source tree.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var rootfsOnce struct {
	sync.Once
	path string
	err  error
}

// RootfsTar returns the path of the busybox rootfs tarball that
// scripts/mkrootfs.sh makes (BERTH_ROOTFS_TAR, or bin/busybox-rootfs.tar,
// built on first use).
func RootfsTar(t testing.TB) string {
	t.Helper()
	rootfsOnce.Do(func() {
		if p := os.Getenv("BERTH_ROOTFS_TAR"); p != "" {
			rootfsOnce.path = p
			return
		}
		p := filepath.Join(RepoRoot(), "bin", "busybox-rootfs.tar")
		if _, err := os.Stat(p); err == nil {
			rootfsOnce.path = p
			return
		}
		out, err := exec.Command(filepath.Join(RepoRoot(), "scripts", "mkrootfs.sh"), p).CombinedOutput()
		if err != nil {
			rootfsOnce.err = &buildError{"mkrootfs.sh", err, out}
			return
		}
		rootfsOnce.path = p
	})
	if rootfsOnce.err != nil {
		missing(t, rootfsOnce.err.Error())
	}
	return rootfsOnce.path
}

// BusyboxRootfs unpacks a fresh copy of the busybox rootfs into a temporary
// directory that is removed when t ends, and returns its path.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	tarball := RootfsTar(t)
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-C", dir, "-xf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v: %s", tarball, err, out)
	}
	return dir
}

var binOnce struct {
	sync.Once
	path string
	err  error
}

// BerthBinary returns the path of a berth binary for end-to-end tests:
// BERTH_BIN when set (make test sets it), otherwise one built from this tree
// once per test process. The lean berth-runtime binary (cmd/berth-runtime)
// sits beside it.
func BerthBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("BERTH_BIN"); p != "" {
			binOnce.path = p
			return
		}
		dir, err := os.MkdirTemp("", "berth-bin-")
		if err != nil {
			binOnce.err = err
			return
		}
		p := filepath.Join(dir, "berth")
		cmd := exec.Command("go", "build", "-o", p, "./cmd/berth")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binOnce.err = &buildError{"go build", err, out}
			return
		}
		cmd = exec.Command("go", "build", "-o", filepath.Join(dir, "berth-runtime"), "./cmd/berth-runtime")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binOnce.err = &buildError{"go build berth-runtime", err, out}
			return
		}
		cmd = exec.Command("go", "build", "-o", filepath.Join(dir, "berth-monitor"), "./cmd/berth-monitor")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as the Makefile builds it
		if out, err := cmd.CombinedOutput(); err != nil {
			binOnce.err = &buildError{"go build berth-monitor", err, out}
			return
		}
		binOnce.path = p
	})
	if binOnce.err != nil {
		t.Fatalf("building berth: %v", binOnce.err)
	}
	return binOnce.path
}

type buildError struct {
	what string
	err  error
	out  []byte
}

func (e *buildError) Error() string { return e.what + ": " + e.err.Error() + ": " + string(e.out) }
