package runtime

import (
	"fmt"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/seccomp"
)

// process.rlimits take effect in the init just before it execs the
// container's process, and from then on nothing of the Go runtime may ask
// the kernel for memory. A limit such as RLIMIT_AS or RLIMIT_DATA may be far
// below what the runtime has already mapped (its address space is over
// 1 GiB, mostly PROT_NONE reservations, and they count): the kernel then
// refuses every further mmap, so a heap that must grow, a new thread or a
// sweep of the garbage collector kills the init with "fatal error: runtime:
// out of memory", written to the container's stderr after start returned.
// When the limits were set at create time, a container with such limits
// failed whenever the init allocated enough before its exec (on a loaded
// machine, or with a large environment).
//
// So create only checks the limits (checkRlimits makes the tests
// setrlimit(2) makes), and the last steps of the init (finalize) first
// allocate all they need (execve's arrays, the compiled seccomp filter),
// then apply the limits with the collector stopped, and exec with a raw
// execve.

// checkRlimits reports, without changing anything, the error setrlimit(2)
// would give for one of limits: an unknown or repeated type, a soft limit
// above the hard one, a hard RLIMIT_NOFILE above fs.nr_open, or a raised
// hard limit without CAP_SYS_RESOURCE in the initial user namespace.
func checkRlimits(limits []specs.POSIXRlimit) error {
	seen := map[int]bool{}
	raise := mayRaiseRlimits()
	for _, rl := range limits {
		res, ok := rlimitNames[rl.Type]
		if !ok {
			return invalid("process.rlimits: %q is not a resource limit", rl.Type)
		}
		if seen[res] {
			return invalid("process.rlimits: %s is given twice", rl.Type)
		}
		seen[res] = true
		var cur unix.Rlimit
		if err := unix.Getrlimit(res, &cur); err != nil {
			return fmt.Errorf("process.rlimits %s: reading the current limit: %w", rl.Type, err)
		}
		var err error
		switch {
		case rl.Soft > rl.Hard:
			err = unix.EINVAL
		case res == unix.RLIMIT_NOFILE && rl.Hard > nrOpen():
			err = unix.EPERM
		case rl.Hard > cur.Max && !raise:
			err = unix.EPERM
		}
		if err != nil {
			return fmt.Errorf("process.rlimits %s (soft %d, hard %d; current hard %d): %w", rl.Type, rl.Soft, rl.Hard, cur.Max, err)
		}
	}
	return nil
}

// mayRaiseRlimits reports whether we may raise hard limits: setrlimit asks
// for CAP_SYS_RESOURCE in the initial user namespace.
func mayRaiseRlimits() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil || strings.Join(strings.Fields(string(b)), " ") != "0 0 4294967295" {
		return false
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[unix.CAP_SYS_RESOURCE/32].Effective&(1<<(unix.CAP_SYS_RESOURCE%32)) != 0
}

// nrOpen is fs.nr_open, the most a hard RLIMIT_NOFILE may be.
func nrOpen() uint64 {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		return 1 << 20 // the kernel's default
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 1 << 20
	}
	return n
}

// limitsMemory reports whether limits may stop the Go runtime from mapping
// memory.
func limitsMemory(limits []specs.POSIXRlimit) bool {
	for _, rl := range limits {
		if rl.Type == "RLIMIT_AS" || rl.Type == "RLIMIT_DATA" {
			return true
		}
	}
	return false
}

// applyRlimits sets limits on this process. Everything the init does after
// it must not allocate (see the top of this file); it stops the garbage
// collector first when a limit may stop the runtime from mapping memory.
func applyRlimits(limits []specs.POSIXRlimit) error {
	if limitsMemory(limits) {
		// No new cycle from here on, and none half done: GC returns once
		// the cycle it runs has swept every span (a sweep allocates mark
		// bits from the kernel).
		debug.SetGCPercent(-1)
		goruntime.GC()
	}
	for _, rl := range limits {
		// syscall.Setrlimit, not a raw prlimit: for RLIMIT_NOFILE it also
		// tells the syscall package to leave the limit alone at exec.
		if err := syscall.Setrlimit(rlimitNames[rl.Type], &syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}); err != nil {
			return fmt.Errorf("process.rlimits %s (soft %d, hard %d): %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}

// execArgs is an execve(2) call prepared in advance, so that making it
// allocates nothing.
type execArgs struct {
	path       *byte
	argv, envv []*byte
}

// prepareExec converts path, args and env for execve. It also puts back the
// soft RLIMIT_NOFILE the Go runtime raised at start-up, which syscall.Exec
// would restore just before its execve: a process.rlimits entry for it,
// applied later, then wins, and without one the container gets the limit
// the init started with.
func prepareExec(path string, args, env []string) (*execArgs, error) {
	var e execArgs
	var err error
	if e.path, err = syscall.BytePtrFromString(path); err != nil {
		return nil, err
	}
	if e.argv, err = syscall.SlicePtrFromStrings(args); err != nil {
		return nil, err
	}
	if e.envv, err = syscall.SlicePtrFromStrings(env); err != nil {
		return nil, err
	}
	// There is no other way to have it: an execve of "" fails (ENOENT)
	// after syscall.Exec has restored the limit, and forgotten it.
	_ = syscall.Exec("", nil, nil)
	return &e, nil
}

// exec replaces this process; it returns only on failure.
func (e *execArgs) exec() error {
	_, _, errno := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafePointer(e.path)),
		uintptr(unsafePointer(&e.argv[0])), uintptr(unsafePointer(&e.envv[0])))
	goruntime.KeepAlive(e)
	return errno
}

// prepareSeccomp compiles s now and returns the function that loads it
// later without allocating (a nil profile loads nothing).
func prepareSeccomp(s *specs.LinuxSeccomp) (func() error, error) {
	if s == nil {
		return func() error { return nil }, nil
	}
	filter, flags, err := seccomp.Prepare(s)
	if err != nil {
		return nil, err
	}
	return func() error { return seccomp.Load(filter, flags) }, nil
}
