package runtime

import (
	"github.com/berth/berth/pkg/cgroups"
	"github.com/berth/berth/pkg/seccomp"
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

// Seccomp filters are compiled and loaded by pkg/seccomp.
var seccompFeatures = seccomp.Features
