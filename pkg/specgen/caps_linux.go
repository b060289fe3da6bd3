package specgen

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// AllCapabilities returns every capability a container started from this
// process can hold (known to the kernel and in this process's bounding set),
// in kernel order: what "privileged" and "ALL" mean.
func AllCapabilities() []string { return slices.Clone(availableCaps()) }

// availableCaps are the capabilities a container started from this process
// can hold: known to the kernel and in this process's bounding set. "All
// capabilities" means these, so a privileged container works under a
// runtime that was itself started with fewer.
var availableCaps = sync.OnceValue(func() []string {
	last := len(capNames) - 1
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n < last {
			last = n
		}
	}
	var out []string
	for i := 0; i <= last; i++ {
		if r, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(i), 0, 0, 0); err == nil && r == 1 {
			out = append(out, capNames[i])
		}
	}
	return out
})

// canRaiseRlimits reports whether this process holds CAP_SYS_RESOURCE, which
// raising a hard limit above the current one needs.
func canRaiseRlimits() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[0].Effective&(1<<unix.CAP_SYS_RESOURCE) != 0
}

// capabilities applies docker's rules: start from the defaults (every
// available capability when privileged); "ALL" in drop empties the set before adds,
// "ALL" in add fills it before the other drops apply; otherwise drops are
// removed and adds added. The result is in kernel order.
func capabilities(privileged bool, add, drop []string) ([]string, error) {
	set := map[string]bool{}
	avail := availableCaps()
	base := defaultCaps
	if privileged {
		base = avail
	}
	for _, c := range base {
		set[c] = true
	}
	var adds, drops []string
	addAll, dropAll := false, false
	for _, c := range add {
		n, err := NormalizeCapability(c)
		if err != nil {
			return nil, fmt.Errorf("cap-add: %w", err)
		}
		addAll = addAll || n == "ALL"
		adds = append(adds, n)
	}
	for _, c := range drop {
		n, err := NormalizeCapability(c)
		if err != nil {
			return nil, fmt.Errorf("cap-drop: %w", err)
		}
		dropAll = dropAll || n == "ALL"
		drops = append(drops, n)
	}
	switch {
	case addAll:
		for _, c := range avail {
			set[c] = true
		}
		for _, d := range drops {
			delete(set, d)
		}
	case dropAll:
		set = map[string]bool{}
		for _, a := range adds {
			set[a] = true
		}
	default:
		for _, d := range drops {
			delete(set, d)
		}
		for _, a := range adds {
			set[a] = true
		}
	}
	out := []string{}
	for _, c := range capNames {
		if !set[c] {
			continue
		}
		if !slices.Contains(avail, c) {
			return nil, fmt.Errorf("capability %s: not available here (not in berth's bounding set or unknown to this kernel): %w", c, errdefs.ErrInvalidArgument)
		}
		out = append(out, c)
	}
	return out, nil
}
