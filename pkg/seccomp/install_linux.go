package seccomp

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/berth/berth/pkg/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Filter flags of seccomp(2) (linux/seccomp.h).
const (
	flagTsync             = 1 << 0
	flagLog               = 1 << 1
	flagSpecAllow         = 1 << 2
	flagNewListener       = 1 << 3
	flagTsyncESRCH        = 1 << 4
	flagWaitKillableRecv  = 1 << 5
	seccompSetModeFilter  = 1
	seccompGetActionAvail = 2
)

// flagBits maps the profile's flags to seccomp(2) filter flags.
func flagBits(flags []specs.LinuxSeccompFlag) (uintptr, error) {
	var bits uintptr
	for _, f := range flags {
		switch f {
		case specs.LinuxSeccompFlagLog:
			bits |= flagLog
		case specs.LinuxSeccompFlagSpecAllow:
			bits |= flagSpecAllow
		case specs.LinuxSeccompFlagWaitKillableRecv:
			return 0, fmt.Errorf("seccomp flag %s: only meaningful with user-space notification, which is not supported: %w", f, errdefs.ErrNotImplemented)
		default:
			return 0, fmt.Errorf("seccomp flag %q: unknown: %w", f, errdefs.ErrInvalidArgument)
		}
	}
	return bits, nil
}

// Install compiles s and loads it into the calling process, on every thread
// (SECCOMP_FILTER_FLAG_TSYNC), with the flags s asks for. The caller must have
// set no_new_privs or hold CAP_SYS_ADMIN. A nil profile installs nothing.
//
// Once loaded a filter cannot be removed: call Install only in a process that
// is about to become the container (the runtime's init, just before execve).
func Install(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	filter, flags, err := Prepare(s)
	if err != nil {
		return err
	}
	return Load(filter, flags)
}

// Prepare compiles s and returns the program with the seccomp(2) filter
// flags s asks for (without SECCOMP_FILTER_FLAG_TSYNC, which Load adds):
// what Install loads, for a loader that is not Go (the runtime's C init).
func Prepare(s *specs.LinuxSeccomp) (filter []unix.SockFilter, flags uintptr, err error) {
	if filter, err = Compile(s); err != nil {
		return nil, 0, err
	}
	if flags, err = flagBits(s.Flags); err != nil {
		return nil, 0, err
	}
	return filter, flags, nil
}

// Load installs an already compiled filter on every thread of the calling
// process. extraFlags are seccomp(2) filter flags added to
// SECCOMP_FILTER_FLAG_TSYNC (0 for none).
func Load(filter []unix.SockFilter, extraFlags uintptr) error {
	if len(filter) == 0 || len(filter) > maxInsns {
		return fmt.Errorf("loading seccomp filter: %d instructions: %w", len(filter), errdefs.ErrInvalidArgument)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, seccompSetModeFilter,
		flagTsync|extraFlags, uintptr(unsafe.Pointer(&prog)))
	switch {
	case errno == unix.EACCES:
		return fmt.Errorf("loading seccomp filter: %w (set no_new_privs or hold CAP_SYS_ADMIN)", errno)
	case errno == unix.EINVAL && extraFlags != 0:
		return fmt.Errorf("loading seccomp filter with flags %#x: %w (the kernel may not support these flags)", extraFlags, errno)
	case errno != 0:
		return fmt.Errorf("loading seccomp filter: %w", errno)
	case r != 0:
		// With TSYNC a positive return names a thread that could not be
		// synchronised (it already has a diverging filter).
		return fmt.Errorf("loading seccomp filter: thread %d could not be synchronised: %w", r, errors.New("seccomp tsync failed"))
	}
	return nil
}

// Supported reports whether the kernel can load seccomp filters.
func Supported() bool {
	// SECCOMP_GET_ACTION_AVAIL for RET_ALLOW answers 0 on any kernel with
	// filter support, without changing anything.
	act := uint32(retAllow)
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, seccompGetActionAvail, 0, uintptr(unsafe.Pointer(&act)))
	return errno == 0
}
