package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/berth/berth/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The kernel tests load filters only in a child: the test binary re-runs
// itself with childEnv set, installs the profile found in profileEnv, runs
// the probes and prints their results as JSON. A filter can never be removed,
// so the test process itself must stay unfiltered.
const (
	childEnv   = "BERTH_SECCOMP_TEST_CHILD"
	profileEnv = "BERTH_SECCOMP_TEST_PROFILE"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// probes are the system calls a child tries after loading its filter. Each
// returns the errno it got ("" for success).
var probes = map[string]func() error{
	"getpid": func() error { _ = unix.Getpid(); return nil },
	"open": func() error {
		f, err := os.Open("/proc/self/status")
		if err == nil {
			f.Close()
		}
		return err
	},
	"exec": func() error {
		// A whole new program runs under the filter: fork, execve, wait.
		return exec.Command("/bin/sh", "-c", "exit 0").Run()
	},
	// Blocked by docker's profile without CAP_SYS_ADMIN; as root without a
	// filter it succeeds (only this short-lived thread changes namespace).
	"unshare": func() error { return unix.Unshare(unix.CLONE_NEWUTS) },
	"keyctl": func() error {
		_, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
		return err
	},
	// personality: docker allows only a few personas; 0xffffffff only queries.
	"personality-query": func() error { return personality(0xffffffff) },
	"personality-bad":   func() error { return personality(0x0400000) }, // READ_IMPLIES_EXEC
	// clone3 with a zero size is always EINVAL, unless a filter answers first.
	"clone3": func() error {
		_, _, e := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
		return errnoErr(e)
	},
	"getcwd": func() error { _, err := unix.Getwd(); return err },
	"uname": func() error {
		var u unix.Utsname
		return unix.Uname(&u)
	},
	"getppid": func() error { _ = unix.Getppid(); return nil },
	// fchmodat on a missing path: ENOENT unless a filter answers first.
	"fchmodat-masked": func() error { return unix.Fchmodat(unix.AT_FDCWD, "/nonexistent/berth", 0o644, 0) },
	"fchmodat-plain":  func() error { return unix.Fchmodat(unix.AT_FDCWD, "/nonexistent/berth", 0o600, 0) },
}

func dropSysAdmin() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[0].Effective &^= 1 << unix.CAP_SYS_ADMIN
	return unix.Capset(&hdr, &data[0])
}

func personality(p uintptr) error {
	_, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, p, 0, 0)
	return errnoErr(e)
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// child is the re-executed test binary: mode "nnp" sets no_new_privs,
// "admin" relies on CAP_SYS_ADMIN, "none" loads nothing (the control).
func child(mode string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "seccomp test child:", err)
		return 3
	}
	if mode != "none" {
		data, err := os.ReadFile(os.Getenv(profileEnv))
		if err != nil {
			return fail(err)
		}
		var p specs.LinuxSeccomp
		if err := json.Unmarshal(data, &p); err != nil {
			return fail(err)
		}
		switch mode {
		case "nnp":
			if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
				return fail(err)
			}
		case "nocap":
			// Neither no_new_privs nor CAP_SYS_ADMIN: the kernel must refuse.
			// Credentials are per thread, so stay on this one.
			runtime.LockOSThread()
			if err := dropSysAdmin(); err != nil {
				return fail(err)
			}
		}
		if err := Install(&p); err != nil {
			return fail(err)
		}
	}
	results := map[string]string{}
	for name, probe := range probes {
		results[name] = ""
		if err := probe(); err != nil {
			var errno unix.Errno
			if errors.As(err, &errno) {
				results[name] = unix.ErrnoName(errno)
			} else {
				results[name] = err.Error()
			}
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		return fail(err)
	}
	return 0
}

// runChild re-executes the test binary with profile p loaded and returns the
// probes' results.
func runChild(t *testing.T, mode string, p *specs.LinuxSeccomp) map[string]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "profile.json")
	if p != nil {
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, profileEnv+"="+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child (%s): %v\nstderr: %s", mode, err, stderr.String())
	}
	results := map[string]string{}
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		t.Fatalf("child output %q: %v", stdout.String(), err)
	}
	return results
}

// requireSeccomp skips kernel tests in unit-only runs and on kernels
// without seccomp filters. Loading works without root (no_new_privs), but
// these are kernel tests, so they follow the root tier.
func requireSeccomp(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	if !Supported() {
		t.Skip("the kernel cannot load seccomp filters")
	}
}

// expect compares the probes named in want with what the child saw.
func expect(t *testing.T, got, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %q, want %q", name, got[name], w)
		}
	}
}

func TestInstallDockerDefault(t *testing.T) {
	requireSeccomp(t)

	// The control proves each probe can succeed (or fails otherwise) here.
	control := runChild(t, "none", nil)
	expect(t, control, map[string]string{
		"getpid": "", "open": "", "exec": "", "unshare": "", "personality-query": "",
		"personality-bad": "", "clone3": "EINVAL", "getcwd": "", "uname": "",
	})
	if control["keyctl"] == "EPERM" {
		t.Fatalf("keyctl already fails with EPERM without a filter")
	}

	want := map[string]string{
		"getpid": "", "open": "", "exec": "", "getcwd": "", "uname": "",
		"personality-query": "",
		"unshare":           "EPERM",
		"keyctl":            "EPERM",
		"personality-bad":   "EPERM",
		"clone3":            "ENOSYS",
	}
	p := dockerProfile(t, dockerCaps)
	t.Run("no_new_privs", func(t *testing.T) { expect(t, runChild(t, "nnp", p), want) })
	t.Run("CAP_SYS_ADMIN", func(t *testing.T) { expect(t, runChild(t, "admin", p), want) })
}

func TestInstallDenyOne(t *testing.T) {
	requireSeccomp(t)
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"uname"}, Action: specs.ActErrno,
			ErrnoRet: uintp(uint(unix.EHOSTDOWN))}},
	}
	got := runChild(t, "nnp", p)
	expect(t, got, map[string]string{"uname": "EHOSTDOWN", "getpid": "", "getcwd": "", "open": "", "exec": "", "getppid": ""})
}

func TestInstallArgFilter(t *testing.T) {
	requireSeccomp(t)
	// fchmodat(dirfd, path, mode, flags): refuse mode 0644 only.
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"fchmodat"}, Action: specs.ActErrno,
			ErrnoRet: uintp(uint(unix.ENOTSUP)),
			Args:     []specs.LinuxSeccompArg{{Index: 2, Value: 0o644, Op: specs.OpEqualTo}}}},
	}
	got := runChild(t, "nnp", p)
	expect(t, got, map[string]string{"fchmodat-masked": "ENOTSUP", "fchmodat-plain": "ENOENT"})
}

func TestInstallWithoutPrivilegeFails(t *testing.T) {
	requireSeccomp(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	path := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(path, []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), childEnv+"=nocap", profileEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("no_new_privs")) {
		t.Fatalf("loading without no_new_privs: err %v, output %s", err, out)
	}
}

func TestInstallFlags(t *testing.T) {
	requireSeccomp(t)
	flags := Features().SupportedFlags
	if len(flags) == 0 {
		t.Skip("the kernel supports no optional filter flag")
	}
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"uname"}, Action: specs.ActLog}, {Names: []string{"getcwd"}, Action: specs.ActErrno}}}
	for _, f := range flags {
		p.Flags = append(p.Flags, specs.LinuxSeccompFlag(f))
	}
	expect(t, runChild(t, "nnp", p), map[string]string{"uname": "", "getcwd": "EPERM", "getpid": ""})
}
