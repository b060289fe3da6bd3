package runtime

import (
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Features describes what this runtime supports, as `features` prints it.
func Features() *features.Features {
	yes, no := true, false
	var opts []string
	for o := range mountFlags {
		opts = append(opts, o)
	}
	for o := range propagationFlags {
		opts = append(opts, o)
	}
	for o := range recursiveAttrs {
		opts = append(opts, o)
	}
	for o := range idmapOptions {
		opts = append(opts, o)
	}
	opts = append(opts, "tmpcopyup")
	sort.Strings(opts)
	var ns []string
	for t := range nsFlags {
		ns = append(ns, string(t))
	}
	sort.Strings(ns)
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  opts,
		Linux: &features.Linux{
			Namespaces:      ns,
			Capabilities:    append([]string(nil), capNames...),
			Cgroup:          &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &no},
			Seccomp:         seccompFeatures(),
			Apparmor:        &features.Apparmor{Enabled: &no},
			Selinux:         &features.Selinux{Enabled: &no},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &yes}},
		},
	}
}
