package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/testutil"
)

// nullOnly allows reading /dev/null (char 1:3) and denies everything else.
var nullOnly = []specs.LinuxDeviceCgroup{
	{Allow: false, Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "r"},
}

const nullOnlyWant = `/dev/null 0 ok
/dev/null 1 denied
/dev/zero 0 denied
/dev/zero 1 denied
`

func TestV1DeviceRule(t *testing.T) {
	for _, tc := range []struct {
		in   specs.LinuxDeviceCgroup
		want string
	}{
		{specs.LinuxDeviceCgroup{Access: "rwm"}, "a"},
		{specs.LinuxDeviceCgroup{Type: "a"}, "a"},
		{specs.LinuxDeviceCgroup{Type: "c", Major: i64(1), Minor: i64(3), Access: "rw"}, "c 1:3 rw"},
		{specs.LinuxDeviceCgroup{Type: "b", Major: i64(8), Minor: i64(-1)}, "b 8:* rwm"},
		{specs.LinuxDeviceCgroup{Type: "c", Access: "m"}, "c *:* m"},
		{specs.LinuxDeviceCgroup{Access: "r"}, "a *:* r"},
	} {
		if got := v1DeviceRule(tc.in); got != tc.want {
			t.Errorf("v1DeviceRule(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDiffDevices(t *testing.T) {
	rules := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "r"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(136), Access: "rw"},
	}
	for _, tc := range []struct {
		list           string
		denies, allows []string
		ok             bool
	}{
		{"a *:* rwm\n", nil, nil, false},
		{"", nil, []string{"c 136:* rw", "c 1:3 r", "c 1:5 rwm"}, true},
		{"c 1:3 rw\nc 1:5 rwm\nc 1:7 rwm\n", []string{"c 1:3 w", "c 1:7 rwm"}, []string{"c 136:* rw"}, true},
		{"c 1:3 r\nc 1:5 rwm\nc 136:* rw\n", nil, nil, true},
	} {
		d, a, ok := diffDevices(tc.list, rules)
		if ok != tc.ok || strings.Join(d, ",") != strings.Join(tc.denies, ",") || strings.Join(a, ",") != strings.Join(tc.allows, ",") {
			t.Errorf("diffDevices(%q) = %q, %q, %v; want %q, %q, %v", tc.list, d, a, ok, tc.denies, tc.allows, tc.ok)
		}
	}
	// Rules of another shape go the ordered way.
	if _, _, ok := diffDevices("", []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}); ok {
		t.Error("allow-all rules took the diff path")
	}
}

func TestDevicesOnHost(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t, uniquePath(t))
	if err := m.Set(&specs.LinuxResources{Devices: nullOnly}); err != nil {
		t.Fatal(err)
	}
	if dir, v2 := m.(*manager).dirOf("devices"); !v2 {
		list, err := readString(dir, "devices.list")
		if err != nil {
			t.Fatal(err)
		}
		if list != "c 1:3 r" {
			t.Errorf("devices.list = %q, want %q", list, "c 1:3 r")
		}
	}
	h := startHelper(t, "open")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	if err, out := h.run(t); err != nil || out != nullOnlyWant {
		t.Fatalf("helper: %v\n%s\nwant\n%s", err, out, nullOnlyWant)
	}

	// An update of a running cgroup lands on the new list exactly.
	update := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rw"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "r"},
	}
	if err := m.Set(&specs.LinuxResources{Devices: update}); err != nil {
		t.Fatal(err)
	}
	if dir, v2 := m.(*manager).dirOf("devices"); !v2 {
		list, _ := readString(dir, "devices.list")
		if list != "c 1:3 rw\nc 1:5 r" && list != "c 1:5 r\nc 1:3 rw" {
			t.Errorf("devices.list after update = %q", list)
		}
	}
	h = startHelper(t, "open")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	want := "/dev/null 0 ok\n/dev/null 1 ok\n/dev/zero 0 ok\n/dev/zero 1 denied\n"
	if err, out := h.run(t); err != nil || out != want {
		t.Fatalf("after update: %v\n%s\nwant\n%s", err, out, want)
	}
}

// TestDeviceFilterOnKernel loads the eBPF device filter into a real v2
// cgroup (on hybrid hosts the v2 tree exists even though devices is v1)
// and shows the kernel enforces it, and that an update replaces it.
func TestDeviceFilterOnKernel(t *testing.T) {
	testutil.RequireRoot(t)
	l, err := hostLayout()
	if err != nil || l.v2 == nil {
		t.Skip("no cgroup v2 tree on this host")
	}
	dir := filepath.Join(l.v2.mountpoint, strings.TrimPrefix(uniquePath(t), "/"))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeTree(dir, timeAfter(5)); err != nil {
			t.Error(err)
		}
	})
	if err := attachDeviceFilter(dir, nullOnly); err != nil {
		t.Fatal(err)
	}
	run := func() string {
		h := startHelper(t, "open")
		if err := writeFile(dir, "cgroup.procs", strconvItoa(h.pid())); err != nil {
			t.Fatal(err)
		}
		err, out := h.run(t)
		if err != nil {
			t.Fatalf("helper: %v %s", err, out)
		}
		return out
	}
	if out := run(); out != nullOnlyWant {
		t.Fatalf("with filter:\n%s\nwant\n%s", out, nullOnlyWant)
	}

	// Update: allow everything but writing /dev/zero. Exactly one filter
	// stays attached.
	update := []specs.LinuxDeviceCgroup{
		{Allow: true, Access: "rwm"},
		{Allow: false, Type: "c", Major: i64(1), Minor: i64(5), Access: "w"},
	}
	if err := attachDeviceFilter(dir, update); err != nil {
		t.Fatal(err)
	}
	want := "/dev/null 0 ok\n/dev/null 1 ok\n/dev/zero 0 ok\n/dev/zero 1 denied\n"
	if out := run(); out != want {
		t.Fatalf("after update:\n%s\nwant\n%s", out, want)
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ids, err := queryDeviceFilters(fd)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 {
		t.Fatalf("%d device filters attached after update, want 1", len(ids))
	}
}

func TestDeviceFilterRejectsBadType(t *testing.T) {
	if _, err := deviceFilter([]specs.LinuxDeviceCgroup{{Type: "x"}}); err == nil {
		t.Fatal("deviceFilter accepted type x")
	}
	insns, err := deviceFilter(nullOnly)
	if err != nil {
		t.Fatal(err)
	}
	// Header (7) + allow rule (type, 3 access, major, minor, mov, exit = 8)
	// + deny-all rule (mov, exit), which ends the program.
	if len(insns) != 7+8+2 {
		t.Fatalf("program has %d instructions:\n%v", len(insns), insns)
	}
	// Without a rule for every device, a default (allow) closes it, and
	// rules shadowed by a later catch-all are dropped.
	insns, err = deviceFilter([]specs.LinuxDeviceCgroup{
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(3)},
		{Allow: false, Type: "b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(insns) != 7+3+5+2 {
		t.Fatalf("program has %d instructions:\n%v", len(insns), insns)
	}
}
