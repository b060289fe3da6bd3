package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/berth/berth/pkg/cgroups"
)

// The runtime's cgroups are pkg/cgroups' managers.
var _ cgroup = cgroups.Manager(nil)

func newCgroup(path string) (cgroup, error) {
	m, err := cgroups.New(path)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func cgroupStats(cg cgroup) (any, error) { return cg.(cgroups.Manager).Stats() }

func cgroupOOMs(cg cgroup) (uint64, error) { return cg.(cgroups.Manager).OOMKillCount() }

// Seccomp is wired to pkg/seccomp once it lands on main.
var installSeccomp = func(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	return fmt.Errorf("linux.seccomp: seccomp is not part of this build: %w", errNotSupported)
}

// seccompFeatures describes the seccomp support linked in.
var seccompFeatures = func() *features.Seccomp {
	no := false
	return &features.Seccomp{Enabled: &no}
}
