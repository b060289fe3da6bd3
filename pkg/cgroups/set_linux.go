package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/errdefs"
)

const res = "linux.resources."

// Set implements Manager. Limits are written in a fixed order (cpuset,
// memory, cpu, pids, block I/O, hugetlb, network, rdma, devices, then the
// unified map, which may override any of them on v2).
func (m *manager) Set(r *specs.LinuxResources) (err error) {
	if r == nil {
		return nil
	}
	if err := ValidateResources(r); err != nil {
		return err
	}
	created, err := m.create()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			removeDirs(created)
		}
	}()
	for _, set := range []func(*specs.LinuxResources) error{
		m.setCpuset, m.setMemory, m.setCPU, m.setPids, m.setBlkio,
		m.setHugetlb, m.setNetwork, m.setRdma, m.setDevices, m.setUnified,
	} {
		if err := set(r); err != nil {
			return err
		}
	}
	return nil
}

// need returns the directory of controller c for spec field f, or an
// ErrUnavailable error when the host has no such controller.
func (m *manager) need(c, f string) (string, bool, error) {
	d, v2 := m.dirOf(c)
	if d == "" {
		return "", false, fieldErr(res+f, errdefs.ErrUnavailable, "the host has no %s controller", c)
	}
	if v2 && c != "freezer" && c != "devices" {
		// A v2 controller is usable only where the parent delegated it.
		name := c
		if c == "blkio" {
			name = "io"
		}
		if avail, err := readString(d, "cgroup.controllers"); err == nil && !contains(strings.Fields(avail), name) {
			return "", false, fieldErr(res+f, errdefs.ErrUnavailable,
				"controller %s is not enabled for %s (the parent's cgroup.subtree_control lacks it; a cgroup that holds processes cannot delegate controllers)", name, d)
		}
	}
	return d, v2, nil
}

func (m *manager) setCpuset(r *specs.LinuxResources) error {
	if r.CPU == nil || (r.CPU.Cpus == "" && r.CPU.Mems == "") {
		return nil
	}
	dir, _, err := m.need("cpuset", "cpu.cpus")
	if err != nil {
		return err
	}
	// Mems first: the kernel checks a task's memory nodes when cpus change.
	if r.CPU.Mems != "" {
		if err := setFile(res+"cpu.mems", dir, "cpuset.mems", r.CPU.Mems); err != nil {
			return err
		}
	}
	if r.CPU.Cpus != "" {
		if err := setFile(res+"cpu.cpus", dir, "cpuset.cpus", r.CPU.Cpus); err != nil {
			return err
		}
	}
	return nil
}

// limitString spells a v1 limit: -1 stays -1 (unlimited).
func limitString(v int64) string { return strconv.FormatInt(v, 10) }

// maxString spells a v2 limit: -1 (or any negative) is "max".
func maxString(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func val(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func (m *manager) setMemory(r *specs.LinuxResources) error {
	mem := r.Memory
	if mem == nil {
		return nil
	}
	// Kernel and KernelTCP are deliberately ignored: kernel memory limits
	// were deprecated in Linux 5.4 and removed in 6.x, v2 has none, and
	// kernel memory is charged to the memory limit anyway.
	limit, swap, resv := val(mem.Limit), val(mem.Swap), val(mem.Reservation)
	wantsOOM := mem.DisableOOMKiller != nil && *mem.DisableOOMKiller
	if limit == 0 && swap == 0 && resv == 0 && mem.Swappiness == nil && !wantsOOM {
		return nil
	}
	dir, v2, err := m.need("memory", "memory")
	if err != nil {
		return err
	}
	if mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate && limit > 0 {
		file := "memory.usage_in_bytes"
		if v2 {
			file = "memory.current"
		}
		if usage, err := readUint(dir, file); err == nil && uint64(limit) < usage {
			return fieldErr(res+"memory.limit", errdefs.ErrInvalidArgument, "%d is below the current usage %d (checkBeforeUpdate)", limit, usage)
		}
	}
	if v2 {
		return setMemoryV2(dir, mem, limit, swap, resv)
	}
	return setMemoryV1(dir, mem, limit, swap, resv)
}

func setMemoryV1(dir string, mem *specs.LinuxMemory, limit, swap, resv int64) error {
	setLimit := func() error { return setFile(res+"memory.limit", dir, "memory.limit_in_bytes", limitString(limit)) }
	setSwap := func() error {
		err := setFile(res+"memory.swap", dir, "memory.memsw.limit_in_bytes", limitString(swap))
		if errors.Is(err, errdefs.ErrUnavailable) && swap == -1 {
			return nil // without swap accounting, unlimited is what there is
		}
		if errors.Is(err, errdefs.ErrUnavailable) {
			return fieldErr(res+"memory.swap", errdefs.ErrUnavailable, "the kernel does not account swap (boot with swapaccount=1)")
		}
		return err
	}
	if limit == -1 && swap == 0 {
		// Lifting the memory limit lifts memory+swap too, or the old
		// memsw limit would still cap the container.
		if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err == nil {
			swap = -1
		}
	}
	switch {
	case limit != 0 && swap != 0:
		// memsw must stay >= limit at every step: raise memsw first when
		// it grows, lower the limit first when it shrinks.
		cur, err := readUint(dir, "memory.memsw.limit_in_bytes")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%smemory.swap: %w", res, err)
		}
		first, second := setLimit, setSwap
		if swap == -1 || uint64(swap) > cur {
			first, second = setSwap, setLimit
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
	case limit != 0:
		if err := setLimit(); err != nil {
			return err
		}
	case swap != 0:
		if err := setSwap(); err != nil {
			return err
		}
	}
	if resv != 0 {
		if err := setFile(res+"memory.reservation", dir, "memory.soft_limit_in_bytes", limitString(resv)); err != nil {
			return err
		}
	}
	if mem.Swappiness != nil {
		if err := setFile(res+"memory.swappiness", dir, "memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10)); err != nil {
			return err
		}
	}
	if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
		if err := setFile(res+"memory.disableOOMKiller", dir, "memory.oom_control", "1"); err != nil {
			return err
		}
	}
	return nil
}

func setMemoryV2(dir string, mem *specs.LinuxMemory, limit, swap, resv int64) error {
	if limit != 0 {
		if err := setFile(res+"memory.limit", dir, "memory.max", maxString(limit)); err != nil {
			return err
		}
	}
	if swap != 0 {
		// OCI swap is memory+swap; v2's memory.swap.max is swap alone.
		var v string
		switch {
		case swap == -1:
			v = "max"
		case limit > 0:
			v = strconv.FormatInt(swap-limit, 10)
		default:
			return fieldErr(res+"memory.swap", errdefs.ErrInvalidArgument, "a swap limit on cgroup v2 needs memory.limit too")
		}
		if err := setFile(res+"memory.swap", dir, "memory.swap.max", v); err != nil {
			if v == "max" && errors.Is(err, errdefs.ErrUnavailable) {
				return nil // without swap accounting, unlimited is what there is
			}
			return err
		}
	}
	if resv != 0 {
		// -1 is "no reservation": v1's unlimited soft limit, v2's memory.low
		// of 0 ("max" there would protect all of the cgroup's memory).
		if err := setFile(res+"memory.reservation", dir, "memory.low", strconv.FormatInt(max(resv, 0), 10)); err != nil {
			return err
		}
	}
	if mem.Swappiness != nil {
		return fieldErr(res+"memory.swappiness", errdefs.ErrUnavailable, "cgroup v2 has no per-cgroup swappiness")
	}
	if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
		return fieldErr(res+"memory.disableOOMKiller", errdefs.ErrUnavailable, "cgroup v2 cannot disable the OOM killer")
	}
	return nil
}

// sharesToWeight maps v1 cpu.shares (2..262144) onto v2 cpu.weight
// (1..10000), the conversion runc, crun and systemd agree on.
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	return 1 + ((shares-2)*9999)/262142
}

func (m *manager) setCPU(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	shares, quota, period := uint64(0), val(c.Quota), uint64(0)
	if c.Shares != nil {
		shares = *c.Shares
	}
	if c.Period != nil {
		period = *c.Period
	}
	rtRuntime := val(c.RealtimeRuntime)
	rtPeriod := uint64(0)
	if c.RealtimePeriod != nil {
		rtPeriod = *c.RealtimePeriod
	}
	if shares == 0 && quota == 0 && period == 0 && c.Burst == nil && rtRuntime == 0 && rtPeriod == 0 && c.Idle == nil {
		return nil
	}
	dir, v2, err := m.need("cpu", "cpu")
	if err != nil {
		return err
	}
	if v2 {
		return setCPUV2(dir, c, shares, quota, period, rtRuntime, rtPeriod)
	}
	if shares != 0 {
		if err := setFile(res+"cpu.shares", dir, "cpu.shares", strconv.FormatUint(shares, 10)); err != nil {
			return err
		}
	}
	if period != 0 {
		if err := setFile(res+"cpu.period", dir, "cpu.cfs_period_us", strconv.FormatUint(period, 10)); err != nil {
			return err
		}
	}
	if quota != 0 {
		if err := setFile(res+"cpu.quota", dir, "cpu.cfs_quota_us", limitString(quota)); err != nil {
			return err
		}
	}
	if c.Burst != nil {
		if err := setFile(res+"cpu.burst", dir, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	// The realtime period must be set before the runtime that fits in it.
	if rtPeriod != 0 {
		if err := setFile(res+"cpu.realtimePeriod", dir, "cpu.rt_period_us", strconv.FormatUint(rtPeriod, 10)); err != nil {
			return err
		}
	}
	if rtRuntime != 0 {
		if err := setFile(res+"cpu.realtimeRuntime", dir, "cpu.rt_runtime_us", limitString(rtRuntime)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := setFile(res+"cpu.idle", dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	return nil
}

func setCPUV2(dir string, c *specs.LinuxCPU, shares uint64, quota int64, period uint64, rtRuntime int64, rtPeriod uint64) error {
	if rtRuntime != 0 || rtPeriod != 0 {
		f := "cpu.realtimeRuntime"
		if rtRuntime == 0 {
			f = "cpu.realtimePeriod"
		}
		return fieldErr(res+f, errdefs.ErrUnavailable, "cgroup v2 has no realtime bandwidth control")
	}
	if shares != 0 {
		if err := setFile(res+"cpu.shares", dir, "cpu.weight", strconv.FormatUint(sharesToWeight(shares), 10)); err != nil {
			return err
		}
	}
	if quota != 0 || period != 0 {
		// cpu.max holds both; keep whichever half the spec leaves out.
		curQuota, curPeriod := "max", "100000"
		if s, err := readString(dir, "cpu.max"); err == nil {
			if q, p, ok := strings.Cut(s, " "); ok {
				curQuota, curPeriod = q, p
			}
		}
		if quota != 0 {
			curQuota = maxString(quota)
		}
		if period != 0 {
			curPeriod = strconv.FormatUint(period, 10)
		}
		f := "cpu.quota"
		if quota == 0 {
			f = "cpu.period"
		}
		if err := setFile(res+f, dir, "cpu.max", curQuota+" "+curPeriod); err != nil {
			return err
		}
	}
	if c.Burst != nil {
		if err := setFile(res+"cpu.burst", dir, "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := setFile(res+"cpu.idle", dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	return nil
}

func (m *manager) setPids(r *specs.LinuxResources) error {
	if r.Pids == nil || r.Pids.Limit == nil {
		return nil
	}
	dir, _, err := m.need("pids", "pids.limit")
	if err != nil {
		return err
	}
	// Zero and negative limits mean "no limit" (runtime-spec: default is no limit).
	v := "max"
	if *r.Pids.Limit > 0 {
		v = strconv.FormatInt(*r.Pids.Limit, 10)
	}
	return setFile(res+"pids.limit", dir, "pids.max", v)
}

func (m *manager) setNetwork(r *specs.LinuxResources) error {
	n := r.Network
	if n == nil {
		return nil
	}
	if n.ClassID != nil {
		dir, v2, err := m.need("net_cls", "network.classID")
		if err != nil || v2 {
			return fieldErr(res+"network.classID", errdefs.ErrUnavailable, "the host has no v1 net_cls controller (v2 has none; use eBPF)")
		}
		if err := setFile(res+"network.classID", dir, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
			return err
		}
	}
	for i, p := range n.Priorities {
		f := fmt.Sprintf("network.priorities[%d]", i)
		dir, v2, err := m.need("net_prio", f)
		if err != nil || v2 {
			return fieldErr(res+f, errdefs.ErrUnavailable, "the host has no v1 net_prio controller (v2 has none)")
		}
		if strings.ContainsAny(p.Name, " \n/") || p.Name == "" {
			return fieldErr(res+f+".name", errdefs.ErrInvalidArgument, "%q is not an interface name", p.Name)
		}
		if err := setFile(res+f, dir, "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority)); err != nil {
			return err
		}
	}
	return nil
}

func (m *manager) setRdma(r *specs.LinuxResources) error {
	if len(r.Rdma) == 0 {
		return nil
	}
	dir, _, err := m.need("rdma", "rdma")
	if err != nil {
		return err
	}
	devs := make([]string, 0, len(r.Rdma))
	for d := range r.Rdma {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	for _, d := range devs {
		lim := r.Rdma[d]
		f := fmt.Sprintf("rdma[%q]", d)
		if d == "" || strings.ContainsAny(d, " \n=") {
			return fieldErr(res+f, errdefs.ErrInvalidArgument, "not a device name")
		}
		line := d
		if lim.HcaHandles != nil {
			line += " hca_handle=" + strconv.FormatUint(uint64(*lim.HcaHandles), 10)
		}
		if lim.HcaObjects != nil {
			line += " hca_object=" + strconv.FormatUint(uint64(*lim.HcaObjects), 10)
		}
		if line == d {
			continue
		}
		if err := setFile(res+f, dir, "rdma.max", line); err != nil {
			return err
		}
	}
	return nil
}

func (m *manager) setUnified(r *specs.LinuxResources) error {
	if len(r.Unified) == 0 {
		return nil
	}
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	v2 := m.v2dir()
	for _, k := range keys {
		f := fmt.Sprintf("unified[%q]", k)
		if v2 == "" {
			return fieldErr(res+f, errdefs.ErrUnavailable, "the host has no cgroup v2 tree (mode %s)", m.lay.mode)
		}
		ctrl, _, _ := strings.Cut(k, ".")
		if n, ok := v2Names[ctrl]; ok {
			ctrl = n
		}
		if ctrl != "cgroup" && m.lay.owner[ctrl] != m.lay.v2 {
			return fieldErr(res+f, errdefs.ErrUnavailable, "controller %s is not on the cgroup v2 tree of this host (mode %s)", ctrl, m.lay.mode)
		}
		if err := setFile(res+f, v2, k, r.Unified[k]); err != nil {
			return err
		}
	}
	return nil
}
