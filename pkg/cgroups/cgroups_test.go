package cgroups

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/errdefs"
)

func TestValidatePath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/berth/abc", "/berth/abc", true},
		{"berth/abc", "berth/abc", true},
		{"/berth//abc/", "/berth/abc", true},
		{"a", "a", true},
		{"", "", false},
		{"/", "", false},
		{"/berth/../etc", "", false},
		{"..", "", false},
		{"a/../../b", "", false},
		{"/berth/./x", "/berth/x", true},
		{"/berth/cgroup.procs", "", false},
		{"system.slice:berth:abc", "", false},
		{"/a\x00b", "", false},
	} {
		got, err := ValidatePath(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ValidatePath(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ValidatePath(%q): %v is not ErrInvalidArgument", tc.in, err)
		}
	}
}

func TestSharesToWeight(t *testing.T) {
	for in, want := range map[uint64]uint64{2: 1, 1024: 39, 262144: 10000, 512: 20} {
		if got := sharesToWeight(in); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[uint16]uint64{10: 1, 1000: 10000, 500: 4950} {
		if got := blkioWeightToIO(in); got != want {
			t.Errorf("blkioWeightToIO(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestIgnored(t *testing.T) {
	k := int64(1 << 20)
	no := false
	got := Ignored(&specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: &k, KernelTCP: &k, UseHierarchy: &no}})
	if len(got) != 3 || !strings.HasPrefix(got[0], "linux.resources.memory.kernel:") {
		t.Fatalf("Ignored = %q", got)
	}
	if got := Ignored(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &k}}); got != nil {
		t.Fatalf("Ignored = %q", got)
	}
	if f := Features(); !*f.V1 || !*f.V2 || *f.Systemd {
		t.Fatalf("Features = %+v", f)
	}
}

func TestListAndSizeSyntax(t *testing.T) {
	for _, c := range []struct {
		s        string
		cpu, pgs bool
	}{
		{"0", true, false}, {"0-3", true, false}, {"0,2-3,7", true, false}, {"12-", false, false},
		{"", false, false}, {"a", false, false}, {"1,,2", false, false}, {"1-2-3", false, false}, {" 1", false, false},
		{"2MB", false, true}, {"1GB", false, true}, {"64KB", false, true}, {"02MB", false, false},
		{"MB", false, false}, {"2TB", false, false}, {"2M", false, false}, {"2mb", false, false},
	} {
		if got := isCPUList(c.s); got != c.cpu {
			t.Errorf("isCPUList(%q) = %v", c.s, got)
		}
		if got := isPageSize(c.s); got != c.pgs {
			t.Errorf("isPageSize(%q) = %v", c.s, got)
		}
	}
}
