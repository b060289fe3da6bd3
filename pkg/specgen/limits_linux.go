package specgen

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rlimits maps the spec's rlimit names to the kernel's resource numbers.
var rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE,
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// defaultNofile is the open-file limit a container asks for by default
// (podman's and containerd's); it is clamped to what the host allows.
const defaultNofile = 1 << 20

// ParseUlimit parses docker's --ulimit syntax, "name=soft[:hard]" with
// name such as nofile or RLIMIT_NOFILE and -1 or "unlimited" for no limit.
func ParseUlimit(s string) (specs.POSIXRlimit, error) {
	name, vals, ok := strings.Cut(s, "=")
	if !ok {
		return specs.POSIXRlimit{}, fmt.Errorf("ulimit %q: want name=soft[:hard]: %w", s, errdefs.ErrInvalidArgument)
	}
	typ, err := normalizeRlimit(name)
	if err != nil {
		return specs.POSIXRlimit{}, err
	}
	softS, hardS, hasHard := strings.Cut(vals, ":")
	if !hasHard {
		hardS = softS
	}
	soft, err1 := parseLimit(softS)
	hard, err2 := parseLimit(hardS)
	if err1 != nil || err2 != nil {
		return specs.POSIXRlimit{}, fmt.Errorf("ulimit %q: limits must be numbers, -1 or unlimited: %w", s, errdefs.ErrInvalidArgument)
	}
	r := specs.POSIXRlimit{Type: typ, Soft: soft, Hard: hard}
	return r, validateRlimit(r)
}

func parseLimit(s string) (uint64, error) {
	if s == "-1" || s == "unlimited" {
		return unix.RLIM_INFINITY, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

func normalizeRlimit(name string) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "RLIMIT_") {
		n = "RLIMIT_" + n
	}
	if _, ok := rlimits[n]; !ok {
		return "", fmt.Errorf("ulimit %q: unknown limit: %w", name, errdefs.ErrInvalidArgument)
	}
	return n, nil
}

func validateRlimit(r specs.POSIXRlimit) error {
	if r.Soft > r.Hard {
		return fmt.Errorf("ulimit %s: soft limit %d above hard limit %d: %w", r.Type, r.Soft, r.Hard, errdefs.ErrInvalidArgument)
	}
	if r.Type == "RLIMIT_NOFILE" {
		// The kernel refuses any open-file limit above fs.nr_open, even to root.
		if max, err := nrOpen(); err == nil && r.Hard > max {
			return fmt.Errorf("ulimit nofile %d above the kernel's fs.nr_open %d: %w", r.Hard, max, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

func nrOpen() (uint64, error) {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// hostHard returns the calling process's hard limit for resource typ.
func hostHard(typ string) (uint64, bool) {
	var l unix.Rlimit
	if err := unix.Getrlimit(rlimits[typ], &l); err != nil {
		return 0, false
	}
	return l.Max, true
}

// processRlimits validates the user's limits (short names accepted) and adds
// the default open-file limit when the user sets none. The default is clamped
// to this process's hard limit, so the runtime never fails to apply it.
// Limits the user asks for are kept as asked when this process may raise
// hard limits (CAP_SYS_RESOURCE), and clamped to the host's hard limit
// otherwise, where asking more could only fail.
func processRlimits(user []specs.POSIXRlimit) ([]specs.POSIXRlimit, error) {
	out := []specs.POSIXRlimit{}
	seen := map[string]bool{}
	raise := canRaiseRlimits()
	for _, r := range user {
		typ, err := normalizeRlimit(r.Type)
		if err != nil {
			return nil, err
		}
		r.Type = typ
		if err := validateRlimit(r); err != nil {
			return nil, err
		}
		if seen[typ] {
			return nil, fmt.Errorf("ulimit %s given twice: %w", typ, errdefs.ErrInvalidArgument)
		}
		seen[typ] = true
		if h, ok := hostHard(typ); ok && !raise && r.Hard > h {
			r.Hard = h
			r.Soft = min(r.Soft, h)
		}
		out = append(out, r)
	}
	if !seen["RLIMIT_NOFILE"] {
		n := uint64(defaultNofile)
		if h, ok := hostHard("RLIMIT_NOFILE"); ok && h < n {
			n = h
		}
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: n, Hard: n})
	}
	return out, nil
}
