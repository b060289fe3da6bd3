package engine

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/specgen"
)

// specInput is what the spec needs beyond the container record.
type specInput struct {
	c       *Container
	rootfs  string
	etcDir  string // holds hosts, hostname, resolv.conf
	mounts  []specs.Mount
	netns   string // path of a network namespace to join; "" for a new one
	hostNet bool
}

// buildSpec turns a container record into an OCI runtime spec: pkg/specgen
// gives docker's defaults; the engine adds what is particular to the
// container (its command, mounts, network namespace and limits).
func buildSpec(in specInput) (*specs.Spec, error) {
	c := in.c
	o := specgen.Options{
		Args:           append([]string{c.Path}, c.Args...),
		Env:            c.Config.Env,
		Cwd:            c.Config.WorkingDir,
		User:           c.Config.User,
		Hostname:       c.Config.Hostname,
		Rootfs:         in.rootfs,
		ReadonlyRootfs: c.HostConfig.ReadonlyRootfs,
		Terminal:       c.Config.Tty,
		Privileged:     c.HostConfig.Privileged,
		CapAdd:         c.HostConfig.CapAdd,
		CapDrop:        c.HostConfig.CapDrop,
		NetNS:          in.netns,
		CgroupsPath:    "/berth/" + c.ID,
		Init:           c.HostConfig.Init,
	}
	if in.hostNet {
		o.NetNS = specgen.NSHost
	}
	for _, opt := range c.HostConfig.SecurityOpt {
		k, v, _ := strings.Cut(strings.Replace(opt, ":", "=", 1), "=")
		switch {
		case k == "no-new-privileges" && (v == "" || v == "true"):
			o.NoNewPrivileges = true
		case k == "no-new-privileges" && v == "false":
		case k == "seccomp" && v == "unconfined":
			o.Seccomp = specgen.SeccompUnconfined
		case k == "seccomp" && v != "":
			o.Seccomp = v
		default:
			return nil, fmt.Errorf("invalid --security-opt %q: want no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json: %w", opt, errdefs.ErrInvalidArgument)
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
	o.Mounts = extra
	o.Resources = &specs.LinuxResources{}
	if err := applyResources(o.Resources, c.HostConfig); err != nil {
		return nil, err
	}
	rl, err := rlimits(c.HostConfig.Ulimits)
	if err != nil {
		return nil, err
	}
	o.Ulimits = rl
	return specgen.New(o)
}

func hasMount(ms []specs.Mount, dst string) bool {
	for _, m := range ms {
		if filepath.Clean(m.Destination) == dst {
			return true
		}
	}
	return false
}

// checkCapabilities validates --cap-add and --cap-drop.
func checkCapabilities(hc HostConfig) error {
	for _, c := range append(append([]string{}, hc.CapAdd...), hc.CapDrop...) {
		if strings.EqualFold(c, "ALL") {
			continue
		}
		if _, err := specgen.NormalizeCapability(c); err != nil {
			return err
		}
	}
	return nil
}

func applyResources(r *specs.LinuxResources, hc HostConfig) error {
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
	if hc.MemoryReservation > 0 {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		resv := hc.MemoryReservation
		r.Memory.Reservation = &resv
	}
	if hc.BlkioWeight > 0 {
		w := hc.BlkioWeight
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	if hc.NanoCpus > 0 || hc.CpuShares > 0 || hc.CpusetCpus != "" || hc.CpuPeriod > 0 || hc.CpuQuota > 0 || hc.CpusetMems != "" {
		cpu := &specs.LinuxCPU{}
		if hc.NanoCpus > 0 {
			period := uint64(100000)
			quota := hc.NanoCpus * int64(period) / 1e9
			cpu.Period, cpu.Quota = &period, &quota
		} else if hc.CpuPeriod > 0 || hc.CpuQuota > 0 {
			cpu.Period, cpu.Quota = cfs(hc)
		}
		if hc.CpuShares > 0 {
			sh := uint64(hc.CpuShares)
			cpu.Shares = &sh
		}
		cpu.Cpus, cpu.Mems = hc.CpusetCpus, hc.CpusetMems
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

// rlimits turns --ulimit into spec rlimits (specgen clamps them to the host).
func rlimits(us []Ulimit) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	for _, u := range us {
		if _, ok := rlimitNames[u.Name]; !ok {
			return nil, fmt.Errorf("invalid ulimit type: %s: %w", u.Name, errdefs.ErrInvalidArgument)
		}
		soft, hard := uint64(u.Soft), uint64(u.Hard)
		if u.Soft < 0 {
			soft = unix.RLIM_INFINITY
		}
		if u.Hard < 0 {
			hard = unix.RLIM_INFINITY
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
