// Package engine runs containers without a daemon: it keeps their records
// under the berth root, hands each running container to a monitor process
// (pkg/monitor) that owns its stdio, log and exit status, and answers
// docker's verbs (create, start, stop, kill, rm, wait, inspect, logs, exec...).
//
// No global lock is held for a container's life: each container has its own
// short-held lock for record updates, and its monitor holds a lock file for
// as long as it lives, which is how every command tells a live monitor from
// one that was killed.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/volume"
)

// Options configure an Engine.
type Options struct {
	// Root and RunRoot are berth's --root and --runroot.
	Root, RunRoot string
	// Runtime is the OCI runtime binary (name on PATH or path). Default runc.
	Runtime string
	// Images resolves image references; nil means only --rootfs works.
	Images ImageStore
	// Network attaches containers to bridge networks; nil means only none and host.
	Network Network
	// FastPath runs berth's own runtime (a Runtime binary named
	// berth-runtime) in process instead of exec'ing it. Only a program
	// whose main calls runtime.ChildMain (the berth binary) may set it:
	// the runtime re-executes that program as the container's init.
	FastPath bool
	// MonitorCommand is the argv that starts a monitor; the container ID is
	// appended. Default: this executable with its global flags and "monitor".
	MonitorCommand []string
	// Helper, for an engine with neither Images nor Network (the lean
	// monitor's), is the argv of a full berth that serves what needs them
	// (ServeHelper); an operation and the container ID are appended.
	Helper []string
}

// Engine manages containers under one root.
type Engine struct {
	opts    Options
	store   *store
	volumes *volume.Store
	// monitorOf is the container whose monitor this process is, if any.
	monitorOf string
	// reaper collects children when this process is a subreaper (a monitor).
	reaper *Reaper
}

// SetReaper makes every runtime command this engine runs go through r.
func (e *Engine) SetReaper(r *Reaper) { e.reaper = r }

// ActAsMonitor tells the engine that this process is container id's monitor
// (its own monitor lock does not make the container look busy to itself).
func (e *Engine) ActAsMonitor(id string) { e.monitorOf = id }

// New opens the engine's state under opts.Root and opts.RunRoot.
func New(opts Options) (*Engine, error) {
	if opts.Root == "" || opts.RunRoot == "" {
		return nil, fmt.Errorf("engine needs a root and a runroot: %w", errdefs.ErrInvalidArgument)
	}
	if opts.Runtime == "" {
		opts.Runtime = "runc"
	}
	if len(opts.MonitorCommand) == 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		opts.MonitorCommand = []string{self, "--root", opts.Root, "--runroot", opts.RunRoot, "monitor"}
	}
	for _, d := range []string{filepath.Join(opts.Root, "containers"), filepath.Join(opts.RunRoot, "containers")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating engine state: %w", err)
		}
	}
	return &Engine{opts: opts, store: &store{root: opts.Root, runroot: opts.RunRoot}, volumes: volume.Open(opts.Root)}, nil
}

// Volumes returns the engine's volume store.
func (e *Engine) Volumes() *volume.Store { return e.volumes }

// RunDir is where a container's runtime files live (bundle, sockets, locks).
func (e *Engine) RunDir(id string) string { return e.store.runDir(id) }

// Dir is where a container's persistent files live (record, log, /etc files).
func (e *Engine) Dir(id string) string { return e.store.dir(id) }

// RuntimeFor returns the OCI runtime that runs container c.
func (e *Engine) RuntimeFor(c *Container) Runtime {
	bin := c.HostConfig.Runtime
	if bin == "" {
		bin = e.opts.Runtime
	}
	cli := &RuncCLI{Binary: bin, Root: filepath.Join(e.opts.RunRoot, "runtime"), LogDir: filepath.Join(e.opts.RunRoot, "runtime-logs"), Reaper: e.reaper}
	if e.opts.FastPath && filepath.Base(bin) == OwnRuntimeName {
		if rt, err := NewInProcess(cli); err == nil {
			return rt
		}
	}
	return cli
}

// Resolve turns a name, ID or unique ID prefix into a container ID.
func (e *Engine) Resolve(ref string) (string, error) { return e.store.resolve(ref) }

// Load reads the record of a container by name or ID, repairing it first if
// its monitor died.
func (e *Engine) Load(ctx context.Context, ref string) (*Container, error) {
	id, err := e.store.resolve(ref)
	if err != nil {
		return nil, err
	}
	c, err := e.store.load(id)
	if err != nil {
		return nil, err
	}
	if c.State.Running || c.State.Restarting {
		if !e.MonitorAlive(id) {
			return e.repair(ctx, id)
		}
	} else if c.HostConfig.AutoRemove && c.State.Status == StatusExited && !e.MonitorAlive(id) {
		// An exited --rm container whose remover (its monitor or the
		// attached client) did not finish: finish for it.
		if err := e.RemoveStopped(ctx, id, true); err != nil && e.store.exists(id) {
			return nil, err
		}
		return nil, fmt.Errorf("no such container: %s: %w", id, errdefs.ErrNotFound)
	}
	return c, nil
}

// Update applies fn to a container's record under its lock and saves it.
func (e *Engine) Update(id string, fn func(*Container) error) (*Container, error) {
	l, err := lockFile(filepath.Join(e.store.runDir(id), "lock"))
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	c, err := e.store.load(id)
	if err != nil {
		return nil, err
	}
	before, _ := json.Marshal(c)
	if err := fn(c); err != nil {
		return c, err
	}
	if after, _ := json.Marshal(c); bytes.Equal(before, after) {
		return c, nil // nothing changed: spare the write
	}
	return c, e.store.save(c)
}

// MonitorAlive reports whether a monitor holds container id's monitor lock.
func (e *Engine) MonitorAlive(id string) bool {
	p := filepath.Join(e.store.runDir(id), "monitor.lock")
	if _, err := os.Stat(p); err != nil {
		return false
	}
	l, ok, err := tryLockFile(p)
	if err != nil {
		return false
	}
	if ok {
		l.Unlock()
		return false
	}
	return true
}

// MonitorLock takes container id's monitor lock for the caller's life; the
// monitor calls it first. It fails if another monitor is alive.
func (e *Engine) MonitorLock(id string) (*os.File, error) {
	if err := os.MkdirAll(e.store.runDir(id), 0o700); err != nil {
		return nil, err
	}
	l, ok, err := tryLockFile(filepath.Join(e.store.runDir(id), "monitor.lock"))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("container %s already has a monitor: %w", id, errdefs.ErrConflict)
	}
	return l.File(), nil
}

// List returns containers, newest first; all includes stopped ones.
func (e *Engine) List(ctx context.Context, all bool) ([]*Container, error) {
	ids, err := e.store.ids()
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, id := range ids {
		c, err := e.Load(ctx, id)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				continue // removed meanwhile
			}
			return nil, err
		}
		if all || c.State.Running || c.State.Restarting {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// StartOptions tune Start.
type StartOptions struct {
	// WaitAttach makes the monitor create the container but run it only
	// once a client has attached, so that no output is lost.
	WaitAttach bool
	// Monitor, from SpawnMonitor with the same WaitAttach, takes the
	// container instead of a monitor started here; Start uses it up
	// (closes it) either way.
	Monitor *PendingMonitor
}

// Start hands the container to a new monitor, which runs it. It returns once
// the container runs (or, with WaitAttach, is created and awaits a client).
func (e *Engine) Start(ctx context.Context, ref string, opts StartOptions) error {
	defer opts.Monitor.Close()
	c, err := e.Load(ctx, ref)
	if err != nil {
		return err
	}
	if c.State.Running || c.State.Restarting {
		return nil
	}
	if c.State.Status == StatusRemoving || c.State.Dead {
		return fmt.Errorf("container %s is marked for removal and cannot be started: %w", c.Name, errdefs.ErrConflict)
	}
	if c.ManuallyStopped {
		if _, err := e.Update(c.ID, func(c *Container) error { c.ManuallyStopped = false; return nil }); err != nil {
			return err
		}
	}
	if opts.Monitor != nil && opts.Monitor.waitAttach != opts.WaitAttach {
		return fmt.Errorf("start %s: the pending monitor's wait-attach differs: %w", c.Name, errdefs.ErrInvalidArgument)
	}
	return e.launch(ctx, c.ID, opts.WaitAttach, opts.Monitor)
}

// spawnMonitor starts the monitor of the prepared container id detached in
// its own session, handing it the monitor lock, and waits for its first
// report on a sync pipe.
func (e *Engine) spawnMonitor(id string, waitAttach bool, lock *os.File) error {
	argv := append(append([]string{}, e.opts.MonitorCommand...), "--prepared")
	if waitAttach {
		argv = append(argv, "--wait-attach")
	}
	argv = append(argv, id)
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	if err := os.MkdirAll(e.store.runDir(id), 0o700); err != nil {
		w.Close()
		return err
	}
	logf, err := os.OpenFile(filepath.Join(e.store.runDir(id), "monitor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		w.Close()
		return err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w, lock}
	cmd.Env = append(os.Environ(), "BERTH_MONITOR_SYNC_FD=3", "BERTH_MONITOR_LOCK_FD=4")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("starting monitor: %w", err)
	}
	w.Close()
	go cmd.Wait() // reaps the monitor if this process outlives it
	return ReadSync(r)
}

// StopTimeout returns how long stop waits before SIGKILL.
func stopTimeout(c *Container, override *int) time.Duration {
	if override != nil {
		return time.Duration(*override) * time.Second
	}
	if c.Config.StopTimeout != nil {
		return time.Duration(*c.Config.StopTimeout) * time.Second
	}
	return 10 * time.Second
}

// Stop sends the stop signal, waits up to the timeout, then kills.
func (e *Engine) Stop(ctx context.Context, ref string, timeout *int) error {
	c, err := e.Load(ctx, ref)
	if err != nil {
		return err
	}
	c, err = e.Update(c.ID, func(c *Container) error { c.ManuallyStopped = true; return nil })
	if err != nil {
		return err
	}
	if !c.State.Running && !c.State.Restarting {
		return nil
	}
	sig, err := ParseSignal(c.Config.StopSignal)
	if err != nil || c.Config.StopSignal == "" {
		sig = syscall.SIGTERM
	}
	rt := e.RuntimeFor(c)
	if c.State.Running {
		e.emitKill(c, sig)
		if err := rt.Kill(ctx, c.ID, sig, false); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("stopping %s: %w", c.Name, err)
		}
		e.thawIfPaused(ctx, c)
	}
	if e.waitStopped(ctx, c.ID, stopTimeout(c, timeout)) {
		e.EmitContainer(c, "stop", nil)
		return nil
	}
	e.emitKill(c, syscall.SIGKILL)
	if err := rt.Kill(ctx, c.ID, syscall.SIGKILL, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("killing %s: %w", c.Name, err)
	}
	if !e.waitStopped(ctx, c.ID, 30*time.Second) {
		return fmt.Errorf("container %s did not stop: %w", c.Name, errdefs.ErrUnavailable)
	}
	e.EmitContainer(c, "stop", nil)
	return nil
}

// waitStopped polls until the container is neither running nor restarting.
func (e *Engine) waitStopped(ctx context.Context, id string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	delay := 2 * time.Millisecond
	for {
		c, err := e.Load(ctx, id)
		if err != nil || (!c.State.Running && !c.State.Restarting) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(delay)
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// Kill sends sig to the container's init.
func (e *Engine) Kill(ctx context.Context, ref string, sig syscall.Signal) error {
	c, err := e.Load(ctx, ref)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return fmt.Errorf("cannot kill container: %s: container %s is not running: %w", ref, c.ID, errdefs.ErrConflict)
	}
	if sig == syscall.SIGKILL {
		if _, err := e.Update(c.ID, func(c *Container) error { c.ManuallyStopped = true; return nil }); err != nil {
			return err
		}
	}
	e.emitKill(c, sig)
	if err := e.RuntimeFor(c).Kill(ctx, c.ID, sig, false); err != nil {
		return fmt.Errorf("killing %s: %w", c.Name, err)
	}
	e.thawIfPaused(ctx, c)
	if sig == syscall.SIGKILL {
		e.waitStopped(ctx, c.ID, 10*time.Second)
	}
	return nil
}

// Restart stops the container (if running) and starts it again.
func (e *Engine) Restart(ctx context.Context, ref string, timeout *int) error {
	if err := e.Stop(ctx, ref, timeout); err != nil {
		return err
	}
	// The monitor may still be tidying up after the exit; wait for it to go.
	id, err := e.store.resolve(ref)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.MonitorAlive(id) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.Start(ctx, ref, StartOptions{}); err != nil {
		return err
	}
	e.emitByRef(ctx, ref, "restart")
	return nil
}

// Wait blocks until the container stops and returns its exit code.
func (e *Engine) Wait(ctx context.Context, ref string) (int, error) {
	id, err := e.store.resolve(ref)
	if err != nil {
		return -1, err
	}
	delay := 2 * time.Millisecond
	for {
		c, err := e.Load(ctx, id)
		if err != nil {
			return -1, err
		}
		if !c.State.Running && !c.State.Restarting && c.State.Status != StatusCreated {
			return c.State.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	Force   bool // kill a running container first
	Volumes bool // remove its anonymous volumes
}

// Remove deletes a container and everything it holds on the host.
func (e *Engine) Remove(ctx context.Context, ref string, opts RemoveOptions) error {
	c, err := e.Load(ctx, ref)
	if err != nil {
		return err
	}
	if c.State.Running || c.State.Restarting {
		if !opts.Force {
			return fmt.Errorf("cannot remove container %q: container is running: stop the container before removing or force remove: %w", "/"+c.Name, errdefs.ErrConflict)
		}
		if _, err := e.Update(c.ID, func(c *Container) error { c.ManuallyStopped = true; return nil }); err != nil {
			return err
		}
		e.emitKill(c, syscall.SIGKILL)
		if err := e.RuntimeFor(c).Kill(ctx, c.ID, syscall.SIGKILL, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("killing %s: %w", c.Name, err)
		}
		e.thawIfPaused(ctx, c)
		e.waitStopped(ctx, c.ID, 30*time.Second)
	}
	return e.RemoveStopped(ctx, c.ID, opts.Volumes)
}

// RemoveStopped deletes a container that is not running; the monitor calls
// it for --rm.
func (e *Engine) RemoveStopped(ctx context.Context, id string, volumes bool) error {
	if e.lean() {
		if c, err := e.store.load(id); err == nil && (c.Rootfs == "" || e.hasNetNS(id)) {
			return e.runHelper(ctx, HelperRemove, id)
		}
	}
	c, err := e.Update(id, func(c *Container) error {
		if c.State.Running && e.MonitorAlive(c.ID) && e.monitorOf != c.ID {
			return fmt.Errorf("container %s is running: %w", c.Name, errdefs.ErrConflict)
		}
		c.State.Status = StatusRemoving
		return nil
	})
	if err != nil {
		return err
	}
	e.RuntimeFor(c).Delete(ctx, c.ID, true)
	e.Cleanup(ctx, c)
	if c.Rootfs == "" && e.opts.Images != nil {
		if err := e.opts.Images.Remove(ctx, c.ID, c.Image); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("removing the rootfs of %s: %w", c.Name, err)
		}
	}
	if volumes {
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Anonymous {
				e.removeVolume(m.Name)
			}
		}
	}
	e.store.releaseName(c.Name, c.ID)
	// Rename first: a half-removed container must not look valid.
	tomb := filepath.Join(e.opts.Root, "containers", ".rm-"+c.ID)
	if err := os.Rename(e.store.dir(c.ID), tomb); err != nil {
		return fmt.Errorf("removing container %s: %w", c.Name, err)
	}
	os.RemoveAll(tomb)
	e.EmitContainer(c, "destroy", nil)
	// The run dir holds the monitor lock; leave it while the monitor runs.
	if !e.MonitorAlive(c.ID) || e.monitorOf == c.ID {
		os.RemoveAll(e.store.runDir(c.ID))
	}
	return nil
}

// ParseSignal accepts "SIGTERM", "TERM" or "15".
func ParseSignal(s string) (syscall.Signal, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return 0, fmt.Errorf("empty signal: %w", errdefs.ErrInvalidArgument)
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal: %s: %w", s, errdefs.ErrInvalidArgument)
		}
		return syscall.Signal(n), nil
	}
	s = strings.TrimPrefix(s, "SIG")
	if sig, ok := signals[s]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal: %s: %w", s, errdefs.ErrInvalidArgument)
}

var signals = map[string]syscall.Signal{"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "BUS": syscall.SIGBUS, "CHLD": syscall.SIGCHLD,
	"CONT": syscall.SIGCONT, "FPE": syscall.SIGFPE, "HUP": syscall.SIGHUP, "ILL": syscall.SIGILL, "INT": syscall.SIGINT,
	"IO": syscall.SIGIO, "KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "PROF": syscall.SIGPROF, "PWR": syscall.SIGPWR,
	"QUIT": syscall.SIGQUIT, "SEGV": syscall.SIGSEGV, "STOP": syscall.SIGSTOP, "SYS": syscall.SIGSYS, "TERM": syscall.SIGTERM,
	"TRAP": syscall.SIGTRAP, "TSTP": syscall.SIGTSTP, "TTIN": syscall.SIGTTIN, "TTOU": syscall.SIGTTOU, "URG": syscall.SIGURG,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "VTALRM": syscall.SIGVTALRM, "WINCH": syscall.SIGWINCH,
	"XCPU": syscall.SIGXCPU, "XFSZ": syscall.SIGXFSZ}
