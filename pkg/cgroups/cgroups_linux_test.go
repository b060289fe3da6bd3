package cgroups

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/errdefs"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }
func boolp(v bool) *bool   { return &v }

func TestModeMatchesFilesystem(t *testing.T) {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Skipf("no /sys/fs/cgroup: %v", err)
	}
	want := Legacy
	switch {
	case st.Type == unix.CGROUP2_SUPER_MAGIC:
		want = Unified
	default:
		var u unix.Statfs_t
		if unix.Statfs("/sys/fs/cgroup/unified", &u) == nil && u.Type == unix.CGROUP2_SUPER_MAGIC {
			want = Hybrid
		}
	}
	if got := Mode(); got != want {
		t.Fatalf("Mode() = %s, want %s", got, want)
	}
}

// readCtrl reads a control file of the controller, picking the v1 or v2
// file name by where the host keeps the controller.
func readCtrl(t *testing.T, m Manager, ctrl, v1file, v2file string) string {
	t.Helper()
	mm := m.(*manager)
	dir, v2 := mm.dirOf(ctrl)
	if dir == "" {
		t.Fatalf("host has no %s controller", ctrl)
	}
	file := v1file
	if v2 {
		file = v2file
	}
	s, err := readString(dir, file)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSetAndApplyOnHost(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t, uniquePath(t))
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(32 << 20)},
		CPU:    &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000), Cpus: "0", Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: i64(32)},
	}
	if err := m.Set(r); err != nil {
		t.Fatalf("Set: %v", err)
	}
	h := startHelper(t, "wait")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, c := range []struct{ ctrl, v1, v2, want string }{
		{"memory", "memory.limit_in_bytes", "memory.max", "67108864"},
		{"memory", "memory.soft_limit_in_bytes", "memory.low", "33554432"},
		{"pids", "pids.max", "pids.max", "32"},
		{"cpu", "cpu.shares", "cpu.weight", map[bool]string{false: "512", true: "20"}[m.Path("cpu") == m.Path("")]},
		{"cpu", "cpu.cfs_quota_us", "cpu.max", map[bool]string{false: "50000", true: "50000 100000"}[m.Path("cpu") == m.Path("")]},
		{"cpuset", "cpuset.cpus", "cpuset.cpus", "0"},
	} {
		if got := readCtrl(t, m, c.ctrl, c.v1, c.v2); got != c.want {
			t.Errorf("%s: %s = %q, want %q", c.ctrl, c.v1, got, c.want)
		}
	}
	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, h.pid()) {
		t.Errorf("Pids() = %v, want it to hold %d", pids, h.pid())
	}
	// The process is in the cgroup in every hierarchy.
	own, err := os.ReadFile("/proc/" + strconv.Itoa(h.pid()) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for name, dir := range m.Paths() {
		procs, err := readPids(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(procs, h.pid()) {
			t.Errorf("hierarchy %q (%s) does not hold pid %d; /proc/pid/cgroup:\n%s", name, dir, h.pid(), own)
		}
	}

	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Usage.Limit != 64<<20 {
		t.Errorf("memory stats = %+v", st.Memory.Usage)
	}
	if st.Pids.Current < 1 || st.Pids.Limit != 32 { // pids.current counts threads
		t.Errorf("pids stats = %+v", st.Pids)
	}
	if !slices.Contains(st.CPUSet.CPUs, 0) {
		t.Errorf("cpuset = %+v", st.CPUSet)
	}

	// A process that works in the cgroup shows in the counters.
	w := startHelper(t, "work")
	if err := m.Apply(w.pid()); err != nil {
		t.Fatal(err)
	}
	if err, out := w.run(t); err != nil {
		t.Fatalf("worker: %v %s", err, out)
	}
	if st, err = m.Stats(); err != nil {
		t.Fatal(err)
	}
	if st.CPU.Usage.Total == 0 || st.Memory.Usage.Max == 0 && st.Memory.Usage.Usage == 0 {
		t.Errorf("after work: cpu %+v memory %+v", st.CPU.Usage, st.Memory.Usage)
	}

	// Update: lower the limits of the running cgroup.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(48 << 20)}, Pids: &specs.LinuxPids{Limit: i64(-1)}}); err != nil {
		t.Fatalf("update: %v", err)
	}
	if got := readCtrl(t, m, "memory", "memory.limit_in_bytes", "memory.max"); got != "50331648" {
		t.Errorf("memory limit after update = %s", got)
	}
	if got := readCtrl(t, m, "pids", "pids.max", "pids.max"); got != "max" {
		t.Errorf("pids.max after update = %s", got)
	}
}

func TestOOMKill(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t, uniquePath(t))
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 << 20), Swap: i64(32 << 20)}}); err != nil {
		if errors.Is(err, errdefs.ErrUnavailable) {
			// No swap accounting: the memory limit alone still works.
			if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 << 20)}}); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Fatal(err)
		}
	}
	before, err := m.OOMKillCount()
	if err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "hog")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	err, out := h.run(t)
	var ee interface{ Sys() any }
	if err == nil || !errors.As(err, &ee) {
		t.Fatalf("hog exited without being killed: %v %q", err, out)
	}
	if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("hog ended with %v, want SIGKILL", err)
	}
	after, err := m.OOMKillCount()
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("OOMKillCount went from %d to %d, want it to rise", before, after)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.OOMKill != after {
		t.Errorf("Stats().Memory.OOMKill = %d, want %d", st.Memory.OOMKill, after)
	}
}

func procState(t *testing.T, pid int) byte {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return s[i+2]
}

func TestFreezeThawSignalDestroy(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t, uniquePath(t))
	a, b := startHelper(t, "wait"), startHelper(t, "wait")
	for _, h := range []*helper{a, b} {
		if err := m.Apply(h.pid()); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if fr, err := m.Frozen(); err != nil || !fr {
		t.Fatalf("Frozen() = %v, %v after Freeze", fr, err)
	}
	// A frozen task sleeps uninterruptibly: /proc shows D.
	waitFor(t, "frozen task state D", func() bool { return procState(t, a.pid()) == 'D' })
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if fr, err := m.Frozen(); err != nil || fr {
		t.Fatalf("Frozen() = %v, %v after Thaw", fr, err)
	}
	waitFor(t, "thawed task leaves state D", func() bool { return procState(t, a.pid()) != 'D' })

	// Destroy refuses while processes live, and leaves the cgroup intact.
	if err := removeTree(m.Path("memory"), time.Now()); err == nil || !errors.Is(err, unix.EBUSY) {
		t.Fatalf("removing a busy cgroup: %v, want EBUSY", err)
	}

	// Killing a paused container thaws it so that the kill lands.
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := m.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*helper{a, b} {
		err := <-h.done
		h.done <- err
		var ee interface{ Sys() any }
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("helper %d ended with %v, want SIGKILL", h.pid(), err)
		}
	}
	waitFor(t, "empty cgroup", func() bool { p, err := m.Pids(); return err == nil && len(p) == 0 })
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Fatal("cgroup exists after Destroy")
	}
	for name, dir := range m.Paths() {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("hierarchy %q: %s still there (%v)", name, dir, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
}

func TestSetFailureLeavesNothing(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tc := range []struct {
		name  string
		r     *specs.LinuxResources
		field string
		kind  error
	}{
		{"cpu not on host", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "4095"}}, "linux.resources.cpu.cpus", errdefs.ErrInvalidArgument},
		{"bad hugepage size", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "3MB", Limit: 1}}}, "linux.resources.hugepageLimits[0].pageSize", errdefs.ErrUnavailable},
		{"negative memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-5)}}, "linux.resources.memory.limit", errdefs.ErrInvalidArgument},
		{"unified on a v1 controller", &specs.LinuxResources{Unified: map[string]string{"memory.high": "1000000"}}, `linux.resources.unified["memory.high"]`, errdefs.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unified on a v1 controller" && Mode() == Unified {
				t.Skip("memory is on v2 here")
			}
			parent := uniquePath(t)
			m := newTestManager(t, parent+"/c")
			t.Cleanup(func() { _ = newManagerForCleanup(parent).Destroy() })
			err := m.Set(tc.r)
			if err == nil {
				t.Fatal("Set succeeded")
			}
			if !errors.Is(err, tc.kind) || !strings.HasPrefix(err.Error(), tc.field+":") {
				t.Fatalf("Set: %v; want %v naming %s", err, tc.kind, tc.field)
			}
			if m.Exists() || newManagerForCleanup(parent).Exists() {
				t.Fatalf("a failed Set left a cgroup behind: %v", m.Paths())
			}
		})
	}
}

func newManagerForCleanup(p string) Manager {
	m, err := New(p)
	if err != nil {
		panic(err)
	}
	return m
}

func TestRelativePathIsUnderOwnCgroup(t *testing.T) {
	testutil.RequireRoot(t)
	top := strings.TrimPrefix(uniquePath(t), "/")
	m := newTestManager(t, top+"/inner")
	t.Cleanup(func() { _ = newManagerForCleanup(top).Destroy() })
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	l, _ := hostLayout()
	for _, h := range l.v1 {
		want := filepath.Join(h.mountpoint, h.self, top, "inner")
		if got := m.Paths()[h.name]; got != want {
			t.Errorf("%s: %s, want %s", h.name, got, want)
		}
		if _, err := os.Stat(want); err != nil {
			t.Error(err)
		}
	}
}

// A parent left with an empty cpuset by another tool is seeded too, or no
// task could join below it.
func TestEmptyCpusetParentIsSeeded(t *testing.T) {
	testutil.RequireRoot(t)
	l, _ := hostLayout()
	h := l.owner["cpuset"]
	if h == nil || h == l.v2 {
		t.Skip("no v1 cpuset hierarchy")
	}
	parent := uniquePath(t)
	dir := h.dirFor(parent)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := newTestManager(t, parent+"/c")
	t.Cleanup(func() { _ = newManagerForCleanup(parent).Destroy() })
	if got, _ := readString(dir, "cpuset.cpus"); got != "" {
		t.Skipf("kernel seeds new cpusets (%q)", got)
	}
	w := startHelper(t, "wait")
	if err := m.Apply(w.pid()); err != nil {
		t.Fatal(err)
	}
	if got, _ := readString(m.Path("cpuset"), "cpuset.cpus"); got == "" {
		t.Fatal("cpuset.cpus is empty")
	}
}

func TestApplyFailureLeavesNothing(t *testing.T) {
	testutil.RequireRoot(t)
	parent := uniquePath(t)
	m := newTestManager(t, parent+"/c")
	t.Cleanup(func() { _ = newManagerForCleanup(parent).Destroy() })
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	err := m.Apply(gone.Process.Pid)
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Apply of an exited pid: %v, want ErrNotFound", err)
	}
	if m.Exists() || newManagerForCleanup(parent).Exists() {
		t.Fatalf("a failed Apply left a cgroup behind: %v", m.Paths())
	}
	if err := m.Apply(0); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("Apply(0): %v", err)
	}
}

// memory+swap must stay above the memory limit at every step on v1, so
// raising and lowering both take opposite orders.
func TestMemorySwapOrderOnHost(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t, uniquePath(t))
	for _, step := range []struct{ limit, swap int64 }{
		{64 << 20, 128 << 20},
		{256 << 20, 512 << 20},
		{32 << 20, 32 << 20},
		{-1, -1},
	} {
		err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(step.limit), Swap: i64(step.swap)}})
		if errors.Is(err, errdefs.ErrUnavailable) {
			t.Skipf("no swap limit on this host: %v", err)
		}
		if err != nil {
			t.Fatalf("limit %d swap %d: %v", step.limit, step.swap, err)
		}
		mm := m.(*manager)
		dir, v2 := mm.dirOf("memory")
		if v2 {
			continue
		}
		lim, _ := readString(dir, "memory.limit_in_bytes")
		sw, _ := readString(dir, "memory.memsw.limit_in_bytes")
		if step.limit > 0 && (lim != strconv.FormatInt(step.limit, 10) || sw != strconv.FormatInt(step.swap, 10)) {
			t.Errorf("after %+v: limit %s, memsw %s", step, lim, sw)
		}
		if step.limit == -1 && (lim != sw || len(lim) < 15) {
			t.Errorf("after lifting: limit %s, memsw %s, want both unlimited", lim, sw)
		}
	}
}
