package cgroups

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
)

// v2OnlyLayout treats the host's v2 tree as if it were the only one, as on
// a pure v2 host: the core v2 features (cgroup.procs, cgroup.freeze,
// cgroup.events, cgroup.kill, eBPF device filter) and whatever
// controllers the tree offers then run against the real kernel even on a
// hybrid host.
func v2OnlyLayout(t *testing.T) *layout {
	t.Helper()
	l, err := hostLayout()
	if err != nil || l.v2 == nil {
		t.Skip("no cgroup v2 tree on this host")
	}
	v2 := *l.v2
	fake := &layout{mode: Unified, v2: &v2, owner: map[string]*hierarchy{}}
	for _, c := range append(v2.controllers, "freezer", "devices") {
		fake.owner[c] = fake.v2
	}
	return fake
}

func TestV2CoreOnKernel(t *testing.T) {
	testutil.RequireRoot(t)
	l := v2OnlyLayout(t)
	m := newManager(l, uniquePath(t)+"/ctr")
	t.Cleanup(func() {
		_ = m.Thaw()
		_ = m.Signal(syscall.SIGKILL)
		if err := m.Destroy(); err != nil {
			t.Error(err)
		}
		_ = removeTree(l.v2.dirFor(uniqueParent(m)), timeAfter(5))
	})
	r := &specs.LinuxResources{Devices: nullOnly}
	if contains(l.v2.controllers, "hugetlb") && contains(hugePageSizes(), "2MB") {
		r.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 2 << 20}}
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	if r.HugepageLimits != nil {
		if got, _ := readString(m.Path(""), "hugetlb.2MB.max"); got != "2097152" {
			t.Errorf("hugetlb.2MB.max = %q", got)
		}
	}

	// The device filter of Set is enforced on a process that joins.
	h := startHelper(t, "open")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	if err, out := h.run(t); err != nil || out != nullOnlyWant {
		t.Fatalf("helper: %v\n%s\nwant\n%s", err, out, nullOnlyWant)
	}

	a, b := startHelper(t, "wait"), startHelper(t, "wait")
	for _, h := range []*helper{a, b} {
		if err := m.Apply(h.pid()); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	// The v2 freezer parks tasks in a job-control trap inside get_signal
	// (do_freezer_trap, inlined); /proc/PID/wchan shows it.
	waitFor(t, "frozen task parked in get_signal", func() bool { return wchan(t, a.pid()) == "get_signal" })
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "thawed task back from get_signal", func() bool { return wchan(t, a.pid()) != "get_signal" })

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
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Fatal("cgroup exists after Destroy")
	}
}

// uniqueParent returns the parent cgroup path of m's v2 directory,
// relative to the mount, for cleanup.
func uniqueParent(m *manager) string {
	d := m.Path("")
	rel := d[len(m.lay.v2.mountpoint):]
	for i := len(rel) - 1; i > 0; i-- {
		if rel[i] == '/' {
			return rel[:i]
		}
	}
	return rel
}

func wchan(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/wchan")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
