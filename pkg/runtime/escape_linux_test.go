package runtime_test

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/runtime"
)

// Each test here mounts a known runtime escape and shows it fails.

func allCaps() *specs.LinuxCapabilities {
	c := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"}
	return &specs.LinuxCapabilities{Bounding: c, Effective: c, Permitted: c}
}

// CVE-2019-5736: a process in the container opens /proc/PID/exe of the
// runtime's process (here the waiting init, pid 1) and overwrites the
// runtime binary through it. The init runs from a read-only bind mount of
// the binary (or a sealed memfd), so nothing behind that link can be written.
func TestEscapeProcSelfExe(t *testing.T) { forEachInit(t, testEscapeProcSelfExe) }

func testEscapeProcSelfExe(t *testing.T) {
	rt := newRuntime(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(self)
	spec := testSpec("true")
	spec.Root.Readonly = false
	spec.Process.Capabilities = allCaps()
	spec.Process.NoNewPrivileges = false
	bundle := testutil.Bundle(t, spec)
	id := uniqueID(t)
	pid, err := rt.Create(id, &runtime.CreateOptions{Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Delete(id, true)
	link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil || link == self || !(strings.HasPrefix(link, "/memfd:") || strings.HasPrefix(link, "/run/berth/exe/")) {
		t.Errorf("the init runs %q (%v), want a sealed memfd or the read-only copy", link, err)
	}
	// From the host side, even root cannot write through the link.
	if f, err := os.OpenFile("/proc/"+strconv.Itoa(pid)+"/exe", os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Errorf("opened the init's executable for writing")
	}
	// From inside: a privileged exec'd process tries to overwrite it.
	r, w, _ := os.Pipe()
	attack := &specs.Process{
		Args: []string{"sh", "-c", "ls -l /proc/1/exe; echo '#!/bin/sh' > /proc/1/exe && echo OVERWRITTEN; " +
			"exec 5<>/proc/1/exe && echo OPENED-RW"},
		Cwd: "/", Env: []string{"PATH=/bin"}, Capabilities: allCaps(),
	}
	if _, err := rt.Exec(id, &runtime.ExecOptions{Process: attack, Stdout: w, Stderr: w}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	out, _ := readAll(r)
	if strings.Contains(out, "OVERWRITTEN") || strings.Contains(out, "OPENED-RW") {
		t.Errorf("the container wrote to the runtime's executable: %q", out)
	}
	if strings.Contains(out, self) {
		t.Errorf("in the container /proc/1/exe is the host binary: %q", out)
	}
	after, _ := os.ReadFile(self)
	if sha256.Sum256(before) != sha256.Sum256(after) {
		t.Fatal("the runtime binary on the host changed")
	}
}

// CVE-2024-21626: a runtime fd leaked into the init plus process.cwd
// /proc/self/fd/N gave the container a working directory on the host.
// Every fd is close-on-exec and the cwd is checked after chdir.
func TestEscapeLeakedFdCwd(t *testing.T) { forEachInit(t, testEscapeLeakedFdCwd) }

func testEscapeLeakedFdCwd(t *testing.T) {
	rt := newRuntime(t)
	for n := 3; n <= 12; n++ {
		t.Run("fd"+strconv.Itoa(n), func(t *testing.T) {
			spec := testSpec("sh", "-c", "pwd -P; ls /proc/self/fd")
			spec.Process.Cwd = "/proc/self/fd/" + strconv.Itoa(n)
			code, out, err := runOutput(t, rt, spec)
			if err != nil {
				// Refused: the fd is not there or led outside the root.
				return
			}
			first := strings.SplitN(out, "\n", 2)[0]
			if code == 0 && !strings.HasPrefix(first, "/") || strings.Contains(out, "unreachable") {
				t.Fatalf("container started outside its root: cwd %q", first)
			}
			if fds := strings.Fields(out[len(first):]); len(fds) > 4 {
				t.Errorf("fds leaked into the container: %v", fds)
			}
		})
	}
}

// CVE-2021-30465: a mount destination that is (or is swapped to) a
// symlink climbing out of the rootfs. Destinations resolve inside the root
// (openat2 RESOLVE_IN_ROOT) and mounts go through the resolved fd, so the
// mount lands inside the root, never on the host path.
func TestEscapeMountTargetSymlink(t *testing.T) { forEachInit(t, testEscapeMountTargetSymlink) }

func testEscapeMountTargetSymlink(t *testing.T) {
	rt := newRuntime(t)
	hostDir := t.TempDir()
	os.WriteFile(filepath.Join(hostDir, "host-marker"), []byte("host"), 0o644)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "from-source"), []byte("volume"), 0o644)
	spec := testSpec("sh", "-c", "ls /mnt/")
	spec.Root.Readonly = false
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: []string{"rbind"}})
	bundle := testutil.Bundle(t, spec)
	rootfs := filepath.Join(bundle, "rootfs")
	os.RemoveAll(filepath.Join(rootfs, "mnt"))
	up := strings.Repeat("../", 20)
	if err := os.Symlink(up+strings.TrimPrefix(hostDir, "/"), filepath.Join(rootfs, "mnt")); err != nil {
		t.Fatal(err)
	}
	code, out, err := runBundle(t, rt, uniqueID(t), bundle)
	if err != nil || code != 0 {
		t.Fatalf("run: %d %v %q", code, err, out)
	}
	if !strings.Contains(out, "from-source") || strings.Contains(out, "host-marker") {
		t.Errorf("the mount did not land inside the root: /mnt shows %q", out)
	}
	// What the symlink named on the host is untouched; the mount point
	// was made inside the rootfs instead.
	ents, _ := os.ReadDir(hostDir)
	if len(ents) != 1 {
		t.Errorf("host directory changed: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(rootfs, hostDir)); err != nil {
		t.Errorf("mount point not created inside the root: %v", err)
	}
}

// An image whose /dev is a symlink to a host path: the device nodes and
// /dev symlinks must be created inside the root, never on the host.
func TestEscapeDevSymlink(t *testing.T) { forEachInit(t, testEscapeDevSymlink) }

func testEscapeDevSymlink(t *testing.T) {
	rt := newRuntime(t)
	hostDir := t.TempDir()
	spec := testSpec("sh", "-c", "ls /dev")
	spec.Root.Readonly = false
	// No tmpfs on /dev: the runtime writes device nodes into the image's /dev itself.
	var mounts []specs.Mount
	for _, m := range spec.Mounts {
		if !strings.HasPrefix(m.Destination, "/dev") {
			mounts = append(mounts, m)
		}
	}
	spec.Mounts = mounts
	bundle := testutil.Bundle(t, spec)
	rootfs := filepath.Join(bundle, "rootfs")
	os.RemoveAll(filepath.Join(rootfs, "dev"))
	if err := os.Symlink(hostDir, filepath.Join(rootfs, "dev")); err != nil {
		t.Fatal(err)
	}
	runBundle(t, rt, uniqueID(t), bundle)
	if ents, _ := os.ReadDir(hostDir); len(ents) != 0 {
		t.Fatalf("the runtime created %d entries in the host directory the image's /dev points to", len(ents))
	}
}

// An image whose /proc is a symlink: procfs must never be mounted through
// it (CVE-2019-19921 family). The runtime refuses, naming the mount.
func TestEscapeProcSymlink(t *testing.T) { forEachInit(t, testEscapeProcSymlink) }

func testEscapeProcSymlink(t *testing.T) {
	rt := newRuntime(t)
	hostDir := t.TempDir()
	spec := testSpec("true")
	bundle := testutil.Bundle(t, spec)
	rootfs := filepath.Join(bundle, "rootfs")
	os.RemoveAll(filepath.Join(rootfs, "proc"))
	if err := os.Symlink(hostDir, filepath.Join(rootfs, "proc")); err != nil {
		t.Fatal(err)
	}
	before := mountinfo(t, hostDir)
	id := uniqueID(t)
	_, err := rt.Create(id, &runtime.CreateOptions{Bundle: bundle})
	if err == nil {
		rt.Delete(id, true)
		t.Fatal("create mounted procfs through a symlink")
	}
	if !strings.Contains(err.Error(), "mounts[0]") {
		t.Errorf("error %q does not name the mount", err)
	}
	if after := mountinfo(t, hostDir); before != after || after != "" {
		t.Error("host mounts changed")
	}
}
