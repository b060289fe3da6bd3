package engine

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/errdefs"
)

func TestCheckResources(t *testing.T) {
	const mb = 1024 * 1024
	for _, tc := range []struct {
		h    HostConfig
		want string // "" for valid
	}{
		{HostConfig{CpuPeriod: 50000, CpuQuota: 25000}, ""},
		{HostConfig{CpuQuota: -1}, ""},
		{HostConfig{CpuPeriod: 999}, "CPU cfs period can not be less than 1ms"},
		{HostConfig{CpuPeriod: 1000001}, "larger than 1 second"},
		{HostConfig{CpuQuota: 999}, "CPU cfs quota can not be less than 1ms"},
		{HostConfig{NanoCpus: 5e8, CpuPeriod: 50000}, "Nano CPUs and CPU Period cannot both be set"},
		{HostConfig{NanoCpus: 5e8, CpuQuota: 50000}, "Nano CPUs and CPU Quota cannot both be set"},
		{HostConfig{BlkioWeight: 10}, ""},
		{HostConfig{BlkioWeight: 9}, "Range of blkio weight is from 10 to 1000"},
		{HostConfig{BlkioWeight: 1001}, "Range of blkio weight is from 10 to 1000"},
		{HostConfig{MemoryReservation: 5 * mb}, "Minimum memory reservation allowed is 6MB"},
		{HostConfig{Memory: 64 * mb, MemoryReservation: 128 * mb}, "Minimum memory limit can not be less than memory reservation limit"},
		{HostConfig{Memory: 64 * mb, MemoryReservation: 32 * mb}, ""},
		{HostConfig{CpusetMems: "0"}, ""},
		{HostConfig{CpusetMems: "1-0"}, "Invalid value 1-0 for cpuset mems"},
		{HostConfig{CpusetMems: "4095"}, "Requested memory nodes are not available"},
	} {
		err := checkResources(tc.h)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.h, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errdefs.ErrInvalidArgument)):
			t.Errorf("%+v: error %v, want %q", tc.h, err, tc.want)
		}
	}
}

func TestApplyResourcesSpec(t *testing.T) {
	const mb = 1024 * 1024
	var r specs.LinuxResources
	h := HostConfig{CpuPeriod: 50000, CpuQuota: 25000, CpusetMems: "0", MemoryReservation: 32 * mb, BlkioWeight: 300}
	if err := applyResources(&r, h); err != nil {
		t.Fatal(err)
	}
	if r.CPU == nil || *r.CPU.Period != 50000 || *r.CPU.Quota != 25000 || r.CPU.Mems != "0" {
		t.Errorf("cpu %+v", r.CPU)
	}
	if r.Memory == nil || *r.Memory.Reservation != 32*mb || r.Memory.Limit != nil {
		t.Errorf("memory %+v", r.Memory)
	}
	if r.BlockIO == nil || *r.BlockIO.Weight != 300 {
		t.Errorf("blkio %+v", r.BlockIO)
	}
	// Only a quota: the kernel's default period.
	r = specs.LinuxResources{}
	applyResources(&r, HostConfig{CpuQuota: 20000})
	if *r.CPU.Period != 100000 || *r.CPU.Quota != 20000 {
		t.Errorf("quota only: %d/%d", *r.CPU.Period, *r.CPU.Quota)
	}
}

func TestApplyUpdateCFSAndMore(t *testing.T) {
	const mb = 1024 * 1024
	u16 := func(v uint16) *uint16 { return &v }
	for _, tc := range []struct {
		name    string
		h       HostConfig
		req     UpdateRequest
		want    string // error text, "" for success
		checkFn func(t *testing.T, h HostConfig, r *specs.LinuxResources)
	}{
		{name: "period and quota", req: UpdateRequest{CpuPeriod: i64(50000), CpuQuota: i64(10000)},
			checkFn: func(t *testing.T, h HostConfig, r *specs.LinuxResources) {
				if h.CpuPeriod != 50000 || h.CpuQuota != 10000 || *r.CPU.Period != 50000 || *r.CPU.Quota != 10000 {
					t.Fatalf("%d/%d %+v", h.CpuPeriod, h.CpuQuota, r.CPU)
				}
			}},
		{name: "quota removed", h: HostConfig{CpuPeriod: 50000, CpuQuota: 10000}, req: UpdateRequest{CpuQuota: i64(-1)},
			checkFn: func(t *testing.T, h HostConfig, r *specs.LinuxResources) {
				if h.CpuQuota != 0 || *r.CPU.Quota != -1 || *r.CPU.Period != 50000 {
					t.Fatalf("%d %+v", h.CpuQuota, r.CPU)
				}
			}},
		{name: "quota while cpus set", h: HostConfig{NanoCpus: 1e9}, req: UpdateRequest{CpuQuota: i64(50000)},
			want: "CPU Quota cannot be updated as NanoCPUs has already been set"},
		{name: "cpus while period set", h: HostConfig{CpuPeriod: 50000}, req: UpdateRequest{NanoCpus: i64(1e9)},
			want: "CPU Period cannot be updated as NanoCPUs has already been set"},
		{name: "bad period", req: UpdateRequest{CpuPeriod: i64(10)}, want: "CPU cfs period can not be less than 1ms"},
		{name: "reservation", h: HostConfig{Memory: 64 * mb}, req: UpdateRequest{MemoryReservation: i64(32 * mb)},
			checkFn: func(t *testing.T, h HostConfig, r *specs.LinuxResources) {
				if h.MemoryReservation != 32*mb || *r.Memory.Reservation != 32*mb || *r.Memory.Limit != 64*mb {
					t.Fatalf("%d %+v", h.MemoryReservation, r.Memory)
				}
			}},
		{name: "reservation above memory", h: HostConfig{Memory: 64 * mb}, req: UpdateRequest{MemoryReservation: i64(128 * mb)},
			want: "Minimum memory limit can not be less than memory reservation limit"},
		{name: "blkio", req: UpdateRequest{BlkioWeight: u16(200)},
			checkFn: func(t *testing.T, h HostConfig, r *specs.LinuxResources) {
				if h.BlkioWeight != 200 || *r.BlockIO.Weight != 200 || r.CPU != nil || r.Memory != nil {
					t.Fatalf("%d %+v", h.BlkioWeight, r)
				}
			}},
		{name: "blkio 0 changes nothing", h: HostConfig{BlkioWeight: 300}, req: UpdateRequest{BlkioWeight: u16(0)},
			checkFn: func(t *testing.T, h HostConfig, r *specs.LinuxResources) {
				if h.BlkioWeight != 300 || r != nil {
					t.Fatalf("%d %+v", h.BlkioWeight, r)
				}
			}},
		{name: "blkio range", req: UpdateRequest{BlkioWeight: u16(5)}, want: "Range of blkio weight is from 10 to 1000"},
		{name: "mems", req: UpdateRequest{CpusetMems: str("0")},
			checkFn: func(t *testing.T, h HostConfig, r *specs.LinuxResources) {
				if h.CpusetMems != "0" || r.CPU.Mems != "0" || r.CPU.Quota != nil {
					t.Fatalf("%q %+v", h.CpusetMems, r.CPU)
				}
			}},
		{name: "absent mems", req: UpdateRequest{CpusetMems: str("4095")}, want: "Requested memory nodes are not available"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, res, err := applyUpdate(tc.h, tc.req)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.checkFn(t, h, res)
		})
	}
}
