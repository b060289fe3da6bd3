package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A container that has no pid namespace of its own (it joined another's,
// or shares the host's) does not end when its init exits: the kernel kills
// the rest of a pid namespace only when that namespace's pid 1 dies. Its
// processes are found through its cgroup instead, by a small reaper
// process that waits for the init to exit and then kills the cgroup, and by
// kill and delete. The reaper is the runtime binary re-executed: its
// nsenter constructor (pkg/runtime/nsenter/reap.c) does the work in C and
// exits before the Go runtime starts; a binary without cgo runs reapMain.

// Environment of the reaper (the runtime re-executed with envInit=reapMode).
const (
	reapMode      = "reap"
	envReapCgroup = "_BERTH_REAP_CGROUP" // the container's cgroupsPath
	envReapIno    = "_BERTH_REAP_INO"    // dev:ino of a directory of that cgroup, so a recreated one is left alone
	envReapDirs   = "_BERTH_REAP_DIRS"   // C reaper: the cgroup's directories, one per line
	envReapID     = "_BERTH_REAP_ID"     // C reaper: dev:ino of the first of them
)

// killWait bounds how long killing a cgroup waits for it to empty.
const killWait = 10 * time.Second

// sharesPidNS reports whether the container of spec has no private pid
// namespace, so that its init's exit does not end its other processes.
func sharesPidNS(spec *specs.Spec) bool { return spec == nil || !hasNewNS(spec, specs.PIDNamespace) }

// killCgroup SIGKILLs every process of cg and its sub-cgroups and waits
// until none is left. cgroup.kill (v2, Linux 5.14) kills them all at once,
// forks in flight included; on v1 and hybrid hosts the processes are killed
// round after round (thawed first if frozen) until a listing finds none.
func killCgroup(cg cgroup, timeout time.Duration) error {
	if !cg.Exists() {
		return nil
	}
	if pids, err := cg.Pids(); err != nil || len(pids) == 0 {
		// Nothing left to kill: the usual case when a container whose
		// init has exited is deleted (run of a short command).
		return nil
	}
	if p, ok := cg.(interface{ Path(string) string }); ok {
		if d := p.Path(""); d != "" {
			// Best effort: absent before 5.14, and on a hybrid host the
			// processes may not be in the v2 tree; the loop below decides.
			_ = os.WriteFile(filepath.Join(d, "cgroup.kill"), []byte("1"), 0)
		}
	}
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		serr := cg.Signal(unix.SIGKILL)
		pids, err := cg.Pids()
		if err != nil || len(pids) == 0 {
			return nil // listing fails only once the cgroup is gone
		}
		if time.Now().After(deadline) {
			if serr != nil {
				return fmt.Errorf("killing the container's processes: %w", serr)
			}
			return fmt.Errorf("%d processes of the container (pids %v) still run after SIGKILL", len(pids), pids)
		}
		time.Sleep(delay)
		delay = min(2*delay, 20*time.Millisecond)
	}
}

// cgroupDirs lists the directories of cg in every hierarchy, sorted.
func cgroupDirs(cg cgroup) []string {
	p, ok := cg.(interface{ Paths() map[string]string })
	if !ok {
		return nil
	}
	var dirs []string
	for _, d := range p.Paths() {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs
}

// cgroupIdentity is dev:ino of the first existing directory of cg.
func cgroupIdentity(cg cgroup) string {
	for _, d := range cgroupDirs(cg) {
		var st unix.Stat_t
		if unix.Stat(d, &st) == nil {
			return d + ":" + strconv.FormatUint(st.Dev, 10) + ":" + strconv.FormatUint(st.Ino, 10)
		}
	}
	return ""
}

// startReaper starts the process that kills the container's cgroup once
// its init (pid) exits. It runs outside the container (in the caller's
// cgroup, its own session) and exits after that; nothing waits for it but
// a goroutine of a long-lived library caller.
func (r *Runtime) startReaper(pid int, cgPath string, cg cgroup) error {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("watching the init (pid %d): %w", pid, err)
	}
	pidfd := os.NewFile(uintptr(pfd), "pidfd")
	defer pidfd.Close()
	exe, err := selfExe(r.initBinary)
	if err != nil {
		return err
	}
	defer exe.Close()
	dirs := cgroupDirs(cg)
	dirID := ""
	if len(dirs) > 0 {
		var st unix.Stat_t
		if err := unix.Stat(dirs[0], &st); err != nil {
			return fmt.Errorf("watching cgroup %s: %w", dirs[0], err)
		}
		dirID = strconv.FormatUint(st.Dev, 10) + ":" + strconv.FormatUint(st.Ino, 10)
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devNull.Close()
	// syscall.ForkExec rather than os/exec, whose pidfd probe costs a fork.
	reaper, err := syscall.ForkExec("/proc/self/fd/4", []string{"berth-runtime", reapMode}, &syscall.ProcAttr{
		Dir: "/",
		Env: []string{
			envInit + "=" + reapMode,
			envReapCgroup + "=" + cgPath,
			envReapIno + "=" + cgroupIdentity(cg),
			// For the C reaper of the nsenter constructor, which exits
			// before the Go runtime starts (a fraction of its memory).
			envReapDirs + "=" + strings.Join(dirs, "\n"),
			envReapID + "=" + dirID,
		},
		Files: []uintptr{devNull.Fd(), devNull.Fd(), devNull.Fd(), pidfd.Fd(), exe.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return fmt.Errorf("starting the container's reaper: %w", err)
	}
	// A long-lived library caller reaps it; a command exits first and
	// leaves it to init or the caller's subreaper.
	go func() {
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(reaper, &ws, 0, nil); err != unix.EINTR {
				return
			}
		}
	}()
	return nil
}

// reapMain is the reaper: it waits for the init behind fd 3 (a pidfd) to
// exit, then kills every process left in the container's cgroup.
func reapMain() {
	fds := []unix.PollFd{{Fd: 3, Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err != unix.EINTR {
			break
		}
	}
	cg, err := newCgroup(os.Getenv(envReapCgroup))
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth-runtime reaper: %v\n", err)
		os.Exit(1)
	}
	// Deleted (and maybe created anew by another container) meanwhile: not ours.
	if want := os.Getenv(envReapIno); want == "" || cgroupIdentity(cg) != want {
		os.Exit(0)
	}
	if err := killCgroup(cg, killWait); err != nil {
		fmt.Fprintf(os.Stderr, "berth-runtime reaper: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}
