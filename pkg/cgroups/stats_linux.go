package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// userHZ is the unit of cpuacct.stat (USER_HZ is 100 on every Linux ABI).
const userHZ = 100

// Stats implements Manager. Controllers the host lacks, and files an older
// kernel lacks, leave their counters at zero.
func (m *manager) Stats() (*Stats, error) {
	if !m.Exists() {
		return nil, fmt.Errorf("cgroup stats: %s: %w", m.procsDir(), errdefs.ErrNotFound)
	}
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	for _, f := range []func(*Stats) error{m.memoryStats, m.cpuStats, m.cpusetStats, m.pidsStats, m.blkioStats, m.hugetlbStats} {
		if err := f(s); err != nil {
			return nil, fmt.Errorf("cgroup stats: %w", err)
		}
	}
	return s, nil
}

// optional turns a missing file into no error: the counter stays zero.
func optional(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func readUintOpt(dir, file string, dst *uint64) error {
	v, err := readUint(dir, file)
	if err != nil {
		return optional(err)
	}
	*dst = v
	return nil
}

func (m *manager) memoryStats(s *Stats) error {
	dir, v2 := m.dirOf("memory")
	if dir == "" {
		return nil
	}
	raw, err := readKV(dir, "memory.stat")
	if err != nil {
		return optional(err)
	}
	s.Memory.Raw = raw
	mem := &s.Memory
	if v2 {
		mem.Cache = raw["file"]
		for _, f := range []struct {
			file string
			dst  *uint64
		}{
			{"memory.current", &mem.Usage.Usage}, {"memory.max", &mem.Usage.Limit},
			{"memory.peak", &mem.Usage.Max}, {"memory.swap.current", &mem.Swap.Usage},
			{"memory.swap.max", &mem.Swap.Limit}, {"memory.swap.peak", &mem.Swap.Max},
		} {
			if err := readUintOpt(dir, f.file, f.dst); err != nil {
				return err
			}
		}
		// Report swap as memory+swap, the v1 meaning runc keeps.
		mem.Swap.Usage += mem.Usage.Usage
		if mem.Swap.Limit != ^uint64(0) && mem.Usage.Limit != ^uint64(0) {
			mem.Swap.Limit += mem.Usage.Limit
		} else {
			mem.Swap.Limit = ^uint64(0)
		}
		ev, err := readKV(dir, "memory.events")
		if err != nil {
			return optional(err)
		}
		mem.Usage.Failcnt = ev["max"]
		mem.OOMKill = ev["oom_kill"]
		return nil
	}
	mem.Cache = raw["cache"]
	for _, e := range []struct {
		prefix string
		dst    *MemoryEntry
	}{
		{"memory", &mem.Usage}, {"memory.memsw", &mem.Swap},
		{"memory.kmem", &mem.Kernel}, {"memory.kmem.tcp", &mem.KernelTCP},
	} {
		for _, f := range []struct {
			file string
			dst  *uint64
		}{
			{".usage_in_bytes", &e.dst.Usage}, {".max_usage_in_bytes", &e.dst.Max},
			{".limit_in_bytes", &e.dst.Limit}, {".failcnt", &e.dst.Failcnt},
		} {
			if err := readUintOpt(dir, e.prefix+f.file, f.dst); err != nil {
				return err
			}
		}
	}
	oc, err := readKV(dir, "memory.oom_control")
	if err != nil {
		return optional(err)
	}
	mem.OOMKill = oc["oom_kill"]
	return nil
}

func (m *manager) cpuStats(s *Stats) error {
	dir, v2 := m.dirOf("cpu")
	if dir == "" {
		return nil
	}
	st, err := readKV(dir, "cpu.stat")
	if err != nil && optional(err) != nil {
		return err
	}
	s.CPU.Throttling.Periods = st["nr_periods"]
	s.CPU.Throttling.ThrottledPeriods = st["nr_throttled"]
	if v2 {
		s.CPU.Throttling.ThrottledTime = st["throttled_usec"] * 1000
		s.CPU.Usage.Total = st["usage_usec"] * 1000
		s.CPU.Usage.User = st["user_usec"] * 1000
		s.CPU.Usage.Kernel = st["system_usec"] * 1000
		return nil
	}
	s.CPU.Throttling.ThrottledTime = st["throttled_time"]
	acct, _ := m.dirOf("cpuacct")
	if acct == "" {
		return nil
	}
	if err := readUintOpt(acct, "cpuacct.usage", &s.CPU.Usage.Total); err != nil {
		return err
	}
	for _, f := range []struct {
		file string
		dst  *[]uint64
	}{
		{"cpuacct.usage_percpu", &s.CPU.Usage.Percpu},
		{"cpuacct.usage_percpu_sys", &s.CPU.Usage.PercpuKernel},
		{"cpuacct.usage_percpu_user", &s.CPU.Usage.PercpuUser},
	} {
		str, err := readString(acct, f.file)
		if err != nil {
			if optional(err) != nil {
				return err
			}
			continue
		}
		for _, w := range strings.Fields(str) {
			v, err := strconv.ParseUint(w, 10, 64)
			if err != nil {
				return fmt.Errorf("parsing %s/%s: %w", acct, f.file, err)
			}
			*f.dst = append(*f.dst, v)
		}
	}
	ticks, err := readKV(acct, "cpuacct.stat")
	if err != nil {
		return optional(err)
	}
	s.CPU.Usage.User = ticks["user"] * (1e9 / userHZ)
	s.CPU.Usage.Kernel = ticks["system"] * (1e9 / userHZ)
	return nil
}

func (m *manager) cpusetStats(s *Stats) error {
	dir, v2 := m.dirOf("cpuset")
	if dir == "" {
		return nil
	}
	cpus, mems := "cpuset.effective_cpus", "cpuset.effective_mems"
	if v2 {
		cpus, mems = "cpuset.cpus.effective", "cpuset.mems.effective"
	}
	for _, f := range []struct {
		file string
		dst  *[]uint16
	}{{cpus, &s.CPUSet.CPUs}, {mems, &s.CPUSet.Mems}} {
		str, err := readString(dir, f.file)
		if err != nil {
			if optional(err) != nil {
				return err
			}
			continue
		}
		list, err := parseList(str)
		if err != nil {
			return fmt.Errorf("parsing %s/%s: %w", dir, f.file, err)
		}
		*f.dst = list
	}
	return nil
}

// parseList expands a kernel list such as "0-2,4" to [0 1 2 4].
func parseList(s string) ([]uint16, error) {
	var out []uint16
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil {
				return nil, err
			}
		}
		if b < a || b-a > 1<<12 {
			return nil, fmt.Errorf("bad range %q", part)
		}
		for i := a; i <= b; i++ {
			out = append(out, uint16(i))
		}
	}
	return out, nil
}

func (m *manager) pidsStats(s *Stats) error {
	dir, _ := m.dirOf("pids")
	if dir == "" {
		return nil
	}
	if err := readUintOpt(dir, "pids.current", &s.Pids.Current); err != nil {
		return err
	}
	if err := readUintOpt(dir, "pids.max", &s.Pids.Limit); err != nil {
		return err
	}
	if s.Pids.Limit == ^uint64(0) {
		s.Pids.Limit = 0
	}
	return nil
}

func (m *manager) blkioStats(s *Stats) error {
	dir, v2 := m.dirOf("blkio")
	if dir == "" {
		return nil
	}
	if v2 {
		return ioStatV2(dir, &s.Blkio)
	}
	for _, f := range []struct {
		files []string
		dst   *[]BlkioEntry
	}{
		{[]string{"blkio.throttle.io_service_bytes_recursive", "blkio.io_service_bytes_recursive"}, &s.Blkio.IoServiceBytesRecursive},
		{[]string{"blkio.throttle.io_serviced_recursive", "blkio.io_serviced_recursive"}, &s.Blkio.IoServicedRecursive},
	} {
		for _, file := range f.files {
			list, err := readBlkio(dir, file)
			if err != nil {
				if optional(err) != nil {
					return err
				}
				continue
			}
			*f.dst = list
			break
		}
	}
	return nil
}

// readBlkio parses v1 "8:0 Read 4096" lines (the "Total" line is skipped).
func readBlkio(dir, file string) ([]BlkioEntry, error) {
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []BlkioEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) != 3 {
			continue
		}
		maj, min, ok := parseDev(w[0])
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(w[2], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, BlkioEntry{Major: maj, Minor: min, Op: w[1], Value: v})
	}
	return out, sc.Err()
}

func parseDev(s string) (uint64, uint64, bool) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, false
	}
	maj, err1 := strconv.ParseUint(a, 10, 64)
	min, err2 := strconv.ParseUint(b, 10, 64)
	return maj, min, err1 == nil && err2 == nil
}

// ioStatV2 parses io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...") into
// v1-shaped entries.
func ioStatV2(dir string, b *Blkio) error {
	f, err := os.Open(filepath.Join(dir, "io.stat"))
	if err != nil {
		return optional(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) < 2 {
			continue
		}
		maj, min, ok := parseDev(w[0])
		if !ok {
			continue
		}
		for _, kv := range w[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			e := BlkioEntry{Major: maj, Minor: min, Value: n}
			switch k {
			case "rbytes":
				e.Op = "Read"
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			case "wbytes":
				e.Op = "Write"
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			case "dbytes":
				e.Op = "Discard"
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			case "rios":
				e.Op = "Read"
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			case "wios":
				e.Op = "Write"
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			case "dios":
				e.Op = "Discard"
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			}
		}
	}
	return sc.Err()
}

func (m *manager) hugetlbStats(s *Stats) error {
	dir, v2 := m.dirOf("hugetlb")
	if dir == "" {
		return nil
	}
	for _, size := range hugePageSizes() {
		var h Hugetlb
		p := "hugetlb." + size
		if v2 {
			if err := readUintOpt(dir, p+".current", &h.Usage); err != nil {
				return err
			}
			ev, err := readKV(dir, p+".events")
			if err != nil && optional(err) != nil {
				return err
			}
			h.Failcnt = ev["max"]
		} else {
			for _, f := range []struct {
				file string
				dst  *uint64
			}{{".usage_in_bytes", &h.Usage}, {".max_usage_in_bytes", &h.Max}, {".failcnt", &h.Failcnt}} {
				if err := readUintOpt(dir, p+f.file, f.dst); err != nil {
					return err
				}
			}
		}
		s.Hugetlb[size] = h
	}
	return nil
}

// OOMKillCount implements Manager.
func (m *manager) OOMKillCount() (uint64, error) {
	dir, v2 := m.dirOf("memory")
	if dir == "" {
		return 0, fmt.Errorf("oom kill count: the host has no memory controller: %w", errdefs.ErrUnavailable)
	}
	file := "memory.oom_control"
	if v2 {
		file = "memory.events"
	}
	kv, err := readKV(dir, file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("oom kill count: %s/%s: %w", dir, file, errdefs.ErrNotFound)
		}
		return 0, fmt.Errorf("oom kill count: %w", err)
	}
	n, ok := kv["oom_kill"]
	if !ok {
		return 0, fmt.Errorf("oom kill count: %s/%s has no oom_kill (Linux 4.13+): %w", dir, file, errdefs.ErrUnavailable)
	}
	return n, nil
}
