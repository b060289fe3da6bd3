package runtime

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// capNames lists the capabilities by number (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// capNumber maps "CAP_X" (or "X") to its number.
func capNumber(name string) (int, bool) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range capNames {
		if c == n {
			return i, true
		}
	}
	return 0, false
}

// lastCap is the highest capability the running kernel knows.
// It is read once per process: the init asks for the bounding set and again
// for the process's sets.
var lastCap = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return n
		}
	}
	return len(capNames) - 1
})

type capSet [2]uint32

func (s *capSet) add(names []string, last int) {
	for _, n := range names {
		if c, ok := capNumber(n); ok && c <= last {
			s[c/32] |= 1 << (c % 32)
		}
	}
}

func (s capSet) has(c int) bool { return s[c/32]&(1<<(c%32)) != 0 }

func (s capSet) mask() uint64 { return uint64(s[0]) | uint64(s[1])<<32 }

// capSets are what a process's capabilities become: the bounding set
// loses drop; the other four are set as given.
type capSets struct {
	drop, effective, permitted, inheritable, ambient capSet
}

// capsFor computes capSets for caps on a kernel whose highest capability
// is last, where has reports the capabilities of our own bounding set.
// A capability outside the resulting bounding set can never be had (a
// host that runs us without it): it is left out of every set, as
// capabilities the kernel does not know are. The kernel keeps only
// ambient capabilities that are also permitted and inheritable; runc
// leaves the others out rather than failing, and specs (runc spec,
// runtime-tools' generator) list ambient without inheritable.
func capsFor(caps *specs.LinuxCapabilities, last int, has func(int) bool) capSets {
	if caps == nil {
		caps = &specs.LinuxCapabilities{}
	}
	var cs capSets
	var bounding capSet
	bounding.add(caps.Bounding, last)
	cs.effective.add(caps.Effective, last)
	cs.permitted.add(caps.Permitted, last)
	cs.inheritable.add(caps.Inheritable, last)
	cs.ambient.add(caps.Ambient, last)
	sets := []*capSet{&cs.effective, &cs.permitted, &cs.inheritable, &cs.ambient}
	for c := 0; c <= last; c++ {
		bit := uint32(1) << (c % 32)
		if !bounding.has(c) {
			cs.drop[c/32] |= bit
		}
		if !cs.effective.has(c) && !cs.permitted.has(c) && !cs.inheritable.has(c) && !cs.ambient.has(c) {
			continue // nothing asked for: no need to ask the kernel
		}
		if !bounding.has(c) || !has(c) {
			for _, set := range sets {
				set[c/32] &^= bit
			}
		}
		if cs.ambient.has(c) && (!cs.permitted.has(c) || !cs.inheritable.has(c)) {
			cs.ambient[c/32] &^= bit
		}
	}
	return cs
}

// boundingHas reports whether c is in the calling thread's bounding set.
func boundingHas(c int) bool {
	ok, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
	return ok == 1
}

// dropBounding removes from the bounding set what cs.drop names; it needs
// CAP_SETPCAP, so it runs before the switch to the process's user.
func dropBounding(cs *capSets) error {
	for c := 0; c <= lastCap(); c++ {
		if cs.drop.has(c) {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
				return fmt.Errorf("dropping %s from the bounding set: %w", capNames[c], err)
			}
		}
	}
	return nil
}

// applyCaps sets the effective, permitted, inheritable and ambient sets of
// the calling thread. The caller execs from this thread next, so the new
// program inherits them.
func applyCaps(cs *capSets) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{}
	for i := 0; i < 2; i++ {
		data[i] = unix.CapUserData{Effective: cs.effective[i], Permitted: cs.permitted[i], Inheritable: cs.inheritable[i]}
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	for c := 0; c <= lastCap(); c++ {
		if cs.ambient.has(c) {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
				return fmt.Errorf("raising ambient %s (it must be permitted and inheritable): %w", capNames[c], err)
			}
		}
	}
	return nil
}
