package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// defaultCFSPeriod is the kernel's CFS period (100 ms), used when only a
// quota is given.
const defaultCFSPeriod = 100000

// cfs is the CFS period and quota of --cpu-period and --cpu-quota; a
// quota of zero or less is no quota (-1).
func cfs(h HostConfig) (*uint64, *int64) {
	period, quota := uint64(defaultCFSPeriod), int64(-1)
	if h.CpuPeriod > 0 {
		period = uint64(h.CpuPeriod)
	}
	if h.CpuQuota > 0 {
		quota = h.CpuQuota
	}
	return &period, &quota
}

// checkResources refuses what docker's daemon refuses in the resource
// settings of a container (at create and after an update), with its words.
func checkResources(h HostConfig) error {
	inval := func(format string, a ...any) error {
		return fmt.Errorf(format+": %w", append(a, errdefs.ErrInvalidArgument)...)
	}
	switch {
	case h.CpuPeriod != 0 && (h.CpuPeriod < 1000 || h.CpuPeriod > 1000000):
		return inval("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1 second (i.e. 1000000)")
	case h.CpuQuota > 0 && h.CpuQuota < 1000:
		return inval("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	case h.CpuQuota < -1:
		return inval("invalid CPU cfs quota %d: want -1 (no quota) or at least 1000", h.CpuQuota)
	case h.NanoCpus > 0 && h.CpuPeriod > 0:
		return inval("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	case h.NanoCpus > 0 && h.CpuQuota > 0:
		return inval("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	case h.BlkioWeight > 0 && (h.BlkioWeight < 10 || h.BlkioWeight > 1000):
		return inval("Range of blkio weight is from 10 to 1000")
	case h.MemoryReservation < 0:
		return inval("invalid memory reservation %d", h.MemoryReservation)
	case h.MemoryReservation > 0 && h.MemoryReservation < minMemory:
		return inval("Minimum memory reservation allowed is 6MB")
	case h.Memory > 0 && h.MemoryReservation > h.Memory:
		return inval("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	if h.CpusetMems == "" {
		return nil
	}
	return checkCpusetMems(h.CpusetMems, onlineMems())
}

// onlineMems lists the host's memory nodes ("0", "0-1"), as the kernel
// reports them; a host without NUMA information has node 0.
func onlineMems() string {
	if b, err := os.ReadFile("/sys/devices/system/node/online"); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s
		}
	}
	return "0"
}

// parseSet reads a cpuset list such as "0-2,4".
func parseSet(s string) (map[int]bool, bool) {
	out := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, false
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 1<<16 {
				return nil, false
			}
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out, true
}

// checkCpusetMems validates --cpuset-mems against the memory nodes there are.
func checkCpusetMems(s, online string) error {
	if s == "" {
		return nil
	}
	want, ok := parseSet(s)
	if !ok {
		return fmt.Errorf("Invalid value %s for cpuset mems: %w", s, errdefs.ErrInvalidArgument) //nolint:staticcheck // docker's words
	}
	have, _ := parseSet(online)
	for n := range want {
		if !have[n] {
			return fmt.Errorf("Requested memory nodes are not available - requested %s, available: %s: %w", s, online, errdefs.ErrInvalidArgument) //nolint:staticcheck // docker's words
		}
	}
	return nil
}

// BlkioWeightSupported reports whether the host's cgroups can weigh block
// I/O: blkio.weight (CFQ) or blkio.bfq.weight (BFQ) on v1, io.weight or
// io.bfq.weight on v2 (the files exist below the root cgroup only, so
// berth's parent cgroup is looked at, and before it exists, whether a
// block device offers the bfq or cfq scheduler, which provide them).
// Without it docker discards --blkio-weight with a warning
// (BlkioWeightWarning).
func BlkioWeightSupported() bool {
	for _, p := range []string{
		"/sys/fs/cgroup/blkio/blkio.weight",
		"/sys/fs/cgroup/blkio/berth/blkio.weight", "/sys/fs/cgroup/blkio/berth/blkio.bfq.weight",
		"/sys/fs/cgroup/berth/io.weight", "/sys/fs/cgroup/berth/io.bfq.weight",
	} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	scheds, _ := filepath.Glob("/sys/block/*/queue/scheduler")
	for _, s := range scheds {
		if b, err := os.ReadFile(s); err == nil {
			for _, f := range strings.Fields(strings.NewReplacer("[", " ", "]", " ").Replace(string(b))) {
				if f == "bfq" || f == "cfq" {
					return true
				}
			}
		}
	}
	return false
}

// BlkioWeightWarning is docker's warning when it discards --blkio-weight.
const BlkioWeightWarning = "WARNING: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
