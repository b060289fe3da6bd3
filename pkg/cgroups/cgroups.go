// Package cgroups places container processes in Linux control groups and
// limits, freezes, signals, measures and removes them, on cgroup v1, v2 and
// hybrid hosts alike.
//
// A Manager stands for one container's cgroup: one directory in every v1
// hierarchy the host mounts and, where a v2 tree exists, one directory in it.
// Each controller is driven where the host has it: a hybrid host may keep
// memory in v1 and hugetlb in v2, and the Manager writes each limit to the
// hierarchy that owns it.
//
// The usual order is New, Set (creates the directories and writes limits
// while nothing runs in them), Apply (moves the process in), then Stats,
// Freeze, Thaw, Signal and finally Destroy.
package cgroups

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/errdefs"
)

// CGMode is the cgroup layout of the host, as Mode reports it. (The type
// cannot share the function's name; containerd's cgroups package spells it
// the same way.)
type CGMode int

const (
	// Unavailable: no cgroup file system is mounted at /sys/fs/cgroup.
	Unavailable CGMode = iota
	// Legacy: every controller is a cgroup v1 hierarchy.
	Legacy
	// Hybrid: controllers are v1 hierarchies, and a v2 tree is mounted at
	// /sys/fs/cgroup/unified beside them (it may hold some controllers).
	Hybrid
	// Unified: /sys/fs/cgroup is the cgroup v2 tree.
	Unified
)

// String returns the name of the mode as runc and systemd spell it.
func (m CGMode) String() string {
	switch m {
	case Legacy:
		return "legacy"
	case Hybrid:
		return "hybrid"
	case Unified:
		return "unified"
	default:
		return "unavailable"
	}
}

// Manager is one container's cgroup across every hierarchy of the host.
type Manager interface {
	// Apply creates the cgroup in every hierarchy (if needed) and moves pid
	// into it. It is also how exec'd processes join. A pid of -1 only
	// creates the cgroup.
	Apply(pid int) error
	// Set writes the resource limits of r. It creates the cgroup first when
	// it does not exist yet, and removes what it created if it fails.
	Set(r *specs.LinuxResources) error
	// Freeze stops every process of the cgroup and returns once they are frozen.
	Freeze() error
	// Thaw resumes the processes that Freeze stopped.
	Thaw() error
	// Frozen reports whether the cgroup is frozen.
	Frozen() (bool, error)
	// Pids lists every process in the cgroup and its descendants.
	Pids() ([]int, error)
	// Signal sends sig to every process in the cgroup and its descendants.
	Signal(sig syscall.Signal) error
	// Stats reads the usage and limit counters of every controller.
	Stats() (*Stats, error)
	// OOMKillCount returns how many processes the OOM killer has killed in
	// the cgroup.
	OOMKillCount() (uint64, error)
	// Destroy removes the cgroup (and any sub-cgroups) from every
	// hierarchy. It waits briefly for exiting processes to leave, and does
	// nothing when the cgroup is already gone.
	Destroy() error
	// Path returns the directory of the cgroup for controller (a v1 name
	// such as "memory" or "cpuacct"; "blkio" and "io" are the same). For a
	// controller served by v2, and for "", it returns the v2 directory; it
	// returns "" when the host has no such controller.
	Path(controller string) string
	// Paths returns the directory of the cgroup in every hierarchy, keyed by
	// v1 hierarchy name (its controllers joined by commas, as in
	// /proc/self/cgroup) and "" for the v2 tree. Load accepts it back.
	Paths() map[string]string
	// Exists reports whether the cgroup directory exists in any hierarchy.
	Exists() bool
}

// fieldErr returns an error about spec field f (such as
// "linux.resources.memory.limit") of kind (an errdefs sentinel).
func fieldErr(f string, kind error, format string, args ...any) error {
	return &FieldError{Field: f, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// FieldError is a resource setting the host refused or cannot apply. It
// names the OCI spec field and wraps an errdefs sentinel
// (ErrInvalidArgument for a bad value, ErrUnavailable for a controller or
// file the host lacks).
type FieldError struct {
	// Field is the spec path, such as "linux.resources.cpu.quota".
	Field string
	// Kind is errdefs.ErrInvalidArgument or errdefs.ErrUnavailable.
	Kind error
	// Msg says what went wrong.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

func (e *FieldError) Error() string {
	s := e.Field + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the sentinel and the cause, so errors.Is finds both.
func (e *FieldError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// ValidatePath checks an OCI linux.cgroupsPath: absolute ("/berth/id") or
// relative to the caller's own cgroup ("a/b"), clean, without ".." or empty
// parts, and not the root. It returns the cleaned path.
func ValidatePath(p string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("linux.cgroupsPath %q: %s: %w", p, why, errdefs.ErrInvalidArgument)
	}
	switch {
	case p == "":
		return bad("empty")
	case strings.ContainsRune(p, 0):
		return bad("contains a NUL byte")
	case strings.Contains(p, ":") && !strings.Contains(p, "/"):
		return bad(`looks like a systemd "slice:prefix:name" path; berth drives cgroupfs directly and does not support the systemd cgroup driver`)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return bad(`".." is not allowed`)
		}
	}
	abs := strings.HasPrefix(p, "/")
	c := path.Clean("/" + p)
	if c == "/" {
		return bad("names the root cgroup")
	}
	for _, part := range strings.Split(c[1:], "/") {
		if part == "." || strings.HasPrefix(part, "cgroup.") {
			return bad(fmt.Sprintf("bad component %q", part))
		}
	}
	if !abs {
		c = c[1:]
	}
	return c, nil
}

// errNoCgroups is returned when the host mounts no cgroup file system.
var errNoCgroups = errors.New("no cgroup file system is mounted at /sys/fs/cgroup")
