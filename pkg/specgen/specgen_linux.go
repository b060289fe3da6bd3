package specgen

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/seccomp"
	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// initDest is where Options.Init mounts the init binary (docker's path).
const initDest = "/sbin/docker-init"

// New builds the runtime spec for o: docker's defaults, then o's changes.
func New(o Options) (*specs.Spec, error) {
	if len(o.Args) == 0 || o.Args[0] == "" {
		return nil, fmt.Errorf("no command to run: %w", errdefs.ErrInvalidArgument)
	}
	cwd := o.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, fmt.Errorf("working directory %q is not absolute: %w", o.Cwd, errdefs.ErrInvalidArgument)
	}
	caps, err := capabilities(o.Privileged, o.CapAdd, o.CapDrop)
	if err != nil {
		return nil, err
	}
	who, err := resolveUser(o.Rootfs, o.User, o.GroupAdd)
	if err != nil {
		return nil, err
	}
	env, err := buildEnv(o, who.home)
	if err != nil {
		return nil, err
	}
	rlimits, err := processRlimits(o.Ulimits)
	if err != nil {
		return nil, err
	}

	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: o.Rootfs, Readonly: o.ReadonlyRootfs},
		Process: &specs.Process{
			Terminal: o.Terminal,
			User:     who.user,
			Args:     slices.Clone(o.Args),
			Env:      env,
			Cwd:      path.Clean(cwd),
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Permitted: slices.Clone(caps),
				Effective: slices.Clone(caps),
			},
			Rlimits:         rlimits,
			NoNewPrivileges: o.NoNewPrivileges,
			OOMScoreAdj:     o.OOMScoreAdj,
		},
		Hostname:    o.Hostname,
		Annotations: maps.Clone(o.Annotations),
		Linux: &specs.Linux{
			CgroupsPath: o.CgroupsPath,
			Resources:   &specs.LinuxResources{},
		},
	}
	if o.Resources != nil {
		r := *o.Resources
		r.Devices = slices.Clone(r.Devices)
		s.Linux.Resources = &r
	}

	if s.Linux.Namespaces, err = namespaces(o); err != nil {
		return nil, err
	}
	if s.Mounts, err = mounts(o); err != nil {
		return nil, err
	}
	if o.Init {
		initPath, err := findInit(o.InitPath)
		if err != nil {
			return nil, err
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: initDest, Type: "bind", Source: initPath,
			Options: []string{"bind", "ro", "nosuid", "nodev"}})
		s.Process.Args = append([]string{initDest, "--"}, s.Process.Args...)
	}

	if o.Privileged {
		s.Linux.Resources.Devices = append([]specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}, s.Linux.Resources.Devices...)
		s.Linux.Devices = hostDevices()
	} else {
		s.Linux.MaskedPaths = maskedPaths()
		s.Linux.ReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
		s.Linux.Resources.Devices = append(defaultDeviceRules(), s.Linux.Resources.Devices...)
	}

	for k, v := range o.Sysctls {
		if err := validateSysctl(k, &o); err != nil {
			return nil, err
		}
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		s.Linux.Sysctl[k] = v
	}

	if s.Linux.Seccomp, err = seccompProfile(o, s); err != nil {
		return nil, err
	}
	return s, nil
}

// buildEnv validates o.Env and adds PATH, HOME, HOSTNAME and (with a
// terminal) TERM when absent. A later KEY wins over an earlier one.
func buildEnv(o Options, home string) ([]string, error) {
	var keys []string
	vals := map[string]string{}
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = kv
	}
	setDefault := func(k, v string) {
		if _, ok := vals[k]; !ok {
			set(k + "=" + v)
		}
	}
	for _, kv := range o.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsRune(kv, 0) {
			return nil, fmt.Errorf("environment entry %q: want KEY=VALUE: %w", kv, errdefs.ErrInvalidArgument)
		}
		set(kv)
	}
	setDefault("PATH", DefaultPath)
	if o.Hostname != "" {
		setDefault("HOSTNAME", o.Hostname)
	}
	if o.Terminal {
		setDefault("TERM", "xterm")
	}
	setDefault("HOME", home)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, vals[k])
	}
	return out, nil
}

// namespaces returns docker's set: mount, network, uts, pid, ipc, each new
// unless o shares the host's or joins one by path.
func namespaces(o Options) ([]specs.LinuxNamespace, error) {
	out := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	for _, n := range []struct {
		typ  specs.LinuxNamespaceType
		flag string
		v    string
	}{
		{specs.NetworkNamespace, "network", o.NetNS},
		{specs.UTSNamespace, "uts", o.UTSNS},
		{specs.PIDNamespace, "pid", o.PIDNS},
		{specs.IPCNamespace, "ipc", o.IPCNS},
	} {
		switch {
		case n.v == "":
			out = append(out, specs.LinuxNamespace{Type: n.typ})
		case n.v == NSHost:
		case path.IsAbs(n.v):
			out = append(out, specs.LinuxNamespace{Type: n.typ, Path: filepath.Clean(n.v)})
		default:
			return nil, fmt.Errorf("%s namespace %q: want \"\", %q or an absolute path: %w", n.flag, n.v, NSHost, errdefs.ErrInvalidArgument)
		}
	}
	if o.UTSNS == NSHost && o.Hostname != "" {
		return nil, fmt.Errorf("hostname %q cannot be set when sharing the host's UTS namespace: %w", o.Hostname, errdefs.ErrInvalidArgument)
	}
	return out, nil
}

// mounts returns the default mounts merged with o's mounts and tmpfs.
func mounts(o Options) ([]specs.Mount, error) {
	if o.ShmSize < 0 {
		return nil, fmt.Errorf("shm size %d is negative: %w", o.ShmSize, errdefs.ErrInvalidArgument)
	}
	var user []specs.Mount
	seen := map[string]bool{}
	add := func(m specs.Mount) error {
		d := path.Clean(m.Destination)
		if seen[d] {
			return fmt.Errorf("two mounts on %s: %w", d, errdefs.ErrInvalidArgument)
		}
		seen[d] = true
		m.Destination = d
		user = append(user, m)
		return nil
	}
	for _, m := range o.Mounts {
		if err := checkDestination(m.Destination); err != nil {
			return nil, fmt.Errorf("mount: %w", err)
		}
		if m.Type == "" && !slices.Contains(m.Options, "bind") && !slices.Contains(m.Options, "rbind") {
			return nil, fmt.Errorf("mount on %s: no type and not a bind mount: %w", m.Destination, errdefs.ErrInvalidArgument)
		}
		m.Options = slices.Clone(m.Options)
		if err := add(m); err != nil {
			return nil, err
		}
	}
	for _, dest := range slices.Sorted(maps.Keys(o.Tmpfs)) {
		m, err := ParseTmpfs(dest, o.Tmpfs[dest])
		if err != nil {
			return nil, err
		}
		if err := add(m); err != nil {
			return nil, err
		}
	}
	return mergeMounts(defaultMounts(o.Privileged, o.ShmSize), user), nil
}

// maskedPaths are docker's, plus each CPU's thermal_throttle directory the
// host has (GHSA-6fw5-f8r9-fgfm).
var maskedPaths = sync.OnceValue(func() []string {
	out := []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore",
		"/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	found, _ := filepath.Glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle")
	slices.SortFunc(found, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b) // cpu2 before cpu10
		}
		return strings.Compare(a, b)
	})
	return append(out, found...)
})

// findInit returns the host path of the init binary to bind-mount.
func findInit(p string) (string, error) {
	if p == "" {
		for _, name := range []string{"docker-init", "tini-static"} {
			if found, err := exec.LookPath(name); err == nil {
				p = found
				break
			}
		}
		if p == "" {
			return "", fmt.Errorf("--init: no docker-init or tini-static on the host (install Debian's tini): %w", errdefs.ErrNotFound)
		}
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("--init: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("--init: %s is not a regular file: %w", p, errdefs.ErrInvalidArgument)
	}
	return p, nil
}

// seccompProfile renders the profile o asks for against the spec's final
// capabilities and checks that it compiles, so a bad profile fails here
// rather than when the container starts.
func seccompProfile(o Options, s *specs.Spec) (*specs.LinuxSeccomp, error) {
	var (
		p   *specs.LinuxSeccomp
		err error
	)
	switch {
	case o.Privileged || o.Seccomp == SeccompUnconfined:
		// docker ignores a profile for privileged containers
		return nil, nil
	case o.Seccomp == SeccompDefault:
		p, err = profiles.GetDefaultProfile(s)
	default:
		data, rerr := os.ReadFile(o.Seccomp)
		if rerr != nil {
			return nil, fmt.Errorf("seccomp profile: %w", rerr)
		}
		p, err = profiles.LoadProfile(string(data), s)
	}
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %q: %w: %w", o.Seccomp, err, errdefs.ErrInvalidArgument)
	}
	if p == nil {
		return nil, nil
	}
	// A profile from a file is compiled here so that a bad one fails at
	// create with a clear error. The default profile is berth's own (tests
	// compile it for every capability set: TestDefaultSeccompCompiles) and
	// the runtime compiles it at start anyway: compiling it here too cost
	// every run as much CPU as the runtime's compile.
	if o.Seccomp != SeccompDefault {
		if _, err := seccomp.Compile(p); err != nil {
			return nil, fmt.Errorf("seccomp profile %q: %w", o.Seccomp, err)
		}
	}
	return p, nil
}
