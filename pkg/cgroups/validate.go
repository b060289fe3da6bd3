package cgroups

import (
	"fmt"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/errdefs"
)

// isCPUList reports whether s is in the kernel's list syntax for
// cpuset.cpus and cpuset.mems: N or N-M, comma separated.
// (Hand-written, not a regexp: package-level regexps are compiled in
// every runtime process and container init when the package loads.)
func isCPUList(s string) bool {
	for _, item := range strings.Split(s, ",") {
		lo, hi, ranged := strings.Cut(item, "-")
		if !isDigits(lo) || ranged && !isDigits(hi) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isPageSize reports whether s is an OCI hugepage size ("2MB", "1GB", "64KB").
func isPageSize(s string) bool {
	n, ok := strings.CutSuffix(s, "B")
	if !ok || len(n) < 2 || !strings.ContainsRune("KMG", rune(n[len(n)-1])) {
		return false
	}
	n = n[:len(n)-1]
	return isDigits(n) && n[0] != '0'
}

// ValidateResources checks the values of r that can be judged without the
// host: ranges, formats and combinations. The kernel judges the rest when
// Set writes them.
func ValidateResources(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	inv := func(f, format string, args ...any) error {
		return fieldErr("linux.resources."+f, errdefs.ErrInvalidArgument, format, args...)
	}
	if mem := r.Memory; mem != nil {
		for _, v := range []struct {
			f string
			p *int64
		}{{"memory.limit", mem.Limit}, {"memory.reservation", mem.Reservation}, {"memory.swap", mem.Swap}} {
			if v.p != nil && *v.p < -1 {
				return inv(v.f, "%d is negative (use -1 for no limit)", *v.p)
			}
		}
		if mem.Limit != nil && mem.Swap != nil && *mem.Limit > 0 && *mem.Swap > 0 && *mem.Swap < *mem.Limit {
			return inv("memory.swap", "%d is below memory.limit %d (swap is memory+swap)", *mem.Swap, *mem.Limit)
		}
		if mem.Swappiness != nil && *mem.Swappiness > 100 {
			return inv("memory.swappiness", "%d is above 100", *mem.Swappiness)
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares != 0 && (*c.Shares < 2 || *c.Shares > 262144) {
			return inv("cpu.shares", "%d is outside 2..262144", *c.Shares)
		}
		if c.Quota != nil && *c.Quota < -1 {
			return inv("cpu.quota", "%d is negative (use -1 for no limit)", *c.Quota)
		}
		if c.Period != nil && *c.Period != 0 && (*c.Period < 1000 || *c.Period > 1000000) {
			return inv("cpu.period", "%d is outside 1000..1000000 microseconds", *c.Period)
		}
		if c.Cpus != "" && !isCPUList(c.Cpus) {
			return inv("cpu.cpus", "%q is not a CPU list such as 0-2,4", c.Cpus)
		}
		if c.Mems != "" && !isCPUList(c.Mems) {
			return inv("cpu.mems", "%q is not a node list such as 0-1", c.Mems)
		}
		if c.Idle != nil && *c.Idle != 0 && *c.Idle != 1 {
			return inv("cpu.idle", "%d is neither 0 nor 1", *c.Idle)
		}
	}
	if b := r.BlockIO; b != nil {
		if err := checkWeight("blockIO.weight", b.Weight); err != nil {
			return err
		}
		if err := checkWeight("blockIO.leafWeight", b.LeafWeight); err != nil {
			return err
		}
		for i, d := range b.WeightDevice {
			f := fmt.Sprintf("blockIO.weightDevice[%d]", i)
			if err := checkDevice(f, d.Major, d.Minor); err != nil {
				return err
			}
			if err := checkWeight(f+".weight", d.Weight); err != nil {
				return err
			}
			if err := checkWeight(f+".leafWeight", d.LeafWeight); err != nil {
				return err
			}
		}
		for name, list := range throttles(b) {
			for i, d := range list {
				if err := checkDevice(fmt.Sprintf("blockIO.%s[%d]", name, i), d.Major, d.Minor); err != nil {
					return err
				}
			}
		}
	}
	for i, h := range r.HugepageLimits {
		if !isPageSize(h.Pagesize) {
			return inv(fmt.Sprintf("hugepageLimits[%d].pageSize", i), "%q is not a size such as 2MB", h.Pagesize)
		}
	}
	for i, d := range r.Devices {
		f := fmt.Sprintf("devices[%d]", i)
		switch d.Type {
		case "", "a", "b", "c":
		default:
			return inv(f+".type", "%q is not a, b or c", d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return inv(f+".access", "%q has letters other than r, w, m", d.Access)
		}
		for _, n := range []struct {
			f string
			p *int64
		}{{"major", d.Major}, {"minor", d.Minor}} {
			if n.p != nil && (*n.p < -1 || *n.p > 1<<31-1) {
				return inv(f+"."+n.f, "%d is out of range", *n.p)
			}
		}
	}
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ctrl, _, ok := strings.Cut(k, ".")
		if !ok || ctrl == "" || strings.ContainsAny(k, "/\x00") || strings.HasPrefix(k, ".") {
			return inv(fmt.Sprintf("unified[%q]", k), "not a cgroup v2 file name such as memory.high")
		}
		switch k {
		case "cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.type", "cgroup.kill", "cgroup.freeze":
			return inv(fmt.Sprintf("unified[%q]", k), "is managed by the runtime, not a resource")
		}
	}
	return nil
}

func checkWeight(f string, w *uint16) error {
	if w != nil && *w != 0 && (*w < 10 || *w > 1000) {
		return fieldErr("linux.resources."+f, errdefs.ErrInvalidArgument, "%d is outside 10..1000", *w)
	}
	return nil
}

func checkDevice(f string, major, minor int64) error {
	if major < 0 || minor < 0 || major > 1<<31-1 || minor > 1<<31-1 {
		return fieldErr("linux.resources."+f, errdefs.ErrInvalidArgument, "device %d:%d is out of range", major, minor)
	}
	return nil
}

// throttles returns the four throttle lists of b by spec field name.
func throttles(b *specs.LinuxBlockIO) map[string][]specs.LinuxThrottleDevice {
	return map[string][]specs.LinuxThrottleDevice{
		"throttleReadBpsDevice":   b.ThrottleReadBpsDevice,
		"throttleWriteBpsDevice":  b.ThrottleWriteBpsDevice,
		"throttleReadIOPSDevice":  b.ThrottleReadIOPSDevice,
		"throttleWriteIOPSDevice": b.ThrottleWriteIOPSDevice,
	}
}
