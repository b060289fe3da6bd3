package runtime

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A container may join namespaces by path (a pod's network namespace) and
// have a user namespace of its own, as podman's pods with --userns do. The
// joins need the host's privileges, which a process loses the moment it
// enters a new user namespace, so the order is the one runc's nsexec
// follows: the nsenter constructor joins first, then unshares the user
// namespace and asks us for its id maps (msgUsermap), becomes its root, and
// only then unshares the other new namespaces, which the new user namespace
// therefore owns. The joined namespaces stay owned by their own user
// namespace, in which the container's root has no privilege.

// msgUsermap is nsenter's request for the id maps of the user namespace it
// just made; the parent answers with one byte 'k'.
const msgUsermap = "usermap"

// checkJoinsWithNewUser refuses the joins a container with a new user
// namespace cannot work with: its root has no privilege over a joined
// namespace: nothing could be mounted in a joined mount namespace, no
// hostname set in a joined uts namespace, and no procfs or mqueue mounted
// for a joined pid or ipc namespace (the kernel says EPERM).
func checkJoinsWithNewUser(spec *specs.Spec, paths map[specs.LinuxNamespaceType]string) error {
	if p, ok := paths[specs.MountNamespace]; ok {
		return invalid("linux.namespaces: the mount namespace %q is joined by path together with a new user namespace: "+
			"its root could mount nothing there; create a new mount namespace, or join the user namespace that owns it", p)
	}
	if p, ok := paths[specs.UTSNamespace]; ok && (spec.Hostname != "" || spec.Domainname != "") {
		return invalid("hostname: the uts namespace %q is joined by path together with a new user namespace, whose root may not set its hostname or domainname", p)
	}
	// proc and mqueue belong to the pid and ipc namespaces: only a user
	// namespace with privilege over them may mount them.
	for typ, fs := range map[specs.LinuxNamespaceType]string{specs.PIDNamespace: "proc", specs.IPCNamespace: "mqueue"} {
		p, ok := paths[typ]
		if !ok {
			continue
		}
		for i, m := range spec.Mounts {
			if m.Type == fs {
				return invalid("mounts[%d]: %s cannot be mounted: the %s namespace %q is joined by path together with a new user namespace, which does not own it", i, fs, typ, p)
			}
		}
	}
	return nil
}

// mapUser answers nsenter's msgUsermap: it writes the id maps of the user
// namespace the child (still our direct child) has just unshared.
func (s *started) mapUser(c *child) error {
	if _, err := s.conn.expect(msgUsermap); err != nil {
		return fmt.Errorf("creating the user namespace: %w", err)
	}
	pid := strconv.Itoa(s.pid) // before any fork: nsenter itself
	if err := writeIDMap("/proc/"+pid+"/uid_map", c.userMaps[0]); err != nil {
		return fmt.Errorf("linux.uidMappings: %w", err)
	}
	if err := writeIDMap("/proc/"+pid+"/gid_map", c.userMaps[1]); err != nil {
		return fmt.Errorf("linux.gidMappings: %w", err)
	}
	if _, err := s.conn.f.Write([]byte{'k'}); err != nil {
		return fmt.Errorf("creating the user namespace: %w", err)
	}
	return nil
}

func writeIDMap(path string, m []syscall.SysProcIDMap) error {
	var b strings.Builder
	for _, e := range m {
		fmt.Fprintf(&b, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	// The kernel takes the whole map in one write.
	if _, err := unix.Write(int(f.Fd()), []byte(b.String())); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
