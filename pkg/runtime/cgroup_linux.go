package runtime

import (
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroup is the part of pkg/cgroups' Manager the runtime uses.
type cgroup interface {
	Apply(pid int) error
	Set(r *specs.LinuxResources) error
	Freeze() error
	Thaw() error
	Frozen() (bool, error)
	Pids() ([]int, error)
	Signal(sig syscall.Signal) error
	Destroy() error
	Exists() bool
}

// cgroupPath is the container's cgroup: the spec's cgroupsPath, or /berth/ID.
func cgroupPath(spec *specs.Spec, id string) string {
	if spec.Linux != nil && spec.Linux.CgroupsPath != "" {
		return spec.Linux.CgroupsPath
	}
	return "/berth/" + id
}

func (r *Runtime) cgroupOf(rec *record) (cgroup, error) { return newCgroup(rec.CgroupPath) }

// frozen reports whether the container's cgroup is frozen.
func (r *Runtime) frozen(rec *record) (bool, error) {
	cg, err := r.cgroupOf(rec)
	if err != nil {
		return false, err
	}
	return cg.Frozen()
}
