package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

func notRunning(id string, st Status) error {
	return fmt.Errorf("container %q is %s: container not running: %w", id, st, errdefs.ErrConflict)
}

// Start lets the init of a created container exec the user's process.
func (r *Runtime) Start(id string) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	return r.start(rec)
}

// start is Start of a loaded record (run passes the one create made).
func (r *Runtime) start(rec *record) error {
	id := rec.ID
	unlock, err := r.lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	if st := r.status(rec); st != Created {
		return fmt.Errorf("cannot start container %q: it is %s, not created: %w", id, st, errdefs.ErrConflict)
	}
	path := filepath.Join(r.dir(id), fifoName)
	if err := awaitFifo(rec, path); err != nil {
		return err
	}
	os.Remove(path)
	if h := rec.Config.Hooks; h != nil && len(h.Poststart) > 0 {
		runHooksWarn("poststart", id, h.Poststart, r.ociState(rec, Running))
	}
	return nil
}

// ParseSignal accepts a signal number or name, with or without SIG.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, invalid("signal %d out of range", n)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, invalid("unknown signal %q", s)
}

// Kill sends sig to the container's init, or with all to every process of it.
func (r *Runtime) Kill(id string, sig syscall.Signal, all bool) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	if sig == unix.SIGKILL && sharesPidNS(rec.Config) {
		// Without a pid namespace of its own, killing the init ends nothing else.
		all = true
	}
	st := r.status(rec)
	if st == Stopped {
		if all {
			// Processes left in a shared pid namespace still belong to the container.
			if cg, err := r.cgroupOf(rec); err == nil && cg.Exists() {
				return r.signalAll(rec, sig)
			}
		}
		return notRunning(id, st)
	}
	if all {
		return r.signalAll(rec, sig)
	}
	return signalPid(rec, sig)
}

// signalPid signals the init through a pidfd, so a recycled pid is never hit.
func signalPid(rec *record, sig syscall.Signal) error {
	pfd, err := unix.PidfdOpen(rec.Pid, 0)
	if err != nil {
		return fmt.Errorf("container %q: no such process: %w", rec.ID, errdefs.ErrNotFound)
	}
	defer unix.Close(pfd)
	if !rec.alive() {
		return fmt.Errorf("container %q: no such process: %w", rec.ID, errdefs.ErrNotFound)
	}
	if err := unix.PidfdSendSignal(pfd, sig, nil, 0); err != nil {
		return fmt.Errorf("signalling container %q: %w", rec.ID, err)
	}
	return nil
}

// signalAll signals every process of the container: its cgroup when it has
// one, its pid namespace otherwise.
func (r *Runtime) signalAll(rec *record, sig syscall.Signal) error {
	if cg, err := r.cgroupOf(rec); err == nil && cg.Exists() {
		if sig == unix.SIGKILL {
			return killCgroup(cg, killWait)
		}
		return cg.Signal(sig)
	}
	pids, err := r.pids(rec)
	if err != nil {
		return err
	}
	for _, p := range pids {
		unix.Kill(p, sig)
	}
	return nil
}

// pids lists the container's processes (host pids).
func (r *Runtime) pids(rec *record) ([]int, error) {
	if cg, err := r.cgroupOf(rec); err == nil && cg.Exists() {
		return cg.Pids()
	}
	if !rec.alive() {
		return nil, nil
	}
	// No cgroup: everything in the init's pid namespace.
	var want unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(rec.Pid)+"/ns/pid", &want); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/ns/pid", &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			out = append(out, pid)
		}
	}
	return out, nil
}

// Ps lists the host pids of the container's processes.
func (r *Runtime) Ps(id string) ([]int, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return r.pids(rec)
}

// Delete removes a stopped (or, with force, any) container: its processes,
// cgroup and state. Poststop hooks run last.
func (r *Runtime) Delete(id string, force bool) error {
	rec, err := r.load(id)
	if errors.Is(err, errdefs.ErrNotFound) && validateID(id) == nil {
		// A create killed before it wrote any state leaves only the directory.
		if _, serr := os.Stat(r.dir(id)); serr == nil {
			return os.RemoveAll(r.dir(id))
		}
	}
	if err != nil {
		return err
	}
	return r.delete(rec, force)
}

// delete is Delete of a loaded record (run passes the one create made).
func (r *Runtime) delete(rec *record, force bool) error {
	id := rec.ID
	unlock, err := r.lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	st := r.status(rec)
	if (st == Running || st == Paused) && !force {
		return fmt.Errorf("cannot delete container %q that is %s (stop it or use --force): %w", id, st, errdefs.ErrConflict)
	}
	if st != Stopped {
		r.signalAll(rec, unix.SIGKILL)
		signalPid(rec, unix.SIGKILL)
		if err := waitGone(rec, 10*time.Second); err != nil {
			return err
		}
	}
	if cg, err := r.cgroupOf(rec); err == nil {
		if cg.Exists() {
			if err := killCgroup(cg, killWait); err != nil {
				return fmt.Errorf("deleting container %q: %w", id, err)
			}
			if err := cg.Destroy(); err != nil {
				return fmt.Errorf("removing the cgroup of %q: %w", id, err)
			}
		}
	}
	if h := rec.Config.Hooks; h != nil && len(h.Poststop) > 0 {
		runHooksWarn("poststop", id, h.Poststop, r.ociState(rec, Stopped))
	}
	return os.RemoveAll(r.dir(id))
}

// waitGone waits until the init has exited (not necessarily been reaped).
func waitGone(rec *record, timeout time.Duration) error {
	pfd, err := unix.PidfdOpen(rec.Pid, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(pfd)
	deadline := time.Now().Add(timeout)
	for rec.alive() {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("container %q did not exit after SIGKILL", rec.ID)
		}
		unix.Poll([]unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}, int(min(left, 100*time.Millisecond)/time.Millisecond)+1)
	}
	return nil
}

// Pause freezes every process of the container.
func (r *Runtime) Pause(id string) error {
	rec, cg, err := r.runningCgroup(id)
	if err != nil {
		return err
	}
	if st := r.status(rec); st != Running {
		return fmt.Errorf("cannot pause container %q: it is %s: %w", id, st, errdefs.ErrConflict)
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error {
	rec, cg, err := r.runningCgroup(id)
	if err != nil {
		return err
	}
	if st := r.status(rec); st != Paused {
		return fmt.Errorf("cannot resume container %q: it is %s, not paused: %w", id, st, errdefs.ErrConflict)
	}
	return cg.Thaw()
}

// Update changes the resource limits of a running container.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	rec, cg, err := r.runningCgroup(id)
	if err != nil {
		return err
	}
	if err := cg.Set(res); err != nil {
		return err
	}
	if rec.Config.Linux != nil {
		rec.Config.Linux.Resources = mergeResources(rec.Config.Linux.Resources, res)
		return r.save(rec, true)
	}
	return nil
}

func mergeResources(old, upd *specs.LinuxResources) *specs.LinuxResources {
	if old == nil {
		return upd
	}
	if upd.Memory != nil {
		old.Memory = upd.Memory
	}
	if upd.CPU != nil {
		old.CPU = upd.CPU
	}
	if upd.Pids != nil {
		old.Pids = upd.Pids
	}
	if upd.BlockIO != nil {
		old.BlockIO = upd.BlockIO
	}
	return old
}

func (r *Runtime) runningCgroup(id string) (*record, cgroup, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, nil, err
	}
	if st := r.status(rec); st == Stopped {
		return nil, nil, notRunning(id, st)
	}
	cg, err := r.cgroupOf(rec)
	if err != nil {
		return nil, nil, err
	}
	return rec, cg, nil
}

// Config returns the spec container id was created from.
func (r *Runtime) Config(id string) (*specs.Spec, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return rec.Config, nil
}

// awaitFifo opens exec.fifo for reading, which releases the init blocked
// opening it for writing, and reads the byte the init writes before it
// execs. One poll on the fifo and a pidfd of the init, no polling loop
// and no helper threads: if the init dies first, the pidfd says so.
func awaitFifo(rec *record, path string) error {
	pfd, err := unix.PidfdOpen(rec.Pid, 0)
	if err != nil {
		return fmt.Errorf("container %q: the init is gone: %w", rec.ID, err)
	}
	defer unix.Close(pfd)
	// A non-blocking open: it does not wait for the writer, and the
	// init's blocking open for writing returns as soon as we hold it.
	// Until a writer has come, poll reports no hang-up on it.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening exec.fifo: %w", err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 1)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pfd), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return fmt.Errorf("waiting on exec.fifo: %w", err)
		}
		n, rerr := unix.Read(fd, buf)
		if n == 1 {
			return nil // it may since have exec'd and exited: still started
		}
		if fds[1].Revents != 0 || (rerr == nil && n == 0) {
			return fmt.Errorf("container %q: the init exited before start", rec.ID)
		}
		if rerr != nil && rerr != unix.EAGAIN && rerr != unix.EINTR {
			return fmt.Errorf("reading exec.fifo: %w", rerr)
		}
	}
}
