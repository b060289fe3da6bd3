package cgroups

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/errdefs"
)

// rootDevice returns the major:minor of the block device holding /.
func rootDevice(t *testing.T) (int64, int64) {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	maj, min := int64(unix.Major(st.Dev)), int64(unix.Minor(st.Dev))
	if _, err := os.Stat(fmt.Sprintf("/sys/dev/block/%d:%d", maj, min)); err != nil {
		t.Skipf("/ is not on a block device (%d:%d)", maj, min)
	}
	// Throttles apply to whole disks, not partitions.
	if b, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%d:%d/../dev", maj, min)); err == nil {
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &maj, &min); err != nil {
			t.Fatal(err)
		}
	}
	return maj, min
}

func TestBlkioOnHost(t *testing.T) {
	testutil.RequireRoot(t)
	maj, min := rootDevice(t)
	m := newTestManager(t, uniquePath(t))
	dev := specs.LinuxBlockIODevice{Major: maj, Minor: min}
	r := &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 1 << 20}},
		ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 100}},
	}}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d:%d 1048576", maj, min)
	got := readCtrl(t, m, "blkio", "blkio.throttle.read_bps_device", "io.max")
	if !strings.Contains(got, want) && !strings.Contains(got, fmt.Sprintf("%d:%d rbps=1048576", maj, min)) {
		t.Errorf("read throttle = %q, want %q", got, want)
	}

	// A weight needs BFQ; without it the error names the field.
	err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}})
	switch {
	case err == nil:
		got := readCtrl(t, m, "blkio", "blkio.bfq.weight", "io.bfq.weight")
		if !strings.HasSuffix(got, "500") {
			t.Errorf("weight = %q", got)
		}
	case errors.Is(err, errdefs.ErrUnavailable) && strings.HasPrefix(err.Error(), "linux.resources.blockIO.weight:"):
		t.Logf("no BFQ here: %v", err)
	default:
		t.Fatalf("weight: %v", err)
	}

	// A device the kernel does not have is refused, naming the field.
	bad := &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 4000, Minor: 7}, Rate: 1}}}}
	if err := m.Set(bad); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), "linux.resources.blockIO.throttleWriteBpsDevice[0]:") {
		t.Fatalf("unknown device: %v", err)
	}
}

func TestHugetlbOnHost(t *testing.T) {
	testutil.RequireRoot(t)
	if !contains(hugePageSizes(), "2MB") {
		t.Skip("no 2MB huge pages on this host")
	}
	m := newTestManager(t, uniquePath(t))
	if m.Path("hugetlb") == "" {
		t.Skip("no hugetlb controller on this host")
	}
	if err := m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}}); err != nil {
		t.Fatal(err)
	}
	if got := readCtrl(t, m, "hugetlb", "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max"); got != "4194304" {
		t.Errorf("hugetlb limit = %q", got)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Hugetlb["2MB"]; !ok {
		t.Errorf("no 2MB entry in hugetlb stats: %+v", st.Hugetlb)
	}
}
