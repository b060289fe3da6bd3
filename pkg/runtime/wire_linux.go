package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// These are wired to pkg/cgroups and pkg/seccomp once they land on main.
var (
	newCgroup = func(path string) (cgroup, error) {
		return nil, fmt.Errorf("cgroups are not part of this build: %w", errNotSupported)
	}
	installSeccomp = func(s *specs.LinuxSeccomp) error {
		if s == nil {
			return nil
		}
		return fmt.Errorf("linux.seccomp: seccomp is not part of this build: %w", errNotSupported)
	}
)

// seccompFeatures describes the seccomp support linked in.
var seccompFeatures = func() *features.Seccomp {
	no := false
	return &features.Seccomp{Enabled: &no}
}

var (
	cgroupStats = func(cg cgroup) (any, error) { return nil, fmt.Errorf("cgroup stats: %w", errNotSupported) }
	cgroupOOMs  = func(cg cgroup) (uint64, error) { return 0, fmt.Errorf("cgroup oom count: %w", errNotSupported) }
)
