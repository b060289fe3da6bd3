package runtime

import (
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/seccomp"
)

// process.rlimits take effect in the init, and those that limit memory
// (RLIMIT_AS, RLIMIT_DATA) only in its very last system call before execve:
// they may be far below what the Go runtime has already mapped (its address
// space is over 1 GiB, mostly PROT_NONE reservations, and they count), and
// the kernel then refuses every further mmap. A heap that must grow, or a
// new thread (the scheduler starts one whenever a system call blocks for a
// moment under load), then kills the init with "fatal error: runtime: out of
// memory" or "pthread_create failed", written to the container's stderr
// after start returned. When every limit was set at create time, a
// container with such limits failed now and then on a loaded machine, and
// every time with a large environment.
//
// So create only checks the limits (checkRlimits makes the tests
// setrlimit(2) makes); the last steps of the init (finalize) allocate all
// they need first (execve's arrays, the compiled seccomp filter), set the
// other limits while still privileged (applyRlimits; for a memory limit it
// only raises the hard limit if asked, which needs CAP_SYS_RESOURCE, and
// leaves the soft one), and execArgs.exec sets the memory limits with raw
// prlimit64 calls immediately before a raw execve: nothing of the Go
// runtime runs in between. Lowering a limit needs no privilege, so that
// works after the capabilities are dropped; it needs a seccomp profile
// that allows prlimit64, as Docker's default one does.
//
// The seccomp filter is the same kind of point of no return: a profile
// whose default action is an error (runtime-tools' default one) refuses
// clone3, which glibc's pthread_create tries first, so a thread the
// scheduler starts after the filter is loaded (when a system call blocks a
// moment on a loaded machine) aborts the init with "pthread_create failed:
// Operation not permitted". finalize therefore reads what it needs from
// /proc before loading the filter; what remains after it are short
// non-blocking system calls (prctl, capset, setresuid), which leaves a
// small window (see docs/runtime-conformance.md).

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

// limitsMemory reports whether a limit of type res may stop the Go runtime
// from mapping memory, so that it must be set only just before execve.
func limitsMemory(res int) bool { return res == unix.RLIMIT_AS || res == unix.RLIMIT_DATA }

// applyRlimits sets limits on this process, except the soft (and a lowered
// hard) value of the memory limits, which it returns for execArgs.exec to
// set last.
func applyRlimits(limits []specs.POSIXRlimit) ([]lateRlimit, error) {
	var late []lateRlimit
	for _, rl := range limits {
		res := rlimitNames[rl.Type]
		lim := syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if limitsMemory(res) {
			late = append(late, lateRlimit{name: rl.Type, res: res, lim: unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}})
			var cur syscall.Rlimit
			if err := syscall.Getrlimit(res, &cur); err != nil {
				return nil, fmt.Errorf("process.rlimits %s: %w", rl.Type, err)
			}
			if rl.Hard <= cur.Max {
				continue // lowering needs no privilege: all of it comes last
			}
			lim.Cur = cur.Cur // raise the hard limit now, constrain nothing yet
		}
		// syscall.Setrlimit, not a raw prlimit: for RLIMIT_NOFILE it also
		// tells the syscall package to leave the limit alone at exec.
		if err := syscall.Setrlimit(res, &lim); err != nil {
			return nil, fmt.Errorf("process.rlimits %s (soft %d, hard %d): %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return late, nil
}

// lateRlimit is a limit execArgs.exec sets just before execve.
type lateRlimit struct {
	name string
	res  int
	lim  unix.Rlimit
}

// execArgs is an execve(2) call prepared in advance, so that making it
// allocates nothing.
type execArgs struct {
	path       *byte
	argv, envv []*byte
	late       []lateRlimit // set by exec, last
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

// exec sets the late limits and replaces this process, with raw system
// calls only (no scheduler, no allocation); it returns only on failure.
func (e *execArgs) exec() error {
	for i := range e.late {
		l := &e.late[i]
		if _, _, errno := unix.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(l.res), uintptr(unsafePointer(&l.lim)), 0, 0, 0); errno != 0 {
			return fmt.Errorf("process.rlimits %s (soft %d, hard %d), set just before execve: %w (does the seccomp profile allow prlimit64?)", l.name, l.lim.Cur, l.lim.Max, errno)
		}
	}
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
