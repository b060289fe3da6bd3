package runtime_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/runtime"
	"github.com/berth/berth/pkg/specgen"
)

// forEachInit runs fn with the C init (the default for the specs the
// tests use) and again with the Go init forced.
func forEachInit(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	for _, kind := range []string{"c", "go"} {
		t.Run(kind+"-init", func(t *testing.T) {
			if kind == "go" {
				t.Setenv(runtime.EnvGoInit, "1")
			} else {
				t.Setenv(runtime.EnvGoInit, "")
			}
			fn(t)
		})
	}
}

// The common specs — runc's default and what the engine generates for
// `berth run` (docker's defaults: seccomp profile, /etc bind mounts,
// sysctls, limits) — are set up by the C init, and BERTH_GO_INIT=1 forces
// the Go init. The init says which it is when it is ready, and create
// fails if that is not the one it started, so a silent fall-back cannot
// pass for the C path.
func TestCInitTaken(t *testing.T) {
	rt := newRuntime(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	oom := 100
	engine, err := specgen.New(specgen.Options{
		Args: []string{"sh", "-c", "grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status; cat /etc/hosts; " +
			"hostname; id; ulimit -n; cat /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj; pwd"},
		Rootfs:      testutil.BusyboxRootfs(t),
		Hostname:    "cinit",
		User:        "1:1",
		GroupAdd:    []string{"10"},
		Cwd:         "/tmp",
		Mounts:      []specs.Mount{{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind", "rprivate", "ro"}}},
		Sysctls:     map[string]string{"net.ipv4.ip_forward": "1"},
		Ulimits:     []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 512}},
		OOMScoreAdj: &oom,
	})
	if err != nil {
		t.Fatal(err)
	}
	engine.Linux.Resources = nil
	engine.Linux.CgroupsPath = ""
	userns := testSpec("sh", "-c", "cat /proc/self/uid_map")
	userns.Linux.Namespaces = append(userns.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	userns.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	userns.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	for _, tc := range []struct {
		name string
		spec *specs.Spec
		want []string
	}{
		{"runc default", testSpec("sh", "-c", "grep NoNewPrivs /proc/self/status"), []string{"NoNewPrivs:\t1"}},
		{"engine", engine, []string{"Seccomp:\t2", "NoNewPrivs:\t0", "CapEff:\t0000000000000000", "127.0.0.1 localhost",
			"cinit", "uid=1(daemon) gid=1(daemon) groups=10", "512", "1\n100", "/tmp"}},
		{"user namespace", userns, []string{"200000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachInit(t, func(t *testing.T) {
				want := "c"
				if os.Getenv(runtime.EnvGoInit) != "" {
					want = "go"
				}
				bundle := testutil.Bundle(t, tc.spec)
				// A user namespace's root (host uid 200000) must reach the rootfs.
				for d := bundle; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
					os.Chmod(d, 0o755)
				}
				id := uniqueID(t)
				if _, err := rt.Create(id, &runtime.CreateOptions{Bundle: bundle}); err != nil {
					t.Fatal(err)
				}
				got, err := runtime.InitOf(rt, id)
				rt.Delete(id, true)
				if err != nil || got != want {
					t.Fatalf("init %q (%v), want %q", got, err, want)
				}
				code, out, err := runBundle(t, rt, uniqueID(t), bundle)
				if err != nil || code != 0 {
					t.Fatalf("run: %d %v %q", code, err, out)
				}
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("output %q lacks %q", out, w)
					}
				}
			})
		})
	}
}

// Specs the C init does not take go to the Go init.
func TestCInitFallback(t *testing.T) {
	rt := newRuntime(t)
	big := testSpec("true")
	for i := 0; i < 20000; i++ {
		big.Process.Env = append(big.Process.Env, "X"+strconv.Itoa(i)+"=1")
	}
	for name, spec := range map[string]*specs.Spec{"20000 env entries": big} {
		t.Run(name, func(t *testing.T) {
			id := uniqueID(t)
			if _, err := rt.Create(id, &runtime.CreateOptions{Bundle: testutil.Bundle(t, spec)}); err != nil {
				t.Fatal(err)
			}
			defer rt.Delete(id, true)
			if got, err := runtime.InitOf(rt, id); err != nil || got != "go" {
				t.Fatalf("init %q (%v), want go", got, err)
			}
		})
	}
}

// A /proc that is not a procfs is never written through: with masked or
// read-only paths to set up, create fails.
func TestEscapeProcNotProcfs(t *testing.T) {
	forEachInit(t, func(t *testing.T) {
		rt := newRuntime(t)
		spec := testSpec("true")
		for i, m := range spec.Mounts {
			if m.Destination == "/proc" {
				spec.Mounts[i] = specs.Mount{Destination: "/proc", Type: "tmpfs", Source: "tmpfs"}
			}
		}
		spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		_, err := rt.Create(uniqueID(t), &runtime.CreateOptions{Bundle: testutil.Bundle(t, spec)})
		if err == nil || !strings.Contains(err.Error(), "not a procfs") {
			t.Fatalf("create: %v, want a refusal of the fake /proc", err)
		}
	})
}

// A masked file is covered with the container's /dev/null only when that
// is the null device: a regular file there would unmask, not mask.
func TestEscapeDevNullNotNullDevice(t *testing.T) {
	forEachInit(t, func(t *testing.T) {
		rt := newRuntime(t)
		dev := t.TempDir()
		if err := os.WriteFile(filepath.Join(dev, "null"), []byte("secret"), 0o644); err != nil {
			t.Fatal(err)
		}
		spec := testSpec("true")
		var mounts []specs.Mount
		for _, m := range spec.Mounts {
			if !strings.HasPrefix(m.Destination, "/dev") {
				mounts = append(mounts, m)
			}
		}
		spec.Mounts = append(mounts, specs.Mount{Destination: "/dev", Type: "bind", Source: dev, Options: []string{"rbind"}})
		spec.Linux.MaskedPaths = []string{"/etc/passwd"}
		_, err := rt.Create(uniqueID(t), &runtime.CreateOptions{Bundle: testutil.Bundle(t, spec)})
		if err == nil || !strings.Contains(err.Error(), "not the null device") {
			t.Fatalf("create: %v, want a refusal of the fake /dev/null", err)
		}
	})
}

// Both inits word their errors alike: callers match them (podman maps "no
// such file or directory" from create to exit status 127).
func TestInitErrorWording(t *testing.T) {
	forEachInit(t, func(t *testing.T) {
		rt := newRuntime(t)
		for _, tc := range []struct{ arg, want string }{
			{"/no/such/binary", `process.args[0] "/no/such/binary": no such file or directory`},
			{"no-such-binary", `process.args[0] "no-such-binary": executable file not found in $PATH`},
		} {
			_, err := rt.Create(uniqueID(t), &runtime.CreateOptions{Bundle: testutil.Bundle(t, testSpec(tc.arg))})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("create: %v, want %q", err, tc.want)
			}
		}
	})
}

// A hook that runs in the container and fails, or outlives its timeout,
// fails create with its output, worded alike by both inits.
func TestInContainerHookFails(t *testing.T) {
	forEachInit(t, func(t *testing.T) {
		rt := newRuntime(t)
		one := 1
		for _, tc := range []struct {
			hook specs.Hook
			want string
		}{
			{specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat >/dev/null; echo boom >&2; exit 3"}},
				"hooks.createContainer[0] (/bin/sh): exit status 3: boom"},
			{specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "exec sleep 30"}, Timeout: &one},
				"hooks.createContainer[0] (/bin/sh): timed out after 1s"},
			{specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "kill -9 $$"}},
				"hooks.createContainer[0] (/bin/sh): signal: killed"},
		} {
			spec := testSpec("true")
			spec.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{tc.hook}}
			id := uniqueID(t)
			_, err := rt.Create(id, &runtime.CreateOptions{Bundle: testutil.Bundle(t, spec)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("create: %v, want %q", err, tc.want)
			}
			if _, serr := os.Stat(filepath.Join(rt.Root(), id)); !os.IsNotExist(serr) {
				t.Errorf("state dir left behind")
			}
		}
	})
}

// A container may join a mount namespace by path (one made by unshare(1)
// here): the cgroup binds are planned from the init's own mount table.
func TestJoinedMountNamespace(t *testing.T) {
	unshare := testutil.RequireCommand(t, "unshare")
	forEachInit(t, func(t *testing.T) {
		rt := newRuntime(t)
		holder := exec.Command(unshare, "-m", "--propagation", "private", "sleep", "1000")
		if err := holder.Start(); err != nil {
			t.Fatal(err)
		}
		defer holder.Wait()
		defer holder.Process.Kill()
		ns := "/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/mnt"
		// unshare has made the namespace and set its propagation once it
		// has become sleep.
		deadline := time.Now().Add(10 * time.Second)
		comm := "/proc/" + strconv.Itoa(holder.Process.Pid) + "/comm"
		for {
			a, _ := os.Readlink(ns)
			b, _ := os.Readlink("/proc/self/ns/mnt")
			c, _ := os.ReadFile(comm)
			if a != "" && a != b && strings.TrimSpace(string(c)) == "sleep" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("unshare made no mount namespace")
			}
			time.Sleep(10 * time.Millisecond)
		}
		spec := testSpec("sh", "-c", "ls /sys/fs/cgroup | head -3")
		for i, n := range spec.Linux.Namespaces {
			if n.Type == specs.MountNamespace {
				spec.Linux.Namespaces[i].Path = ns
			}
		}
		code, out, err := runOutput(t, rt, spec)
		if err != nil || code != 0 || strings.TrimSpace(out) == "" {
			t.Fatalf("run: %d %v %q", code, err, out)
		}
	})
}
