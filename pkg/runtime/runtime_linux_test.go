package runtime_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/runtime"
)

func waitStatus(t *testing.T, rt *runtime.Runtime, id string, want runtime.Status) *runtime.State {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := rt.State(id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s is %s, want %s", id, st.Status, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLifecycle(t *testing.T) {
	rt := newRuntime(t)
	bundle := testutil.Bundle(t, testSpec("sleep", "1000"))
	id := uniqueID(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	pid, err := rt.Create(id, &runtime.CreateOptions{Bundle: bundle, PidFile: pidFile})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Delete(id, true)
	b, err := os.ReadFile(pidFile)
	if err != nil || string(b) != strconv.Itoa(pid) {
		t.Fatalf("pid file %q (%v), want %d", b, err, pid)
	}
	st, err := rt.State(id)
	if err != nil || st.Status != runtime.Created || st.Pid != pid || st.Bundle != bundle {
		t.Fatalf("state after create: %+v, %v", st, err)
	}
	if _, err := rt.Create(id, &runtime.CreateOptions{Bundle: bundle}); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("second create: %v, want ErrAlreadyExists", err)
	}
	// The init is isolated: every namespace but user differs from ours.
	for _, ns := range []string{"pid", "mnt", "uts", "ipc", "net"} {
		a, _ := os.Readlink("/proc/self/ns/" + ns)
		b, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + ns)
		if a == b || b == "" {
			t.Errorf("namespace %s of the init is %q, ours %q", ns, b, a)
		}
	}
	if err := rt.Start(id); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, rt, id, runtime.Running)
	if err := rt.Start(id); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("second start: %v, want ErrConflict", err)
	}
	if err := rt.Delete(id, false); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("delete of a running container: %v, want ErrConflict", err)
	}
	list, err := rt.List()
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if err := rt.Kill(id, syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, rt, id, runtime.Stopped)
	if err := rt.Kill(id, syscall.SIGTERM, false); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("kill of a stopped container: %v", err)
	}
	if err := rt.Delete(id, false); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.State(id); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("state after delete: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(rt.Root(), id)); !os.IsNotExist(err) {
		t.Fatalf("state dir left behind: %v", err)
	}
}

func TestRunExitCodeAndIsolation(t *testing.T) {
	rt := newRuntime(t)
	for _, tc := range []struct {
		name   string
		args   []string
		mutate func(*specs.Spec)
		code   int
		want   []string
	}{
		{"exit code", []string{"sh", "-c", "exit 7"}, nil, 7, nil},
		{"killed by signal", []string{"sh", "-c", "kill -9 $$"}, func(s *specs.Spec) {
			// A pid namespace's init cannot SIGKILL itself: run without one.
			s.Linux.Namespaces = s.Linux.Namespaces[1:]
		}, 128 + 9, nil},
		{"pid 1 and hostname", []string{"sh", "-c", "echo pid=$$; hostname"}, func(s *specs.Spec) { s.Hostname = "boxy" }, 0, []string{"pid=1", "boxy"}},
		{"loopback up in a new network namespace", []string{"cat", "/sys/class/net/lo/flags"}, nil, 0, []string{"0x9"}},
		{"root is the rootfs", []string{"cat", "/etc/group"}, nil, 0, []string{"root:x:0:"}},
		{"env and cwd", []string{"sh", "-c", "echo $FOO; pwd"}, func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FOO=bar"); s.Process.Cwd = "/tmp" }, 0, []string{"bar", "/tmp"}},
		{"user and groups", []string{"id"}, func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}}
		}, 0, []string{"uid=1000", "gid=1000", "10", "20"}},
		{"rlimits", []string{"sh", "-c", "ulimit -n"}, func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 321, Hard: 400}}
		}, 0, []string{"321"}},
		{"capabilities", []string{"grep", "Cap", "/proc/self/status"}, func(s *specs.Spec) {
			c := []string{"CAP_KILL", "CAP_CHOWN"}
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: c, Effective: c, Permitted: c, Inheritable: c, Ambient: c}
		}, 0, []string{"CapInh:\t0000000000000021", "CapPrm:\t0000000000000021", "CapEff:\t0000000000000021", "CapBnd:\t0000000000000021", "CapAmb:\t0000000000000021"}},
		{"no new privileges", []string{"grep", "NoNewPrivs", "/proc/self/status"}, nil, 0, []string{"NoNewPrivs:\t1"}},
		{"oom score", []string{"cat", "/proc/self/oom_score_adj"}, func(s *specs.Spec) { v := 500; s.Process.OOMScoreAdj = &v }, 0, []string{"500"}},
		{"sysctl", []string{"cat", "/proc/sys/net/ipv4/ip_forward"}, func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"} }, 0, []string{"1"}},
		{"read-only root", []string{"sh", "-c", "touch /x 2>&1; echo done"}, func(s *specs.Spec) { s.Root = &specs.Root{Readonly: true} }, 0, []string{"Read-only file system"}},
		{"masked path", []string{"sh", "-c", "cat /proc/kcore | wc -c"}, nil, 0, []string{"0"}},
		{"devices", []string{"sh", "-c", "ls -l /dev/null /dev/zero /dev/ptmx /dev/fd"}, nil, 0, []string{"1,   3", "1,   5", "ptmx -> pts/ptmx", "fd -> /proc/self/fd"}},
		{"only stdio fds", []string{"ls", "/proc/self/fd"}, nil, 0, []string{"0\n1\n2\n3\n"}},
		{"bind mount", []string{"cat", "/mnt/hello"}, func(s *specs.Spec) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "hello"), []byte("from the host"), 0o644)
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: dir, Options: []string{"rbind", "ro"}})
		}, 0, []string{"from the host"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec(tc.args...)
			spec.Root.Readonly = false
			if tc.mutate != nil {
				tc.mutate(spec)
			}
			code, out, err := runOutput(t, rt, spec)
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit code %d, want %d (output %q)", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
		})
	}
}

func TestExecJoinsNamespaces(t *testing.T) {
	rt := newRuntime(t)
	bundle := testutil.Bundle(t, testSpec("sleep", "1000"))
	id := uniqueID(t)
	pid, err := rt.Create(id, &runtime.CreateOptions{Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Delete(id, true)
	if err := rt.Start(id); err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	p := &specs.Process{
		Args: []string{"sh", "-c", "for n in pid mnt net uts ipc; do readlink /proc/self/ns/$n; done; hostname; exit 5"},
		Cwd:  "/", Env: []string{"PATH=/bin"},
	}
	code, err := rt.Exec(id, &runtime.ExecOptions{Process: p, Stdout: w, Stderr: w})
	w.Close()
	out, _ := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if code != 5 {
		t.Errorf("exit code %d, want 5", code)
	}
	for _, ns := range []string{"pid", "mnt", "net", "uts", "ipc"} {
		want, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + ns)
		if !strings.Contains(out, want) {
			t.Errorf("exec'd process is not in the init's %s namespace %s: %q", ns, want, out)
		}
	}
	if !strings.Contains(out, "berth\n") {
		t.Errorf("hostname of exec'd process: %q", out)
	}
	ps, err := rt.Ps(id)
	if err != nil || len(ps) != 1 || ps[0] != pid {
		t.Errorf("ps after exec exited: %v, %v; want [%d]", ps, err, pid)
	}
}

func readAll(r *os.File) (string, error) {
	defer r.Close()
	b, err := io_ReadAll(r)
	return string(b), err
}

func TestBadInput(t *testing.T) {
	rt := newRuntime(t)
	for _, tc := range []struct {
		name   string
		mutate func(bundle string, s *specs.Spec)
		want   string
		kind   error
	}{
		{"malformed config", func(b string, s *specs.Spec) { os.WriteFile(filepath.Join(b, "config.json"), []byte("{nope"), 0o644) }, "not a valid OCI config", errdefs.ErrInvalidArgument},
		{"no config", func(b string, s *specs.Spec) { os.Remove(filepath.Join(b, "config.json")) }, "no config.json", errdefs.ErrNotFound},
		{"missing rootfs", func(b string, s *specs.Spec) { s.Root.Path = "nothere" }, "root.path", errdefs.ErrNotFound},
		{"unknown namespace", func(b string, s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `linux.namespaces[6].type "bogus"`, errdefs.ErrInvalidArgument},
		{"no args", func(b string, s *specs.Spec) { s.Process.Args = nil }, "process.args", errdefs.ErrInvalidArgument},
		{"relative cwd", func(b string, s *specs.Spec) { s.Process.Cwd = "tmp" }, "process.cwd", errdefs.ErrInvalidArgument},
		{"unknown rlimit", func(b string, s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}} }, "process.rlimits[0]", errdefs.ErrInvalidArgument},
		{"rlimit above host", func(b string, s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1 << 40, Hard: 1 << 40}}
		}, "process.rlimits RLIMIT_NOFILE", nil},
		{"unknown capability", func(b string, s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_FLY"} }, "CAP_FLY", errdefs.ErrInvalidArgument},
		{"bad mount option", func(b string, s *specs.Spec) { s.Mounts[0].Options = []string{"idmap"} }, "mounts[0]", errdefs.ErrInvalidArgument},
		{"missing bind source", func(b string, s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/nonexistent-berth", Options: []string{"bind"}})
		}, "mounts[7]", nil},
		{"missing binary", func(b string, s *specs.Spec) { s.Process.Args = []string{"/no/such/binary"} }, "process.args[0]", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec("true")
			bundle := testutil.Bundle(t, spec)
			tc.mutate(bundle, spec)
			if _, err := os.Stat(filepath.Join(bundle, "config.json")); err == nil && tc.name != "malformed config" {
				testutil.WriteSpec(t, bundle, spec)
			}
			before := mountinfo(t, bundle)
			id := uniqueID(t)
			_, err := rt.Create(id, &runtime.CreateOptions{Bundle: bundle})
			if err == nil {
				rt.Delete(id, true)
				t.Fatal("create succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %v", err, tc.kind)
			}
			if _, serr := os.Stat(filepath.Join(rt.Root(), id)); !os.IsNotExist(serr) {
				t.Errorf("state dir left behind after %v", err)
			}
			if after := mountinfo(t, bundle); after != before {
				t.Errorf("mounts changed:\nbefore %s\nafter %s", before, after)
			}
		})
	}
}

// mountinfo returns our mount table's lines that mention dir (other
// tests on the machine mount and unmount elsewhere concurrently).
func mountinfo(t *testing.T, dir string) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, dir) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
