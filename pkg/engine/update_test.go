package engine

import (
	"errors"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
)

func i64(v int64) *int64   { return &v }
func str(s string) *string { return &s }

func TestApplyUpdate(t *testing.T) {
	const mb = 1024 * 1024
	for _, tc := range []struct {
		name    string
		h       HostConfig
		req     UpdateRequest
		check   func(t *testing.T, h HostConfig, res resourcesView)
		wantErr bool
	}{
		{name: "memory keeps docker's default swap", h: HostConfig{Memory: 64 * mb}, req: UpdateRequest{Memory: i64(128 * mb)},
			check: func(t *testing.T, h HostConfig, r resourcesView) {
				if h.Memory != 128*mb || r.limit != 128*mb || r.swap != 256*mb {
					t.Fatalf("memory %d, limit %d, swap %d", h.Memory, r.limit, r.swap)
				}
			}},
		{name: "memory above an explicit swap", h: HostConfig{Memory: 64 * mb, MemorySwap: 100 * mb}, req: UpdateRequest{Memory: i64(128 * mb)}, wantErr: true},
		{name: "memory with swap", h: HostConfig{Memory: 64 * mb, MemorySwap: 100 * mb}, req: UpdateRequest{Memory: i64(128 * mb), MemorySwap: i64(200 * mb)},
			check: func(t *testing.T, h HostConfig, r resourcesView) {
				if r.limit != 128*mb || r.swap != 200*mb {
					t.Fatalf("limit %d swap %d", r.limit, r.swap)
				}
			}},
		{name: "memory too small", req: UpdateRequest{Memory: i64(mb)}, wantErr: true},
		{name: "swap without memory", req: UpdateRequest{MemorySwap: i64(100 * mb)}, wantErr: true},
		{name: "swap below memory", h: HostConfig{Memory: 64 * mb}, req: UpdateRequest{MemorySwap: i64(32 * mb)}, wantErr: true},
		{name: "memory removed", h: HostConfig{Memory: 64 * mb}, req: UpdateRequest{Memory: i64(0)},
			check: func(t *testing.T, h HostConfig, r resourcesView) {
				if h.Memory != 0 || r.limit != -1 || r.swap != -1 {
					t.Fatalf("memory %d limit %d swap %d", h.Memory, r.limit, r.swap)
				}
			}},
		{name: "cpus", req: UpdateRequest{NanoCpus: i64(5e8)},
			check: func(t *testing.T, h HostConfig, r resourcesView) {
				if h.NanoCpus != 5e8 || r.quota != 50000 || r.period != 100000 {
					t.Fatalf("nanocpus %d quota %d period %d", h.NanoCpus, r.quota, r.period)
				}
			}},
		{name: "cpus removed", h: HostConfig{NanoCpus: 5e8}, req: UpdateRequest{NanoCpus: i64(0)},
			check: func(t *testing.T, h HostConfig, r resourcesView) {
				if r.quota != -1 {
					t.Fatalf("quota %d, want -1", r.quota)
				}
			}},
		{name: "too many cpus", req: UpdateRequest{NanoCpus: i64(1 << 40)}, wantErr: true},
		{name: "cpuset", req: UpdateRequest{CpusetCpus: str("0")},
			check: func(t *testing.T, h HostConfig, r resourcesView) {
				if h.CpusetCpus != "0" || r.cpus != "0" {
					t.Fatalf("cpuset %q %q", h.CpusetCpus, r.cpus)
				}
			}},
		{name: "bad cpuset", req: UpdateRequest{CpusetCpus: str("1-0")}, wantErr: true},
		{name: "absent cpu", req: UpdateRequest{CpusetCpus: str("4096")}, wantErr: true},
		{name: "pids unlimited", h: HostConfig{PidsLimit: 20}, req: UpdateRequest{PidsLimit: i64(-1)},
			check: func(t *testing.T, h HostConfig, r resourcesView) {
				if h.PidsLimit != 0 || r.pids != -1 {
					t.Fatalf("pids %d %d", h.PidsLimit, r.pids)
				}
			}},
		{name: "restart only", req: UpdateRequest{RestartPolicy: &RestartPolicy{Name: "always"}},
			check: func(t *testing.T, h HostConfig, r resourcesView) {
				if h.RestartPolicy.Name != "always" || r.any {
					t.Fatalf("policy %+v, resources %+v", h.RestartPolicy, r)
				}
			}},
		{name: "restart with --rm", h: HostConfig{AutoRemove: true}, req: UpdateRequest{RestartPolicy: &RestartPolicy{Name: "always"}}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, res, err := applyUpdate(tc.h, tc.req)
			if tc.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("error %v, want ErrInvalidArgument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v := resourcesView{any: res != nil}
			if res != nil {
				if m := res.Memory; m != nil {
					v.limit, v.swap = *m.Limit, *m.Swap
				}
				if c := res.CPU; c != nil {
					if c.Quota != nil {
						v.quota, v.period = *c.Quota, int64(*c.Period)
					}
					v.cpus = c.Cpus
				}
				if res.Pids != nil {
					v.pids = *res.Pids.Limit
				}
			}
			tc.check(t, h, v)
		})
	}
}

type resourcesView struct {
	any                              bool
	limit, swap, quota, period, pids int64
	cpus                             string
}

func TestParseRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RestartPolicy
		err  bool
	}{
		{"no", RestartPolicy{Name: "no"}, false},
		{"always", RestartPolicy{Name: "always"}, false},
		{"unless-stopped", RestartPolicy{Name: "unless-stopped"}, false},
		{"on-failure", RestartPolicy{Name: "on-failure"}, false},
		{"on-failure:3", RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, false},
		{"on-failure:-1", RestartPolicy{}, true},
		{"always:2", RestartPolicy{}, true},
		{"sometimes", RestartPolicy{}, true},
	} {
		got, err := ParseRestartPolicy(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParseRestartPolicy(%q) = %+v, %v", tc.in, got, err)
		}
	}
}
