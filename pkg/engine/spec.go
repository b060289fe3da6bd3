package engine

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// defaultPath is the PATH a container gets when neither image nor user set one.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// dockerCaps is docker's default capability set.
var dockerCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

// specInput is what the spec needs beyond the container record.
type specInput struct {
	c       *Container
	rootfs  string
	etcDir  string // holds hosts, hostname, resolv.conf
	mounts  []specs.Mount
	netns   string // path of a network namespace to join; "" for a new one
	hostNet bool
}

// buildSpec turns a container record into an OCI runtime spec.
func buildSpec(in specInput) (*specs.Spec, error) {
	c := in.c
	args := append(append([]string{}, c.Path), c.Args...)
	env := mergeEnv([]string{"PATH=" + defaultPath}, c.Config.Env)
	env = mergeEnv(env, []string{"HOSTNAME=" + c.Config.Hostname})
	if c.Config.Tty {
		env = mergeEnv(env, []string{"TERM=xterm"})
	}
	user, err := resolveUser(in.rootfs, c.Config.User)
	if err != nil {
		return nil, err
	}
	cwd := c.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	caps, err := capabilities(c.HostConfig)
	if err != nil {
		return nil, err
	}
	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: in.rootfs, Readonly: c.HostConfig.ReadonlyRootfs},
		Process: &specs.Process{
			Terminal: c.Config.Tty,
			User:     user,
			Args:     args,
			Env:      env,
			Cwd:      cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
		},
		Hostname: c.Config.Hostname,
		Mounts:   baseMounts(c.HostConfig.Privileged),
		Linux: &specs.Linux{
			CgroupsPath: "/berth/" + c.ID,
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			Resources: &specs.LinuxResources{},
		},
	}
	if !in.hostNet {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: in.netns})
	}
	if !c.HostConfig.Privileged {
		s.Linux.MaskedPaths = []string{"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
			"/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
			"/sys/devices/virtual/powercap", "/sys/firmware"}
		s.Linux.ReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
		for _, d := range []struct {
			t            string
			major, minor int64
		}{{"c", 1, 3}, {"c", 1, 5}, {"c", 1, 7}, {"c", 1, 8}, {"c", 1, 9}, {"c", 5, 0}, {"c", 5, 1}, {"c", 5, 2}, {"c", 136, -1}, {"c", 10, 200}} {
			maj, min := d.major, d.minor
			dc := specs.LinuxDeviceCgroup{Allow: true, Type: d.t, Major: &maj, Access: "rwm"}
			if min >= 0 {
				dc.Minor = &min
			}
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, dc)
		}
	} else {
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	for _, opt := range c.HostConfig.SecurityOpt {
		switch {
		case opt == "no-new-privileges" || opt == "no-new-privileges:true" || opt == "no-new-privileges=true":
			s.Process.NoNewPrivileges = true
		case opt == "seccomp=unconfined" || opt == "seccomp:unconfined":
			// berth applies no seccomp filter unless given a profile file.
		case strings.HasPrefix(opt, "seccomp="):
			return nil, fmt.Errorf("--security-opt %s: seccomp profile files are not supported yet: %w", opt, errdefs.ErrNotImplemented)
		default:
			return nil, fmt.Errorf("invalid --security-opt %q: %w", opt, errdefs.ErrInvalidArgument)
		}
	}
	// /etc files the engine generates for each container, then the user's
	// mounts, parents before children (a volume on /etc must not hide /etc/hosts).
	var extra []specs.Mount
	for _, name := range []string{"hosts", "hostname", "resolv.conf"} {
		if hasMount(in.mounts, "/etc/"+name) {
			continue
		}
		extra = append(extra, specs.Mount{Destination: "/etc/" + name, Type: "bind",
			Source: filepath.Join(in.etcDir, name), Options: []string{"rbind", "rprivate"}})
	}
	extra = append(extra, in.mounts...)
	sort.SliceStable(extra, func(i, j int) bool {
		return strings.Count(filepath.Clean(extra[i].Destination), "/") < strings.Count(filepath.Clean(extra[j].Destination), "/")
	})
	s.Mounts = append(s.Mounts, extra...)
	if err := applyResources(s, c.HostConfig); err != nil {
		return nil, err
	}
	rl, err := rlimits(c.HostConfig.Ulimits)
	if err != nil {
		return nil, err
	}
	s.Process.Rlimits = rl
	return s, nil
}

func hasMount(ms []specs.Mount, dst string) bool {
	for _, m := range ms {
		if filepath.Clean(m.Destination) == dst {
			return true
		}
	}
	return false
}

func baseMounts(privileged bool) []specs.Mount {
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	if privileged {
		sysOpts = []string{"nosuid", "noexec", "nodev"}
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev", "relatime"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
	}
}

// capabilities applies --privileged, --cap-add and --cap-drop to docker's defaults.
func capabilities(hc HostConfig) ([]string, error) {
	set := map[string]bool{}
	if hc.Privileged {
		for i := 0; i <= unix.CAP_LAST_CAP; i++ {
			if n, ok := capNames[i]; ok {
				set[n] = true
			}
		}
	} else {
		for _, c := range dockerCaps {
			set[c] = true
		}
	}
	norm := func(c string) (string, error) {
		c = strings.ToUpper(c)
		if c == "ALL" {
			return c, nil
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		for _, n := range capNames {
			if n == c {
				return c, nil
			}
		}
		return "", fmt.Errorf("unknown capability %q: %w", c, errdefs.ErrInvalidArgument)
	}
	for _, d := range hc.CapDrop {
		n, err := norm(d)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			set = map[string]bool{}
		} else {
			delete(set, n)
		}
	}
	for _, a := range hc.CapAdd {
		n, err := norm(a)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			for _, c := range capNames {
				set[c] = true
			}
		} else {
			set[n] = true
		}
	}
	out := []string{}
	for i := 0; i <= 63; i++ {
		if n, ok := capNames[i]; ok && set[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

var capNames = map[int]string{0: "CAP_CHOWN", 1: "CAP_DAC_OVERRIDE", 2: "CAP_DAC_READ_SEARCH", 3: "CAP_FOWNER", 4: "CAP_FSETID",
	5: "CAP_KILL", 6: "CAP_SETGID", 7: "CAP_SETUID", 8: "CAP_SETPCAP", 9: "CAP_LINUX_IMMUTABLE", 10: "CAP_NET_BIND_SERVICE",
	11: "CAP_NET_BROADCAST", 12: "CAP_NET_ADMIN", 13: "CAP_NET_RAW", 14: "CAP_IPC_LOCK", 15: "CAP_IPC_OWNER", 16: "CAP_SYS_MODULE",
	17: "CAP_SYS_RAWIO", 18: "CAP_SYS_CHROOT", 19: "CAP_SYS_PTRACE", 20: "CAP_SYS_PACCT", 21: "CAP_SYS_ADMIN", 22: "CAP_SYS_BOOT",
	23: "CAP_SYS_NICE", 24: "CAP_SYS_RESOURCE", 25: "CAP_SYS_TIME", 26: "CAP_SYS_TTY_CONFIG", 27: "CAP_MKNOD", 28: "CAP_LEASE",
	29: "CAP_AUDIT_WRITE", 30: "CAP_AUDIT_CONTROL", 31: "CAP_SETFCAP", 32: "CAP_MAC_OVERRIDE", 33: "CAP_MAC_ADMIN",
	34: "CAP_SYSLOG", 35: "CAP_WAKE_ALARM", 36: "CAP_BLOCK_SUSPEND", 37: "CAP_AUDIT_READ", 38: "CAP_PERFMON", 39: "CAP_BPF",
	40: "CAP_CHECKPOINT_RESTORE"}

func applyResources(s *specs.Spec, hc HostConfig) error {
	r := s.Linux.Resources
	if hc.Memory > 0 || hc.MemorySwap != 0 {
		if hc.MemorySwap > 0 && hc.Memory > 0 && hc.MemorySwap < hc.Memory {
			return fmt.Errorf("minimum memoryswap limit should be larger than memory limit, see usage: %w", errdefs.ErrInvalidArgument)
		}
		if hc.MemorySwap != 0 && hc.Memory == 0 {
			return fmt.Errorf("you should always set the memory limit when using memoryswap limit, see usage: %w", errdefs.ErrInvalidArgument)
		}
		m := &specs.LinuxMemory{}
		if hc.Memory > 0 {
			lim := hc.Memory
			m.Limit = &lim
			swap := hc.MemorySwap
			if swap == 0 {
				swap = 2 * hc.Memory // docker: swap equal to memory unless told
			}
			m.Swap = &swap
		}
		r.Memory = m
	}
	if hc.NanoCpus > 0 || hc.CpuShares > 0 || hc.CpusetCpus != "" {
		cpu := &specs.LinuxCPU{}
		if hc.NanoCpus > 0 {
			period := uint64(100000)
			quota := hc.NanoCpus * int64(period) / 1e9
			cpu.Period, cpu.Quota = &period, &quota
		}
		if hc.CpuShares > 0 {
			sh := uint64(hc.CpuShares)
			cpu.Shares = &sh
		}
		cpu.Cpus = hc.CpusetCpus
		r.CPU = cpu
	}
	if hc.PidsLimit > 0 {
		lim := hc.PidsLimit
		r.Pids = &specs.LinuxPids{Limit: &lim}
	}
	return nil
}

var rlimitNames = map[string]int{"core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA, "fsize": unix.RLIMIT_FSIZE,
	"locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK, "msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE,
	"nofile": unix.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK, "as": unix.RLIMIT_AS}

// rlimits turns --ulimit into spec rlimits, clamped to what this host allows
// so that the runtime never fails setrlimit (podman's failure here).
func rlimits(us []Ulimit) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	for _, u := range us {
		res, ok := rlimitNames[u.Name]
		if !ok {
			return nil, fmt.Errorf("invalid ulimit type: %s: %w", u.Name, errdefs.ErrInvalidArgument)
		}
		soft, hard := uint64(u.Soft), uint64(u.Hard)
		if u.Soft < 0 {
			soft = unix.RLIM_INFINITY
		}
		if u.Hard < 0 {
			hard = unix.RLIM_INFINITY
		}
		var host unix.Rlimit
		if unix.Getrlimit(res, &host) == nil && res == unix.RLIMIT_NOFILE {
			// Raising nofile above the host's nr_open fails even for root.
			if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
				if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
					hard, soft = min(hard, n), min(soft, n)
				}
			}
		}
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Soft: soft, Hard: hard})
	}
	return out, nil
}

// mergeEnv overlays later K=V entries on earlier ones, keeping order.
func mergeEnv(base, over []string) []string {
	out := append([]string{}, base...)
	idx := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
		} else {
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// resolveUser turns "name|uid[:group|gid]" into ids using the rootfs's
// /etc/passwd and /etc/group.
func resolveUser(rootfs, u string) (specs.User, error) {
	if u == "" {
		return specs.User{}, nil
	}
	name, group, hasGroup := strings.Cut(u, ":")
	var user specs.User
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		user.UID = uint32(id)
		if ent := lookupFile(rootfs, "etc/passwd", name, 2); ent != nil {
			if gid, err := strconv.ParseUint(ent[3], 10, 32); err == nil {
				user.GID = uint32(gid)
			}
		}
	} else {
		ent := lookupFile(rootfs, "etc/passwd", name, 0)
		if ent == nil {
			return user, fmt.Errorf("unable to find user %s: no matching entries in passwd file: %w", name, errdefs.ErrInvalidArgument)
		}
		uid, _ := strconv.ParseUint(ent[2], 10, 32)
		gid, _ := strconv.ParseUint(ent[3], 10, 32)
		user.UID, user.GID = uint32(uid), uint32(gid)
	}
	if hasGroup {
		if id, err := strconv.ParseUint(group, 10, 32); err == nil {
			user.GID = uint32(id)
		} else {
			ent := lookupFile(rootfs, "etc/group", group, 0)
			if ent == nil {
				return user, fmt.Errorf("unable to find group %s: no matching entries in group file: %w", group, errdefs.ErrInvalidArgument)
			}
			gid, _ := strconv.ParseUint(ent[2], 10, 32)
			user.GID = uint32(gid)
		}
	}
	return user, nil
}

// lookupFile finds the colon-separated entry whose field idx equals key in
// the file rel inside rootfs (opened confined to rootfs: the image is hostile).
func lookupFile(rootfs, rel, key string, idx int) []string {
	f, err := os.OpenInRoot(rootfs, rel)
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 4 && fields[idx] == key {
			return fields
		}
	}
	return nil
}
