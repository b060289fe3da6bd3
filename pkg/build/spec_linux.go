package build

import (
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/specgen"
)

// runSpec is what one RUN step's container needs.
type runSpec struct {
	Args []string
	Env  []string
	Cwd  string
	User string // the USER in effect, resolved in Rootfs
	// Groups are the supplementary groups: as docker and buildah do, the
	// user's primary group and the groups that list the user.
	Groups  []int
	Rootfs  string
	Network string // "none" or "host"
	// Script, when set, is a host file bind-mounted read-only at ScriptPath
	// (a RUN heredoc that starts with #!, run by its own interpreter).
	Script string
}

// ScriptPath is where a RUN heredoc script appears in the container: on the
// /dev tmpfs, so it never lands in the layer.
const ScriptPath = "/dev/.berth-heredoc"

// newSpec builds the OCI spec of a RUN container with docker's defaults
// (package specgen: capabilities, seccomp profile, masked and read-only
// paths, device rules): its own pid, ipc, uts and mount namespaces and a
// network namespace of its own (loopback only) unless the build asked for
// host networking, which also shares the host's /etc/hosts and resolv.conf.
func newSpec(r runSpec) (*specs.Spec, error) {
	o := specgen.Options{
		Args:     r.Args,
		Env:      r.Env,
		Cwd:      r.Cwd,
		User:     r.User,
		Rootfs:   r.Rootfs,
		Hostname: "berth-build",
	}
	for _, g := range r.Groups {
		o.GroupAdd = append(o.GroupAdd, strconv.Itoa(g))
	}
	if r.Script != "" {
		o.Mounts = append(o.Mounts, specs.Mount{Destination: ScriptPath, Type: "bind", Source: r.Script, Options: []string{"rbind", "ro"}})
	}
	if r.Network == "host" {
		o.NetNS = specgen.NSHost
		for _, f := range []string{"/etc/hosts", "/etc/resolv.conf"} {
			o.Mounts = append(o.Mounts, specs.Mount{Destination: f, Type: "bind", Source: f, Options: []string{"rbind", "ro"}})
		}
	}
	return specgen.New(o)
}
