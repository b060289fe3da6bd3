package cgroups

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Features describes the cgroup support built into this package, for a
// runtime's `features` output: cgroupfs v1 and v2 (and hybrid hosts), RDMA,
// no systemd driver.
func Features() *features.Cgroup {
	yes, no := true, false
	return &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &yes}
}

// Ignored lists the fields of r that Set accepts but does not apply, each
// with the reason, so a runtime can log them.
func Ignored(r *specs.LinuxResources) []string {
	if r == nil || r.Memory == nil {
		return nil
	}
	var out []string
	if r.Memory.Kernel != nil && *r.Memory.Kernel != 0 {
		out = append(out, "linux.resources.memory.kernel: ignored; kernel memory limits are deprecated (Linux 5.4) and kernel memory counts toward memory.limit")
	}
	if r.Memory.KernelTCP != nil && *r.Memory.KernelTCP != 0 {
		out = append(out, "linux.resources.memory.kernelTCP: ignored; kernel memory limits are deprecated (Linux 5.4) and kernel memory counts toward memory.limit")
	}
	if r.Memory.UseHierarchy != nil && !*r.Memory.UseHierarchy {
		out = append(out, "linux.resources.memory.useHierarchy: ignored; accounting is always hierarchical on current kernels")
	}
	return out
}
