// Package specgen builds OCI runtime specs with docker's defaults for a
// container: capabilities, seccomp, masked and read-only paths, namespaces,
// mounts, device rules and rlimits, adjusted by docker-style options.
//
// One call covers the common case:
//
//	spec, err := specgen.New(specgen.Options{Rootfs: dir, Args: []string{"sh"}})
//
// Every option is validated; a bad value is an error wrapping
// errdefs.ErrInvalidArgument that names it.
package specgen

import specs "github.com/opencontainers/runtime-spec/specs-go"

// DefaultPath is the PATH a container gets when its environment has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Namespace choices for Options.NetNS, PIDNS, IPCNS and UTSNS: "" for a new
// namespace, NSHost to share the host's, or the path of one to join.
const NSHost = "host"

// Seccomp choices for Options.Seccomp besides a profile path.
const (
	SeccompDefault    = ""           // docker's default profile for the final capabilities
	SeccompUnconfined = "unconfined" // no filter
)

// Options describe a container the way docker's flags do. The zero value
// plus Args is a valid unprivileged container with docker's defaults.
type Options struct {
	Args []string // the command; required
	Env  []string // KEY=VALUE; PATH defaults to DefaultPath, HOME to the user's home
	Cwd  string   // absolute; default "/"
	// User is "name|uid[:group|gid]" resolved against Rootfs's /etc/passwd and
	// /etc/group; empty is root.
	User     string
	GroupAdd []string // supplementary groups, names or gids
	Hostname string

	Rootfs         string // root.path; also where User is resolved
	ReadonlyRootfs bool
	Terminal       bool

	// Privileged gives every capability, every host device, no seccomp
	// filter and no masked or read-only paths.
	Privileged      bool
	NoNewPrivileges bool
	CapAdd, CapDrop []string // names with or without CAP_, any case; "ALL"
	// Seccomp is SeccompDefault, SeccompUnconfined or the path of a profile
	// (docker's JSON format, OCI's also accepted).
	Seccomp string

	NetNS, PIDNS, IPCNS, UTSNS string // "" new, NSHost, or a namespace path

	Resources   *specs.LinuxResources // cgroup limits; device rules are added
	CgroupsPath string
	Mounts      []specs.Mount     // bind mounts, volumes; replace a default at the same destination
	Tmpfs       map[string]string // destination -> options ("size=64m,mode=1777")
	ShmSize     int64             // bytes for /dev/shm; default 64 MiB
	Ulimits     []specs.POSIXRlimit
	Sysctls     map[string]string // namespaced sysctls only
	Annotations map[string]string
	OOMScoreAdj *int

	// Init runs a minimal init (tini, docker-init) as PID 1 in front of Args,
	// bind-mounted from InitPath, or found on the host's PATH when empty.
	Init     bool
	InitPath string
}
