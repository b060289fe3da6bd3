package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// Operations a lean engine (one without the image store and the network
// manager, such as the monitor's) asks of a full berth through
// Options.Helper; ServeHelper performs them.
const (
	HelperPrepare = "prepare" // Prepare: rootfs, network, bundle
	HelperCleanup = "cleanup" // Cleanup: network, rootfs
	HelperRemove  = "remove"  // RemoveStopped with the container's volumes
)

// lean reports whether this engine lacks the image store and network
// manager but may ask a full berth for what needs them.
func (e *Engine) lean() bool {
	return e.opts.Images == nil && e.opts.Network == nil && len(e.opts.Helper) > 0
}

// hasNetNS reports whether container id has a network namespace berth
// made (bridge networks), which only the network manager tears down.
func (e *Engine) hasNetNS(id string) bool {
	_, err := os.Stat(filepath.Join(e.store.runDir(id), "netns"))
	return err == nil
}

// runHelper runs Options.Helper with op and id and waits for it.
func (e *Engine) runHelper(ctx context.Context, op, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	argv := append(append([]string{}, e.opts.Helper...), op, id)
	if err := os.MkdirAll(e.store.runDir(id), 0o700); err != nil {
		return err
	}
	errf, err := os.CreateTemp(e.store.runDir(id), ".helper-")
	if err != nil {
		return err
	}
	defer os.Remove(errf.Name())
	defer errf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = errf
	var ws unix.WaitStatus
	if e.reaper != nil {
		ws, err = e.reaper.Run(cmd)
	} else {
		err = cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			ws, err = unix.WaitStatus(ee.Sys().(syscall.WaitStatus)), nil
		}
	}
	if err != nil {
		return fmt.Errorf("%s of %s: running %s: %w", op, id, argv[0], err)
	}
	if ws.Exited() && ws.ExitStatus() == 0 {
		return nil
	}
	errf.Seek(0, io.SeekStart)
	msg, _ := io.ReadAll(io.LimitReader(errf, 4096))
	return fmt.Errorf("%s of %s failed (%v): %s", op, id, ws, strings.TrimSpace(string(msg)))
}

// ServeHelper performs op (HelperPrepare, HelperCleanup, HelperRemove) on
// container id for its lean monitor, which holds the monitor lock.
func (e *Engine) ServeHelper(ctx context.Context, op, id string) error {
	e.ActAsMonitor(id)
	c, err := e.store.load(id)
	if err != nil {
		return err
	}
	switch op {
	case HelperPrepare:
		_, err = e.Prepare(ctx, c)
		return err
	case HelperCleanup:
		e.Cleanup(ctx, c)
		return nil
	case HelperRemove:
		return e.RemoveStopped(ctx, id, true)
	}
	return fmt.Errorf("unknown monitor helper operation %q: %w", op, errdefs.ErrInvalidArgument)
}

// launch prepares container id (rootfs, network, bundle) and hands it to a
// new monitor. The monitor lock is taken here, before anything is mounted,
// and passed on to the monitor, so two starts cannot both prepare.
// A pending monitor (SpawnMonitor), when given, takes the container.
func (e *Engine) launch(ctx context.Context, id string, waitAttach bool, pending *PendingMonitor) error {
	l, ok, err := tryLockFile(filepath.Join(e.store.runDir(id), "monitor.lock"))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("container %s already has a monitor: %w", id, errdefs.ErrConflict)
	}
	defer l.Unlock()
	c, err := e.store.load(id)
	if err != nil {
		return err
	}
	if _, err := e.Prepare(ctx, c); err != nil {
		return err
	}
	spawn := func() error { return e.spawnMonitor(id, waitAttach, l.File()) }
	if pending != nil {
		spawn = func() error { return pending.handoff(id, l.File()) }
	}
	if err := spawn(); err != nil {
		// A monitor that reported a failed start cleaned up already; one
		// that never ran could not. Cleanup is idempotent.
		e.Cleanup(context.WithoutCancel(ctx), c)
		return err
	}
	return nil
}

// AwaitRemoval finishes `run --rm` for an attached client that asked to
// remove the container itself (AttachOptions.Remove): once the container
// has exited it waits for the monitor to go and removes what is left.
func (e *Engine) AwaitRemoval(ctx context.Context, id string) error {
	if !e.awaitMonitor(id, time.Now().Add(30*time.Second)) {
		return fmt.Errorf("the monitor of %s did not exit: %w", id, errdefs.ErrUnavailable)
	}
	// Load removes an exited --rm container whose monitor is gone.
	if _, err := e.Load(ctx, id); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	return nil
}

// StartWatchdog starts the watchdog of container id's monitor (the
// caller): a process of the monitor's program that waits for the monitor's
// end and, if it died with the container still due to run, repairs the
// record and restarts the container by its restart policy. done receives
// the watchdog's exit status; the caller must be the monitor (a subreaper
// with a Reaper set).
func (e *Engine) StartWatchdog(id string) (done <-chan unix.WaitStatus, err error) {
	if e.reaper == nil {
		return nil, fmt.Errorf("watchdog of %s: only a monitor starts one: %w", id, errdefs.ErrInvalidArgument)
	}
	argv := append(append([]string{}, e.opts.MonitorCommand...), "--watch", id)
	logf, err := os.OpenFile(filepath.Join(e.store.runDir(id), "monitor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), fmt.Sprintf("BERTH_WATCH_PID=%d", os.Getpid()))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return e.reaper.Start(cmd)
}

// awaitMonitor waits until container id's monitor has gone (its lock is
// free) or deadline passes, and reports whether it has gone. It waits on a
// pidfd of the recorded monitor pid, so it wakes the moment the monitor
// exits instead of at the next tick of a backing-off poll; the lock stays
// the truth (the pid may be stale), re-checked at least every 20 ms.
func (e *Engine) awaitMonitor(id string, deadline time.Time) bool {
	// A monitor releases its lock before it sends the exit: an attached
	// client usually finds it free at once, with no record to read.
	if !e.MonitorAlive(id) {
		return true
	}
	pidfd := -1
	if c, err := e.store.load(id); err == nil && c.State.MonitorPid > 0 {
		if fd, err := unix.PidfdOpen(c.State.MonitorPid, 0); err == nil {
			pidfd = fd
		}
	}
	defer func() {
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
	}()
	delay := 500 * time.Microsecond
	for e.MonitorAlive(id) {
		if time.Now().After(deadline) {
			return false
		}
		if pidfd < 0 {
			time.Sleep(delay)
			delay = min(delay*2, 20*time.Millisecond)
			continue
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 20)
		if err != nil && !errors.Is(err, unix.EINTR) || n > 0 && e.MonitorAlive(id) {
			// The pid was not (or is no longer) the monitor's: poll the lock.
			unix.Close(pidfd)
			pidfd = -1
		}
	}
	return true
}

// Watch is the watchdog's body (see StartWatchdog): it waits until the
// process monitorPid (its parent, the monitor) has ended, then loads the
// container, which repairs it and restarts it when its policy says so.
func (e *Engine) Watch(ctx context.Context, id string, monitorPid int) error {
	if fd, err := unix.PidfdOpen(monitorPid, 0); err == nil {
		// The pid is the monitor's only while it is still the parent.
		if os.Getppid() == monitorPid {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			for {
				if _, err := unix.Poll(fds, -1); !errors.Is(err, unix.EINTR) {
					break
				}
			}
		}
		unix.Close(fd)
	}
	_, err := e.Load(ctx, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
}

// DropRunDir removes container id's run directory once its record is gone:
// a removal that ran while the monitor lived left it to the monitor.
func (e *Engine) DropRunDir(id string) {
	if !e.store.exists(id) {
		os.RemoveAll(e.store.runDir(id))
	}
}
