package specgen

import (
	"fmt"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// ipcSysctls are the IPC namespace's sysctls (fs.mqueue.* also belongs).
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true,
	"kernel.sem": true, "kernel.shmall": true, "kernel.shmmax": true,
	"kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// validateSysctl accepts only sysctls that belong to a namespace the
// container owns, as docker does: a host-wide knob set from a container
// would change the host.
func validateSysctl(key string, o *Options) error {
	bad := func(why string) error {
		return fmt.Errorf("sysctl %q: %s: %w", key, why, errdefs.ErrInvalidArgument)
	}
	switch {
	case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
		if o.IPCNS == "host" {
			return bad("the container shares the host's IPC namespace")
		}
	case strings.HasPrefix(key, "net."):
		if o.NetNS == "host" {
			return bad("the container shares the host's network namespace")
		}
	case key == "kernel.domainname":
		if o.UTSNS == "host" {
			return bad("the container shares the host's UTS namespace")
		}
	default:
		return bad("not namespaced, so it would change the host")
	}
	return nil
}
