package engine

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/errdefs"
)

// ResourceUpdater is a runtime that can change the cgroup limits of a
// running container (the OCI runtimes' update).
type ResourceUpdater interface {
	UpdateResources(ctx context.Context, id string, res *specs.LinuxResources) error
}

// UpdateRequest is what `berth update` changes; nil fields stay as they are.
type UpdateRequest struct {
	Memory        *int64 // bytes; 0 removes the limit
	MemorySwap    *int64 // bytes of memory plus swap; -1 unlimited swap
	NanoCpus      *int64 // CPU quota in billionths of a CPU; 0 removes it
	CpuShares     *int64 //nolint:revive // docker's spelling
	CpusetCpus    *string
	PidsLimit     *int64 // 0 or -1 removes the limit
	RestartPolicy *RestartPolicy
	// CpuPeriod and CpuQuota are CFS microseconds (a quota of 0 or -1
	// removes it), CpusetMems memory nodes, MemoryReservation a soft
	// limit in bytes (0 removes it), BlkioWeight 10 to 1000 (0: unchanged).
	CpuPeriod         *int64  //nolint:revive // docker's spelling
	CpuQuota          *int64  //nolint:revive // docker's spelling
	CpusetMems        *string //nolint:revive // docker's spelling
	MemoryReservation *int64
	BlkioWeight       *uint16
}

// minMemory is docker's smallest memory limit.
const minMemory = 6 * 1024 * 1024

// UpdateContainer changes a container's resource limits and restart
// policy, as docker update: a running container's cgroup is changed at
// once through its runtime, and the record keeps the new values so every
// later start applies them.
func (e *Engine) UpdateContainer(ctx context.Context, ref string, req UpdateRequest) error {
	c, err := e.Load(ctx, ref)
	if err != nil {
		return err
	}
	c, err = e.Update(c.ID, func(c *Container) error {
		if c.State.Status == StatusRemoving || c.State.Dead {
			return fmt.Errorf("container %s is marked for removal and cannot be updated: %w", c.Name, errdefs.ErrConflict)
		}
		h, res, err := applyUpdate(c.HostConfig, req)
		if err != nil {
			return err
		}
		if c.State.Running && !c.State.Restarting && res != nil {
			u, ok := e.RuntimeFor(c).(ResourceUpdater)
			if !ok {
				return fmt.Errorf("the runtime of %s cannot update a running container: %w", c.Name, errdefs.ErrNotImplemented)
			}
			if err := u.UpdateResources(ctx, c.ID, res); err != nil {
				return fmt.Errorf("cannot update container %s: %w", c.ID, err)
			}
		}
		c.HostConfig = h
		return nil
	})
	if err != nil {
		return err
	}
	e.EmitContainer(c, "update", nil)
	return nil
}

// applyUpdate returns the host config with req applied and the cgroup
// resources that changed (nil when only the restart policy did).
func applyUpdate(h HostConfig, req UpdateRequest) (HostConfig, *specs.LinuxResources, error) {
	inval := func(format string, a ...any) (HostConfig, *specs.LinuxResources, error) {
		return h, nil, fmt.Errorf(format+": %w", append(a, errdefs.ErrInvalidArgument)...)
	}
	if p := req.RestartPolicy; p != nil {
		if h.AutoRemove && p.Name != "" && p.Name != "no" {
			return inval("restart policy cannot be updated because AutoRemove is enabled for the container")
		}
		h.RestartPolicy = *p
	}
	memChanged := req.Memory != nil || req.MemorySwap != nil || req.MemoryReservation != nil
	if req.Memory != nil {
		m := *req.Memory
		if m != 0 && m < minMemory {
			return inval("minimum memory limit allowed is 6MB")
		}
		if m < 0 {
			return inval("invalid memory limit %d", m)
		}
		if req.MemorySwap == nil && h.MemorySwap > 0 && m > h.MemorySwap {
			return inval("memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
		}
		h.Memory = m
		if m == 0 && req.MemorySwap == nil {
			h.MemorySwap = 0
		}
	}
	if req.MemorySwap != nil {
		s := *req.MemorySwap
		if s < -1 {
			return inval("invalid memory swap limit %d", s)
		}
		if s != 0 && h.Memory == 0 {
			return inval("you should always set the memory limit when using memoryswap limit, see usage")
		}
		if s > 0 && s < h.Memory {
			return inval("minimum memoryswap limit should be larger than memory limit, see usage")
		}
		h.MemorySwap = s
	}
	if req.MemoryReservation != nil {
		h.MemoryReservation = *req.MemoryReservation
	}
	// --cpus sets the period and quota itself: docker refuses to change
	// one kind while the other is set.
	switch {
	case req.NanoCpus != nil && *req.NanoCpus > 0 && h.CpuPeriod > 0 && req.CpuPeriod == nil:
		return inval("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
	case req.NanoCpus != nil && *req.NanoCpus > 0 && h.CpuQuota > 0 && req.CpuQuota == nil:
		return inval("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
	case req.CpuPeriod != nil && *req.CpuPeriod > 0 && h.NanoCpus > 0 && req.NanoCpus == nil:
		return inval("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
	case req.CpuQuota != nil && *req.CpuQuota > 0 && h.NanoCpus > 0 && req.NanoCpus == nil:
		return inval("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
	}
	if req.CpuPeriod != nil {
		h.CpuPeriod = *req.CpuPeriod
	}
	if req.CpuQuota != nil {
		h.CpuQuota = max(*req.CpuQuota, 0)
	}
	if req.CpusetMems != nil {
		h.CpusetMems = *req.CpusetMems
	}
	// As in docker, a weight of 0 changes nothing: the runtimes cannot
	// restore the kernel's default weight.
	blkioChanged := req.BlkioWeight != nil && *req.BlkioWeight != 0
	if blkioChanged {
		h.BlkioWeight = *req.BlkioWeight
	}
	cfsChanged := req.CpuPeriod != nil || req.CpuQuota != nil
	cpuChanged := req.NanoCpus != nil || req.CpuShares != nil || req.CpusetCpus != nil || cfsChanged || req.CpusetMems != nil
	if req.NanoCpus != nil {
		n := *req.NanoCpus
		if n < 0 || n > int64(runtime.NumCPU())*1e9 {
			return inval("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", runtime.NumCPU(), runtime.NumCPU())
		}
		h.NanoCpus = n
	}
	if req.CpuShares != nil {
		if *req.CpuShares < 0 {
			return inval("invalid CPU shares %d", *req.CpuShares)
		}
		h.CpuShares = *req.CpuShares
	}
	if req.CpusetCpus != nil {
		if err := checkCpuset(*req.CpusetCpus, runtime.NumCPU()); err != nil {
			return h, nil, err
		}
		h.CpusetCpus = *req.CpusetCpus
	}
	if req.PidsLimit != nil {
		h.PidsLimit = max(*req.PidsLimit, 0)
	}
	if err := checkResources(h); err != nil {
		return h, nil, err
	}
	if !memChanged && !cpuChanged && req.PidsLimit == nil && !blkioChanged {
		return h, nil, nil
	}
	full := &specs.LinuxResources{}
	if err := applyResources(full, h); err != nil {
		return h, nil, err
	}
	res := &specs.LinuxResources{}
	if memChanged {
		res.Memory = full.Memory
		if res.Memory == nil {
			res.Memory = &specs.LinuxMemory{}
		}
		unlimited := int64(-1)
		if res.Memory.Limit == nil {
			res.Memory.Limit = &unlimited
		}
		if res.Memory.Swap == nil {
			res.Memory.Swap = &unlimited
		}
		if req.MemoryReservation != nil && res.Memory.Reservation == nil {
			res.Memory.Reservation = &unlimited
		}
	}
	if blkioChanged {
		w := h.BlkioWeight
		res.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	if cpuChanged {
		res.CPU = &specs.LinuxCPU{}
		if req.NanoCpus != nil {
			period, quota := uint64(100000), int64(-1)
			if full.CPU != nil && full.CPU.Quota != nil {
				period, quota = *full.CPU.Period, *full.CPU.Quota
			}
			res.CPU.Period, res.CPU.Quota = &period, &quota
		} else if cfsChanged {
			res.CPU.Period, res.CPU.Quota = cfs(h)
		}
		if req.CpuShares != nil {
			shares := uint64(h.CpuShares)
			if shares == 0 {
				shares = 1024 // the kernel's default weight
			}
			res.CPU.Shares = &shares
		}
		if req.CpusetCpus != nil {
			res.CPU.Cpus = h.CpusetCpus
			if res.CPU.Cpus == "" {
				res.CPU.Cpus = fmt.Sprintf("0-%d", runtime.NumCPU()-1)
			}
		}
		if req.CpusetMems != nil {
			res.CPU.Mems = h.CpusetMems
			if res.CPU.Mems == "" {
				res.CPU.Mems = onlineMems()
			}
		}
	}
	if req.PidsLimit != nil {
		limit := h.PidsLimit
		if limit == 0 {
			limit = -1
		}
		res.Pids = &specs.LinuxPids{Limit: &limit}
	}
	return h, res, nil
}

// checkCpuset validates a cpuset list ("0-2,4") against the CPUs there are.
func checkCpuset(s string, ncpu int) error {
	if s == "" {
		return nil
	}
	bad := fmt.Errorf("invalid value %q for cpuset cpus: %w", s, errdefs.ErrInvalidArgument)
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return bad
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return bad
			}
		}
		if b >= ncpu {
			return fmt.Errorf("requested CPUs are not available - requested %s, available: 0-%d: %w", s, ncpu-1, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// ParseRestartPolicy reads --restart: no, always, unless-stopped or on-failure[:N].
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, maxRetry, hasMax := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no", "always", "unless-stopped":
		if hasMax {
			return p, fmt.Errorf("invalid restart policy %q: maximum retry count cannot be used with restart policy %q: %w", s, name, errdefs.ErrInvalidArgument)
		}
	case "on-failure":
		if hasMax {
			n, err := strconv.Atoi(maxRetry)
			if err != nil || n < 0 {
				return p, fmt.Errorf("invalid restart policy %q: maximum retry count must be a positive integer: %w", s, errdefs.ErrInvalidArgument)
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, fmt.Errorf("invalid restart policy %q: want no, always, unless-stopped or on-failure[:N]: %w", s, errdefs.ErrInvalidArgument)
	}
	return p, nil
}
