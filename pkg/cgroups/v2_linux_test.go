package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/errdefs"
)

// fakeV2 builds a pure cgroup v2 tree in a temporary directory, with the
// control files a kernel would show for /berth/c, and returns the layout
// and the leaf directory. Files a test leaves out behave as on a kernel
// without the feature.
func fakeV2(t *testing.T, leafFiles map[string]string) (*layout, string) {
	t.Helper()
	root := t.TempDir()
	ctrls := []string{"cpuset", "cpu", "blkio", "memory", "hugetlb", "pids"}
	l := &layout{
		mode:  Unified,
		v2:    &hierarchy{mountpoint: root, root: "/", self: "/", controllers: ctrls},
		owner: map[string]*hierarchy{},
	}
	for _, c := range append(ctrls, "freezer", "devices") {
		l.owner[c] = l.v2
	}
	write := func(dir string, files map[string]string) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, v := range files {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	core := map[string]string{"cgroup.controllers": "cpuset cpu io memory hugetlb pids", "cgroup.subtree_control": "", "cgroup.procs": ""}
	write(root, core)
	write(filepath.Join(root, "berth"), core)
	leaf := filepath.Join(root, "berth", "c")
	write(leaf, core)
	write(leaf, leafFiles)
	old := hugePageSizes
	hugePageSizes = func() []string { return []string{"2MB", "1GB"} }
	t.Cleanup(func() { hugePageSizes = old })
	return l, leaf
}

func emptyFiles(names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		m[n] = ""
	}
	return m
}

func readFake(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestV2Set(t *testing.T) {
	files := emptyFiles("memory.max", "memory.swap.max", "memory.low", "cpu.weight", "cpu.idle",
		"pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "cpuset.cpus", "cpuset.mems", "memory.high")
	files["cpu.max"] = "max 100000"
	l, leaf := fakeV2(t, files)
	m := newManager(l, "/berth/c")
	if m.Path("memory") != leaf || m.Path("") != leaf || m.Path("cpuacct") != "" {
		t.Fatalf("paths: memory %q, v2 %q, cpuacct %q", m.Path("memory"), m.Path(""), m.Path("cpuacct"))
	}
	r := &specs.LinuxResources{
		Memory:         &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(96 << 20), Reservation: i64(32 << 20), Kernel: i64(1 << 20)},
		CPU:            &specs.LinuxCPU{Shares: u64(1024), Quota: i64(50000), Cpus: "0-1", Mems: "0", Idle: i64(0)},
		Pids:           &specs.LinuxPids{Limit: i64(0)},
		BlockIO:        &specs.LinuxBlockIO{Weight: u16(500), ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1 << 20}}},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 8 << 20}},
		Unified:        map[string]string{"memory.high": "60000000"},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"memory.max": "67108864", "memory.swap.max": "33554432", "memory.low": "33554432",
		"cpu.weight": "39", "cpu.max": "50000 100000", "cpu.idle": "0", "pids.max": "max",
		"io.weight": "default 4950", "io.max": "8:0 rbps=1048576",
		"hugetlb.2MB.max": "8388608", "hugetlb.2MB.rsvd.max": "8388608",
		"cpuset.cpus": "0-1", "cpuset.mems": "0", "memory.high": "60000000",
	} {
		if got := readFake(t, leaf, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	// The intermediate cgroups delegate controllers; the leaf does not.
	if got := readFake(t, filepath.Dir(leaf), "cgroup.subtree_control"); !strings.HasPrefix(got, "+") {
		t.Errorf("parent subtree_control = %q, want controllers enabled", got)
	}
	if got := readFake(t, leaf, "cgroup.subtree_control"); got != "" {
		t.Errorf("leaf subtree_control = %q, want untouched", got)
	}

	// Changing the period keeps the quota; -1 lifts it.
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(200000)}}); err != nil {
		t.Fatal(err)
	}
	if got := readFake(t, leaf, "cpu.max"); got != "50000 200000" {
		t.Errorf("cpu.max = %q", got)
	}
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(-1)}, Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1), Reservation: i64(-1)}}); err != nil {
		t.Fatal(err)
	}
	if got := readFake(t, leaf, "cpu.max"); got != "max 200000" {
		t.Errorf("cpu.max = %q", got)
	}
	if got := readFake(t, leaf, "memory.max") + " " + readFake(t, leaf, "memory.swap.max"); got != "max max" {
		t.Errorf("memory.max, swap.max = %q", got)
	}
	// No reservation is no protection, not all of it.
	if got := readFake(t, leaf, "memory.low"); got != "0" {
		t.Errorf("memory.low after reservation -1 = %q, want 0", got)
	}
}

func TestV2SetErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		r     *specs.LinuxResources
		field string
		kind  error
	}{
		{"swappiness", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(10)}}, "linux.resources.memory.swappiness", errdefs.ErrUnavailable},
		{"disable oom killer", &specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(true)}}, "linux.resources.memory.disableOOMKiller", errdefs.ErrUnavailable},
		{"swap without limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: i64(1 << 30)}}, "linux.resources.memory.swap", errdefs.ErrInvalidArgument},
		{"swap below limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(2 << 20), Swap: i64(1 << 20)}}, "linux.resources.memory.swap", errdefs.ErrInvalidArgument},
		{"realtime", &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(1000)}}, "linux.resources.cpu.realtimeRuntime", errdefs.ErrUnavailable},
		{"burst file missing", &specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: u64(1000)}}, "linux.resources.cpu.burst", errdefs.ErrUnavailable},
		{"leaf weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: u16(100)}}, "linux.resources.blockIO.leafWeight", errdefs.ErrUnavailable},
		{"bad weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(5)}}, "linux.resources.blockIO.weight", errdefs.ErrInvalidArgument},
		{"shares range", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1)}}, "linux.resources.cpu.shares", errdefs.ErrInvalidArgument},
		{"cpus syntax", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0;rm -rf"}}, "linux.resources.cpu.cpus", errdefs.ErrInvalidArgument},
		{"page size", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "16MB", Limit: 1}}}, "linux.resources.hugepageLimits[0].pageSize", errdefs.ErrUnavailable},
		{"unified path", &specs.LinuxResources{Unified: map[string]string{"../memory.max": "1"}}, `linux.resources.unified["../memory.max"]`, errdefs.ErrInvalidArgument},
		{"unified procs", &specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, `linux.resources.unified["cgroup.procs"]`, errdefs.ErrInvalidArgument},
		{"unified controller off", &specs.LinuxResources{Unified: map[string]string{"rdma.max": "x"}}, `linux.resources.unified["rdma.max"]`, errdefs.ErrUnavailable},
		{"network", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: new(uint32)}}, "linux.resources.network.classID", errdefs.ErrUnavailable},
		{"device type", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "z"}}}, "linux.resources.devices[0].type", errdefs.ErrInvalidArgument},
		{"device access", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Access: "rwx"}}}, "linux.resources.devices[0].access", errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, leaf := fakeV2(t, emptyFiles("memory.max", "memory.swap.max", "cpu.max", "io.weight"))
			m := newManager(l, "/berth/c")
			err := m.Set(tc.r)
			if !errors.Is(err, tc.kind) || !strings.HasPrefix(fmtErr(err), tc.field+":") {
				t.Fatalf("Set: %v; want %v naming %s", err, tc.kind, tc.field)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("not a FieldError for %s: %#v", tc.field, err)
			}
			_ = leaf
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestV2StatsFreezeSignalPids(t *testing.T) {
	l, leaf := fakeV2(t, map[string]string{
		"memory.current": "1000\n", "memory.max": "max\n", "memory.peak": "2000\n",
		"memory.swap.current": "10\n", "memory.swap.max": "max\n",
		"memory.stat":   "anon 700\nfile 300\n",
		"memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n",
		"cpu.stat":      "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 5\nnr_throttled 2\nthrottled_usec 7\n",
		"pids.current":  "3\n", "pids.max": "64\n",
		"io.stat":               "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
		"cpuset.cpus.effective": "0-2,5\n", "cpuset.mems.effective": "0\n",
		"hugetlb.2MB.current": "0\n", "hugetlb.2MB.events": "max 4\n",
		"cgroup.procs": "123\n456\n", "sub/cgroup.procs": "789\n",
		"cgroup.freeze": "0\n", "cgroup.events": "populated 1\nfrozen 1\n", "cgroup.kill": "",
	})
	m := newManager(l, "/berth/c")
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Usage.Usage != 1000 || st.Memory.Usage.Limit != ^uint64(0) || st.Memory.Usage.Max != 2000 || st.Memory.Usage.Failcnt != 3 {
		t.Errorf("memory usage = %+v", st.Memory.Usage)
	}
	if st.Memory.Swap.Usage != 1010 || st.Memory.Cache != 300 || st.Memory.OOMKill != 2 || st.Memory.Raw["anon"] != 700 {
		t.Errorf("memory = %+v", st.Memory)
	}
	if st.CPU.Usage.Total != 100000 || st.CPU.Usage.User != 60000 || st.CPU.Usage.Kernel != 40000 ||
		st.CPU.Throttling != (Throttling{Periods: 5, ThrottledPeriods: 2, ThrottledTime: 7000}) {
		t.Errorf("cpu = %+v", st.CPU)
	}
	if st.Pids != (Pids{Current: 3, Limit: 64}) {
		t.Errorf("pids = %+v", st.Pids)
	}
	wantIO := []BlkioEntry{{8, 0, "Read", 10}, {8, 0, "Write", 20}, {8, 0, "Discard", 0}}
	if !slices.Equal(st.Blkio.IoServiceBytesRecursive, wantIO) || len(st.Blkio.IoServicedRecursive) != 3 {
		t.Errorf("blkio = %+v", st.Blkio)
	}
	if !slices.Equal(st.CPUSet.CPUs, []uint16{0, 1, 2, 5}) {
		t.Errorf("cpuset = %+v", st.CPUSet)
	}
	if st.Hugetlb["2MB"].Failcnt != 4 {
		t.Errorf("hugetlb = %+v", st.Hugetlb)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 2 {
		t.Errorf("OOMKillCount = %d, %v", n, err)
	}

	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pids)
	if !slices.Equal(pids, []int{123, 456, 789}) {
		t.Errorf("Pids = %v", pids)
	}

	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := readFake(t, leaf, "cgroup.freeze"); got != "1" {
		t.Errorf("cgroup.freeze = %q after Freeze", got)
	}
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.events"), []byte("populated 1\nfrozen 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if fr, err := m.Frozen(); err != nil || fr {
		t.Errorf("Frozen = %v, %v after Thaw", fr, err)
	}

	// SIGKILL on v2 goes through cgroup.kill, not pid by pid (the fake
	// pids do not exist).
	if err := m.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if got := readFake(t, leaf, "cgroup.kill"); got != "1" {
		t.Errorf("cgroup.kill = %q", got)
	}
}

func TestV2ControllerNotDelegated(t *testing.T) {
	l, leaf := fakeV2(t, emptyFiles("pids.max"))
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.controllers"), []byte("cpu memory"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := newManager(l, "/berth/c")
	err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)}})
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(fmtErr(err), "linux.resources.pids.limit: controller pids is not enabled") {
		t.Fatalf("Set: %v", err)
	}
}

func TestPathOverControlFile(t *testing.T) {
	l, _ := fakeV2(t, nil)
	m := newManager(l, "/berth/cgroup.controllers2")
	if err := os.WriteFile(filepath.Join(l.v2.mountpoint, "berth", "cgroup.controllers2"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(-1); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("Apply over a file: %v", err)
	}
}

func TestV2UnlimitedSwapWithoutSwapAccounting(t *testing.T) {
	l, leaf := fakeV2(t, emptyFiles("memory.max"))
	m := newManager(l, "/berth/c")
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(-1)}}); err != nil {
		t.Fatal(err)
	}
	if got := readFake(t, leaf, "memory.max"); got != "1073741824" {
		t.Errorf("memory.max = %q", got)
	}
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(2 << 30)}})
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.HasPrefix(err.Error(), "linux.resources.memory.swap:") {
		t.Fatalf("finite swap without accounting: %v", err)
	}
}
