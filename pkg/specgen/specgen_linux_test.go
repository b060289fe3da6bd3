package specgen

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func base() Options { return Options{Rootfs: fixture, Args: []string{"/bin/sh", "-c", "true"}} }

func with(f func(o *Options)) Options {
	o := base()
	f(&o)
	return o
}

func mountAt(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

func nsTypes(s *specs.Spec) map[specs.LinuxNamespaceType]string {
	out := map[specs.LinuxNamespaceType]string{}
	for _, n := range s.Linux.Namespaces {
		out[n.Type] = n.Path
	}
	return out
}

func rlimit(s *specs.Spec, typ string) *specs.POSIXRlimit {
	for i := range s.Process.Rlimits {
		if s.Process.Rlimits[i].Type == typ {
			return &s.Process.Rlimits[i]
		}
	}
	return nil
}

func TestNewDefaults(t *testing.T) {
	s, err := New(base())
	if err != nil {
		t.Fatal(err)
	}
	caps := s.Process.Capabilities
	if len(caps.Bounding) != 14 || !reflect.DeepEqual(caps.Bounding, caps.Permitted) || !reflect.DeepEqual(caps.Bounding, caps.Effective) {
		t.Errorf("capabilities: %+v", caps)
	}
	for _, c := range defaultCaps {
		if !slices.Contains(caps.Bounding, c) {
			t.Errorf("missing default capability %s", c)
		}
	}
	if len(caps.Inheritable) != 0 || len(caps.Ambient) != 0 {
		t.Errorf("inheritable %v, ambient %v: want empty", caps.Inheritable, caps.Ambient)
	}
	if got := nsTypes(s); !reflect.DeepEqual(got, map[specs.LinuxNamespaceType]string{
		specs.MountNamespace: "", specs.NetworkNamespace: "", specs.UTSNamespace: "", specs.PIDNamespace: "", specs.IPCNamespace: "",
	}) {
		t.Errorf("namespaces: %v", got)
	}
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/acpi", "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/interrupts"} {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			t.Errorf("%s not masked", p)
		}
	}
	throttles, _ := filepath.Glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle")
	for _, p := range throttles {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			t.Errorf("%s not masked", p)
		}
	}
	if !reflect.DeepEqual(s.Linux.ReadonlyPaths, []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
		t.Errorf("read-only paths: %v", s.Linux.ReadonlyPaths)
	}
	wantMounts := map[string]string{"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs", "/dev/mqueue": "mqueue", "/sys": "sysfs", "/sys/fs/cgroup": "cgroup"}
	for dest, typ := range wantMounts {
		m := mountAt(s, dest)
		if m == nil || m.Type != typ {
			t.Errorf("mount %s: %+v, want type %s", dest, m, typ)
		}
	}
	if pts := mountAt(s, "/dev/pts"); pts != nil {
		for _, o := range []string{"newinstance", "ptmxmode=0666", "gid=5"} {
			if !slices.Contains(pts.Options, o) {
				t.Errorf("/dev/pts lacks %s: %v", o, pts.Options)
			}
		}
	}
	for _, d := range []string{"/sys", "/sys/fs/cgroup"} {
		if m := mountAt(s, d); m == nil || !slices.Contains(m.Options, "ro") {
			t.Errorf("%s not read-only: %+v", d, m)
		}
	}
	if shm := mountAt(s, "/dev/shm"); shm == nil || !slices.Contains(shm.Options, "size=67108864") {
		t.Errorf("/dev/shm: %+v", shm)
	}
	dev := s.Linux.Resources.Devices
	if len(dev) == 0 || dev[0].Allow || dev[0].Access != "rwm" || dev[0].Type != "" {
		t.Errorf("device rules do not start with deny-all: %+v", dev)
	}
	for _, mm := range [][2]int64{{1, 3}, {1, 5}, {1, 8}, {1, 9}, {5, 0}, {5, 1}} {
		if !slices.ContainsFunc(dev, func(d specs.LinuxDeviceCgroup) bool {
			return d.Allow && d.Type == "c" && d.Major != nil && *d.Major == mm[0] && d.Minor != nil && *d.Minor == mm[1]
		}) {
			t.Errorf("char device %d:%d not allowed", mm[0], mm[1])
		}
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
		t.Fatalf("seccomp: %+v", s.Linux.Seccomp)
	}
	if slices.ContainsFunc(s.Linux.Seccomp.Syscalls, func(sc specs.LinuxSyscall) bool {
		return sc.Action == specs.ActAllow && len(sc.Args) == 0 && slices.Contains(sc.Names, "mount")
	}) {
		t.Errorf("default profile allows mount without CAP_SYS_ADMIN")
	}
	if _, err := seccomp.Compile(s.Linux.Seccomp); err != nil {
		t.Errorf("default profile does not compile: %v", err)
	}
	if s.Process.NoNewPrivileges {
		t.Errorf("no_new_privileges on by default")
	}
	if !slices.Contains(s.Process.Env, "PATH="+DefaultPath) || !slices.Contains(s.Process.Env, "HOME=/root") {
		t.Errorf("env: %v", s.Process.Env)
	}
	if s.Process.Cwd != "/" || s.Root.Path != fixture || s.Root.Readonly {
		t.Errorf("cwd %q root %+v", s.Process.Cwd, s.Root)
	}
	var hard unix.Rlimit
	must(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &hard))
	nofile := rlimit(s, "RLIMIT_NOFILE")
	if nofile == nil || nofile.Hard > hard.Max || nofile.Soft > nofile.Hard || nofile.Hard > defaultNofile {
		t.Errorf("RLIMIT_NOFILE %+v above the host's hard limit %d", nofile, hard.Max)
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
}

func TestNewOptions(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "deny-uname.json")
	must(t, os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["uname"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644))
	badProfile := filepath.Join(t.TempDir(), "bad.json")
	must(t, os.WriteFile(badProfile, []byte(`{"defaultAction":"SCMP_ACT_NOPE"}`), 0o644))
	initBin := filepath.Join(t.TempDir(), "tini")
	must(t, os.WriteFile(initBin, []byte("#!/bin/sh\n"), 0o755))

	tests := []struct {
		name  string
		opts  Options
		check func(t *testing.T, s *specs.Spec)
	}{
		{"privileged", with(func(o *Options) { o.Privileged = true }), func(t *testing.T, s *specs.Spec) {
			if !reflect.DeepEqual(s.Process.Capabilities.Bounding, availableCaps()) || len(availableCaps()) < 38 {
				t.Errorf("capabilities %v, want every available one %v", s.Process.Capabilities.Bounding, availableCaps())
			}
			if s.Linux.Seccomp != nil || len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
				t.Errorf("privileged keeps confinement: seccomp %v masked %v ro %v", s.Linux.Seccomp != nil, s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
			}
			if d := s.Linux.Resources.Devices; len(d) == 0 || !d[0].Allow || d[0].Access != "rwm" || d[0].Type != "" {
				t.Errorf("devices: %+v", d)
			}
			if !slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool {
				return d.Path == "/dev/null" && d.Type == "c" && d.Major == 1 && d.Minor == 3
			}) {
				t.Errorf("host /dev/null not passed: %d devices", len(s.Linux.Devices))
			}
			if m := mountAt(s, "/sys"); slices.Contains(m.Options, "ro") {
				t.Errorf("/sys read-only when privileged")
			}
		}},
		{"cap add and drop", with(func(o *Options) {
			o.CapAdd = []string{"net_admin", "CAP_SYS_PTRACE"}
			o.CapDrop = []string{"MKNOD", "cap_kill"}
		}), func(t *testing.T, s *specs.Spec) {
			c := s.Process.Capabilities.Bounding
			if !slices.Contains(c, "CAP_NET_ADMIN") || !slices.Contains(c, "CAP_SYS_PTRACE") || slices.Contains(c, "CAP_MKNOD") || slices.Contains(c, "CAP_KILL") || len(c) != 14 {
				t.Errorf("caps %v", c)
			}
		}},
		{"drop all add one", with(func(o *Options) { o.CapDrop = []string{"ALL"}; o.CapAdd = []string{"chown"} }), func(t *testing.T, s *specs.Spec) {
			if c := s.Process.Capabilities.Bounding; !reflect.DeepEqual(c, []string{"CAP_CHOWN"}) {
				t.Errorf("caps %v", c)
			}
		}},
		{"add all drop one", with(func(o *Options) { o.CapAdd = []string{"all"}; o.CapDrop = []string{"SYS_ADMIN"} }), func(t *testing.T, s *specs.Spec) {
			c := s.Process.Capabilities.Bounding
			if len(c) != len(availableCaps())-1 || slices.Contains(c, "CAP_SYS_ADMIN") {
				t.Errorf("caps %v", c)
			}
		}},
		{"CAP_SYS_ADMIN renders the profile for it", with(func(o *Options) { o.CapAdd = []string{"SYS_ADMIN"} }), func(t *testing.T, s *specs.Spec) {
			if !slices.ContainsFunc(s.Linux.Seccomp.Syscalls, func(sc specs.LinuxSyscall) bool {
				return sc.Action == specs.ActAllow && slices.Contains(sc.Names, "mount")
			}) {
				t.Errorf("profile does not allow mount with CAP_SYS_ADMIN")
			}
		}},
		{"unconfined", with(func(o *Options) { o.Seccomp = SeccompUnconfined }), func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp != nil {
				t.Errorf("seccomp set")
			}
		}},
		{"profile file", with(func(o *Options) { o.Seccomp = profile }), func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow || len(s.Linux.Seccomp.Syscalls) != 1 {
				t.Errorf("seccomp %+v", s.Linux.Seccomp)
			}
		}},
		{"user, env, cwd, terminal, hostname", with(func(o *Options) {
			o.User = "app:video"
			o.GroupAdd = []string{"tty"}
			o.Env = []string{"A=1", "PATH=/bin", "A=2", "EMPTY="}
			o.Cwd = "/work/../srv/"
			o.Terminal = true
			o.Hostname = "box"
			o.NoNewPrivileges = true
			o.ReadonlyRootfs = true
		}), func(t *testing.T, s *specs.Spec) {
			p := s.Process
			if p.User.UID != 1000 || p.User.GID != 44 || !reflect.DeepEqual(p.User.AdditionalGids, []uint32{29, 44, 5}) {
				t.Errorf("user %+v", p.User)
			}
			if want := []string{"A=2", "PATH=/bin", "EMPTY=", "HOSTNAME=box", "TERM=xterm", "HOME=/home/app"}; !reflect.DeepEqual(p.Env, want) {
				t.Errorf("env %v, want %v", p.Env, want)
			}
			if p.Cwd != "/srv" || !p.Terminal || !p.NoNewPrivileges || s.Hostname != "box" || !s.Root.Readonly {
				t.Errorf("process %+v hostname %q root %+v", p, s.Hostname, s.Root)
			}
		}},
		{"namespaces", with(func(o *Options) { o.NetNS = "/run/netns/x"; o.PIDNS = NSHost; o.IPCNS = NSHost }), func(t *testing.T, s *specs.Spec) {
			want := map[specs.LinuxNamespaceType]string{specs.MountNamespace: "", specs.NetworkNamespace: "/run/netns/x", specs.UTSNamespace: ""}
			if got := nsTypes(s); !reflect.DeepEqual(got, want) {
				t.Errorf("namespaces %v, want %v", got, want)
			}
		}},
		{"mounts, tmpfs and shm", with(func(o *Options) {
			o.Mounts = []specs.Mount{
				{Destination: "/data/sub", Type: "bind", Source: "/tmp/b", Options: []string{"rbind", "ro"}},
				{Destination: "/data", Type: "bind", Source: "/tmp/a", Options: []string{"rbind"}},
				{Destination: "/dev/mqueue/", Type: "bind", Source: "/tmp/q", Options: []string{"bind"}},
			}
			o.Tmpfs = map[string]string{"/run": "size=10m,mode=1777", "/scratch": "exec"}
			o.ShmSize = 1 << 20
		}), func(t *testing.T, s *specs.Spec) {
			idx := func(d string) int {
				return slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == d })
			}
			if idx("/data") < 0 || idx("/data") > idx("/data/sub") {
				t.Errorf("/data must come before /data/sub: %v", s.Mounts)
			}
			if m := mountAt(s, "/dev/mqueue"); m == nil || m.Type != "bind" {
				t.Errorf("user mount does not replace the default /dev/mqueue: %+v", m)
			}
			if run := mountAt(s, "/run"); run == nil || !reflect.DeepEqual(run.Options, []string{"noexec", "nosuid", "nodev", "size=10m", "mode=1777"}) {
				t.Errorf("/run: %+v", run)
			}
			if sc := mountAt(s, "/scratch"); sc == nil || slices.Contains(sc.Options, "noexec") {
				t.Errorf("/scratch: %+v", sc)
			}
			if shm := mountAt(s, "/dev/shm"); !slices.Contains(shm.Options, "size=1048576") {
				t.Errorf("/dev/shm: %+v", shm)
			}
		}},
		{"ulimits, sysctls, resources, annotations", with(func(o *Options) {
			o.Ulimits = []specs.POSIXRlimit{{Type: "nproc", Soft: 100, Hard: 200}, {Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024}}
			o.Sysctls = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"}
			limit := int64(1 << 30)
			o.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
			o.Annotations = map[string]string{"a": "b"}
			o.CgroupsPath = "/berth/x"
		}), func(t *testing.T, s *specs.Spec) {
			if r := rlimit(s, "RLIMIT_NPROC"); r == nil || r.Soft != 100 || r.Hard != 200 {
				t.Errorf("nproc %+v", r)
			}
			if r := rlimit(s, "RLIMIT_NOFILE"); r == nil || r.Soft != 512 || r.Hard != 1024 || len(s.Process.Rlimits) != 2 {
				t.Errorf("rlimits %+v", s.Process.Rlimits)
			}
			if s.Linux.Sysctl["net.ipv4.ip_forward"] != "1" || s.Linux.Sysctl["kernel.shmmax"] != "1000" {
				t.Errorf("sysctl %v", s.Linux.Sysctl)
			}
			if *s.Linux.Resources.Memory.Limit != 1<<30 || s.Linux.Resources.Devices[0].Allow {
				t.Errorf("resources %+v", s.Linux.Resources)
			}
			if s.Annotations["a"] != "b" || s.Linux.CgroupsPath != "/berth/x" {
				t.Errorf("annotations %v cgroups %q", s.Annotations, s.Linux.CgroupsPath)
			}
		}},
		{"init", with(func(o *Options) { o.Init = true; o.InitPath = initBin }), func(t *testing.T, s *specs.Spec) {
			if !reflect.DeepEqual(s.Process.Args[:3], []string{initDest, "--", "/bin/sh"}) {
				t.Errorf("args %v", s.Process.Args)
			}
			if m := mountAt(s, initDest); m == nil || m.Source != initBin || !slices.Contains(m.Options, "ro") {
				t.Errorf("init mount %+v", m)
			}
		}},
		{"options are not aliased", with(func(o *Options) { o.Resources = &specs.LinuxResources{} }), func(t *testing.T, s *specs.Spec) {
			if len(s.Linux.Resources.Devices) == 0 {
				t.Errorf("no device rules")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.opts.Resources
			s, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res != nil && len(res.Devices) != 0 {
				t.Errorf("New changed the caller's Resources")
			}
			tt.check(t, s)
		})
	}
}

func TestNewRejects(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	must(t, os.WriteFile(bad, []byte(`{"defaultAction":"SCMP_ACT_NOPE"}`), 0o644))
	tests := []struct {
		name string
		opts Options
		want error
		says string // the bad value, named in the message
	}{
		{"no args", with(func(o *Options) { o.Args = nil }), errdefs.ErrInvalidArgument, "command"},
		{"relative cwd", with(func(o *Options) { o.Cwd = "srv" }), errdefs.ErrInvalidArgument, `"srv"`},
		{"unknown capability", with(func(o *Options) { o.CapAdd = []string{"CAP_FLY"} }), errdefs.ErrInvalidArgument, "CAP_FLY"},
		{"unknown capability dropped", with(func(o *Options) { o.CapDrop = []string{"teleport"} }), errdefs.ErrInvalidArgument, "teleport"},
		{"bad env", with(func(o *Options) { o.Env = []string{"NOVALUE"} }), errdefs.ErrInvalidArgument, "NOVALUE"},
		{"unknown user", with(func(o *Options) { o.User = "ghost" }), errdefs.ErrInvalidArgument, "ghost"},
		{"unknown ulimit", with(func(o *Options) { o.Ulimits = []specs.POSIXRlimit{{Type: "RLIMIT_FUN", Soft: 1, Hard: 1}} }), errdefs.ErrInvalidArgument, "RLIMIT_FUN"},
		{"soft above hard", with(func(o *Options) { o.Ulimits = []specs.POSIXRlimit{{Type: "nofile", Soft: 10, Hard: 5}} }), errdefs.ErrInvalidArgument, "RLIMIT_NOFILE"},
		{"nofile above nr_open", with(func(o *Options) {
			o.Ulimits = []specs.POSIXRlimit{{Type: "nofile", Soft: 1 << 40, Hard: 1 << 40}}
		}), errdefs.ErrInvalidArgument, "nr_open"},
		{"bad tmpfs option", with(func(o *Options) { o.Tmpfs = map[string]string{"/t": "size=big"} }), errdefs.ErrInvalidArgument, "size=big"},
		{"unknown tmpfs option", with(func(o *Options) { o.Tmpfs = map[string]string{"/t": "turbo"} }), errdefs.ErrInvalidArgument, "turbo"},
		{"relative tmpfs", with(func(o *Options) { o.Tmpfs = map[string]string{"t": ""} }), errdefs.ErrInvalidArgument, `"t"`},
		{"mount over root", with(func(o *Options) { o.Mounts = []specs.Mount{{Destination: "/", Type: "bind", Source: "/"}} }), errdefs.ErrInvalidArgument, `"/"`},
		{"mount with ..", with(func(o *Options) { o.Mounts = []specs.Mount{{Destination: "/a/../../b", Type: "bind", Source: "/"}} }), errdefs.ErrInvalidArgument, ".."},
		{"two mounts one place", with(func(o *Options) {
			o.Mounts = []specs.Mount{{Destination: "/a", Type: "bind", Source: "/x"}}
			o.Tmpfs = map[string]string{"/a/": ""}
		}), errdefs.ErrInvalidArgument, "/a"},
		{"host sysctl", with(func(o *Options) { o.Sysctls = map[string]string{"vm.swappiness": "1"} }), errdefs.ErrInvalidArgument, "vm.swappiness"},
		{"net sysctl on host network", with(func(o *Options) { o.NetNS = NSHost; o.Sysctls = map[string]string{"net.core.somaxconn": "1"} }), errdefs.ErrInvalidArgument, "net.core.somaxconn"},
		{"relative netns", with(func(o *Options) { o.NetNS = "netns/x" }), errdefs.ErrInvalidArgument, "netns/x"},
		{"hostname with host uts", with(func(o *Options) { o.UTSNS = NSHost; o.Hostname = "h" }), errdefs.ErrInvalidArgument, `"h"`},
		{"bad seccomp profile", with(func(o *Options) { o.Seccomp = bad }), errdefs.ErrInvalidArgument, "SCMP_ACT_NOPE"},
		{"missing seccomp profile", with(func(o *Options) { o.Seccomp = "/nonexistent.json" }), os.ErrNotExist, "nonexistent"},
		{"init not a file", with(func(o *Options) { o.Init = true; o.InitPath = "/" }), errdefs.ErrInvalidArgument, "/"},
		{"negative shm", with(func(o *Options) { o.ShmSize = -1 }), errdefs.ErrInvalidArgument, "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %q does not name %q", err, tt.says)
			}
		})
	}
}

// TestNewClampsUlimits: a hard limit above the host's is kept only when this
// process could raise it (CAP_SYS_RESOURCE); otherwise it is clamped.
func TestNewClampsUlimits(t *testing.T) {
	var host unix.Rlimit
	must(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &host))
	want := host.Max + 1
	if want > 1<<20 {
		t.Skipf("host hard limit %d is already high", host.Max)
	}
	s, err := New(with(func(o *Options) { o.Ulimits = []specs.POSIXRlimit{{Type: "nofile", Soft: want, Hard: want}} }))
	if err != nil {
		t.Fatal(err)
	}
	got := rlimit(s, "RLIMIT_NOFILE")
	if canRaiseRlimits() {
		if got.Hard != want || got.Soft != want {
			t.Fatalf("with CAP_SYS_RESOURCE: %+v, want %d kept", got, want)
		}
	} else if got.Hard != host.Max || got.Soft != host.Max {
		t.Fatalf("without CAP_SYS_RESOURCE: %+v, want clamped to %d", got, host.Max)
	}
}

// TestNewUnavailableCapability: a capability berth itself lacks cannot be
// given to a container; the error says so at creation.
func TestNewUnavailableCapability(t *testing.T) {
	var missing string
	for _, c := range capNames {
		if !slices.Contains(availableCaps(), c) {
			missing = c
			break
		}
	}
	if missing == "" {
		t.Skip("every capability is in this process's bounding set")
	}
	_, err := New(with(func(o *Options) { o.CapAdd = []string{missing} }))
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("adding %s: %v", missing, err)
	}
}

func TestParseUlimit(t *testing.T) {
	tests := []struct {
		in   string
		want specs.POSIXRlimit
		ok   bool
	}{
		{"nofile=1024:2048", specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048}, true},
		{"nproc=64", specs.POSIXRlimit{Type: "RLIMIT_NPROC", Soft: 64, Hard: 64}, true},
		{"RLIMIT_CORE=-1", specs.POSIXRlimit{Type: "RLIMIT_CORE", Soft: unix.RLIM_INFINITY, Hard: unix.RLIM_INFINITY}, true},
		{"core=0:unlimited", specs.POSIXRlimit{Type: "RLIMIT_CORE", Soft: 0, Hard: unix.RLIM_INFINITY}, true},
		{"nofile", specs.POSIXRlimit{}, false},
		{"nofile=lots", specs.POSIXRlimit{}, false},
		{"nofile=10:5", specs.POSIXRlimit{}, false},
		{"speed=1", specs.POSIXRlimit{}, false},
	}
	for _, tt := range tests {
		got, err := ParseUlimit(tt.in)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, errdefs.ErrInvalidArgument)) {
			t.Errorf("%q: err %v", tt.in, err)
			continue
		}
		if tt.ok && got != tt.want {
			t.Errorf("%q: got %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(base()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDefaultSeccompCompiles checks that the default profile compiles for
// the capability sets that change it (New no longer compiles it: the
// runtime does, at start).
func TestDefaultSeccompCompiles(t *testing.T) {
	for _, caps := range [][]string{nil, {"SYS_ADMIN"}, {"ALL"}, {"SYS_PTRACE", "SYS_MODULE", "SYS_TIME", "SYS_BOOT", "SYSLOG", "SYS_NICE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PACCT", "SYS_TTY_CONFIG", "BPF", "PERFMON"}} {
		o := base()
		o.CapAdd = caps
		s, err := New(o)
		if err != nil {
			t.Fatalf("New with --cap-add %v: %v", caps, err)
		}
		if s.Linux.Seccomp == nil {
			t.Fatalf("--cap-add %v: no seccomp profile", caps)
		}
		if _, err := seccomp.Compile(s.Linux.Seccomp); err != nil {
			t.Errorf("default profile with --cap-add %v does not compile: %v", caps, err)
		}
	}
}
