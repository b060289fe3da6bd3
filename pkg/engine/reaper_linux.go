package engine

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// Reaper collects every child of a subreaper process. A subreaper inherits
// orphans it never started (the runtime's intermediate processes, some in
// the container's pid namespace, whose init cannot finish exiting until
// they are reaped), so it must wait for any child; commands it runs itself
// are started through the Reaper so their exit status is not lost to that
// wildcard wait.
type Reaper struct {
	// hold, while locked, keeps the wildcard wait off (an in-process
	// runtime waiting for children it started itself).
	hold    sync.Mutex
	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus
	// exited holds statuses nobody asked for yet (a child that ended
	// before its starter registered).
	exited map[int]unix.WaitStatus
}

// NewReaper starts reaping this process's children on SIGCHLD.
func NewReaper() *Reaper {
	r := &Reaper{waiters: map[int]chan unix.WaitStatus{}, exited: map[int]unix.WaitStatus{}}
	ch := make(chan os.Signal, 32)
	signal.Notify(ch, unix.SIGCHLD)
	go func() {
		for range ch {
			r.reapAll()
		}
	}()
	return r
}

func (r *Reaper) reapAll() {
	r.hold.Lock()
	defer r.hold.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		r.mu.Lock()
		if w, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			w <- ws
		} else if len(r.exited) < 4096 {
			r.exited[pid] = ws
		}
		r.mu.Unlock()
	}
}

// Watch returns a channel that receives pid's exit status. pid must be a
// child (or an orphan adopted by this subreaper).
func (r *Reaper) Watch(pid int) <-chan unix.WaitStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan unix.WaitStatus, 1)
	if ws, ok := r.exited[pid]; ok {
		delete(r.exited, pid)
		ch <- ws
		return ch
	}
	r.waiters[pid] = ch
	// It may have ended between the last reap and now, unnoticed if its
	// SIGCHLD was merged with an earlier one.
	go r.reapAll()
	return ch
}

// Run starts cmd and waits for it; its stdio must be *os.File or nil (no
// copying goroutines, which only exec.Cmd.Wait would finish).
func (r *Reaper) Run(cmd *exec.Cmd) (unix.WaitStatus, error) {
	ch, err := r.Start(cmd)
	if err != nil {
		return 0, err
	}
	return <-ch, nil
}

// Start starts cmd (stdio as for Run) and returns a channel that receives
// its exit status.
func (r *Reaper) Start(cmd *exec.Cmd) (<-chan unix.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	ch := make(chan unix.WaitStatus, 1)
	if ws, ok := r.exited[pid]; ok {
		delete(r.exited, pid)
		ch <- ws
	} else {
		r.waiters[pid] = ch
	}
	return ch, nil
}

// Hold stops the wildcard wait until the returned func is called, so that
// code in this process may wait for its own children (exec.Cmd.Wait).
func (r *Reaper) Hold() func() {
	r.hold.Lock()
	return func() {
		r.hold.Unlock()
		go r.reapAll() // what ended meanwhile
	}
}
