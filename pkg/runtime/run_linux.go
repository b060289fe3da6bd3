package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// Run creates and starts container id. Detached, it returns once the
// container runs; otherwise it forwards signals to the init, waits for it
// to exit, deletes the container and returns the init's exit code
// (128+N when killed by signal N).
func (r *Runtime) Run(id string, opts *CreateOptions, detach bool) (int, error) {
	if !detach {
		// The init may be a grandchild (nsenter forks into pid namespaces):
		// make sure it is reparented to us.
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	sigs := make(chan os.Signal, 32)
	if !detach {
		defer notifyAll(sigs)()
	}
	var pty *ptyProxy
	o := *opts
	opts = &o
	if bundle, err := filepath.Abs(opts.Bundle); err == nil {
		// Loaded once for create too; on an error create reports it.
		if spec, rootfs, err := LoadSpec(bundle); err == nil {
			opts.spec, opts.rootfs = spec, rootfs
		}
	}
	if !detach && opts.ConsoleSocket == "" && opts.spec != nil && opts.spec.Process.Terminal {
		// No console socket in the foreground: proxy the pty ourselves, as runc does.
		var err error
		if pty, err = newPtyProxy(); err != nil {
			return 0, err
		}
		defer pty.close()
		opts.console = pty.theirs
	}
	_, rec, err := r.create(id, opts)
	if err != nil {
		return 0, err
	}
	if pty != nil {
		if err := pty.start(opts.Stdin, opts.Stdout); err != nil {
			r.delete(rec, true)
			return 0, err
		}
	}
	if err := r.start(rec); err != nil {
		r.delete(rec, true)
		return 0, err
	}
	if detach {
		return 0, nil
	}
	code, err := waitForwarding(rec.Pid, sigs)
	if pty != nil {
		pty.wait()
	}
	if derr := r.delete(rec, true); err == nil && derr != nil && !errors.Is(derr, errdefs.ErrNotFound) {
		err = derr
	}
	return code, err
}

// notifyAll relays every signal to sigs, for forwarding to the container,
// and returns the function that stops it. os/signal registers one signal
// at a time, each a round trip to the runtime's signal-mask thread: for
// all 65 that is milliseconds, longer than running /bin/true in a
// container. So registration runs in the background, while the caller
// creates the container (mostly waiting for the init), and so does the
// unregistration, once registration is done, so it never delays the exit.
// A signal that arrives before its registration has its default effect
// (SIGINT and SIGTERM are caught by the command line), as one arriving
// before the runtime reached this point would.
func notifyAll(sigs chan os.Signal) (stop func()) {
	registered := make(chan struct{})
	go func() {
		signal.Notify(sigs)
		close(registered)
	}()
	return func() {
		go func() {
			<-registered
			signal.Stop(sigs)
		}()
	}
}

// waitForwarding waits for pid (our child) and passes signals on to it.
func waitForwarding(pid int, sigs chan os.Signal) (int, error) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				if sig, ok := s.(syscall.Signal); ok && sig != unix.SIGCHLD && sig != unix.SIGURG && sig != unix.SIGWINCH {
					unix.Kill(pid, sig)
				}
			case <-done:
				return
			}
		}
	}()
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("waiting for pid %d: %w", pid, err)
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus(), nil
		case ws.Signaled():
			return 128 + int(ws.Signal()), nil
		}
	}
}

// ExecOptions describe a process to run in an existing container.
type ExecOptions struct {
	// Process is the process to run (args, env, cwd, user, capabilities...).
	Process *specs.Process
	// Detach returns once the process runs instead of waiting for it.
	Detach bool
	// PidFile receives the process's pid.
	PidFile string
	// ConsoleSocket receives the pty master when Process.Terminal is true.
	ConsoleSocket string
	// PreserveFDs passes the caller's fds 3 .. 3+N-1 on.
	PreserveFDs int
	// ExtraFiles, when set, are passed instead as fds 3, 4, ... (library callers).
	ExtraFiles []*os.File
	// Stdin, Stdout and Stderr are the process's stdio (nil: /dev/null).
	Stdin, Stdout, Stderr *os.File
}

// Exec runs a process inside the namespaces, cgroup and seccomp profile of
// container id. It returns the process's exit code unless detached.
func (r *Runtime) Exec(id string, opts *ExecOptions) (int, error) {
	rec, err := r.load(id)
	if err != nil {
		return 0, err
	}
	switch st := r.status(rec); st {
	case Running, Created:
	default:
		return 0, fmt.Errorf("cannot exec in container %q: it is %s: %w", id, st, errdefs.ErrConflict)
	}
	p := opts.Process
	if p == nil {
		return 0, invalid("no process to exec")
	}
	if err := validateProcess(p); err != nil {
		return 0, err
	}
	if p.Terminal && opts.ConsoleSocket == "" {
		return 0, invalid("process.terminal is true but no --console-socket was given")
	}
	join := map[specs.LinuxNamespaceType]string{}
	for t, name := range nsProcName {
		path := "/proc/" + strconv.Itoa(rec.Pid) + "/ns/" + name
		if _, err := os.Stat(path); err == nil {
			join[t] = path
		}
	}
	c, err := childFor(rec.Config, join)
	if err != nil {
		return 0, err
	}
	c.exe = r.initBinary
	defer c.closeJoins()
	if !rec.alive() {
		return 0, notRunning(id, Stopped)
	}
	c.mode = "exec"
	if cexecReason(p, r.initBinary) == "" {
		c.mode = cinitMode
	}
	c.stdio = [3]*os.File{opts.Stdin, opts.Stdout, opts.Stderr}
	c.preserve = preserved(opts.PreserveFDs, opts.ExtraFiles)
	if opts.ConsoleSocket != "" {
		con, err := dialConsole(opts.ConsoleSocket)
		if err != nil {
			return 0, err
		}
		defer con.Close()
		c.console = con
	}
	sigs := make(chan os.Signal, 32)
	if !opts.Detach {
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		defer notifyAll(sigs)()
	}
	s, err := c.start()
	if err != nil {
		return 0, err
	}
	if cg, err := r.cgroupOf(rec); err == nil && cg.Exists() {
		if err := cg.Apply(s.pid); err != nil {
			s.kill()
			return 0, fmt.Errorf("moving the exec'd process into the container's cgroup: %w", err)
		}
	}
	var seccomp *specs.LinuxSeccomp
	if rec.Config.Linux != nil {
		seccomp = rec.Config.Linux.Seccomp
	}
	if c.mode == cinitMode {
		plan, err := buildExecPlan(p, seccomp, cinitFDs{fifo: -1, console: c.consoleFD, preserve: len(c.preserve)}, r.compileSeccomp)
		if err == nil {
			_, err = s.conn.f.Write(plan)
		}
		if err != nil {
			s.kill()
			return 0, err
		}
	} else if err := s.conn.send(&initConfig{ID: id, Process: p, Seccomp: seccomp}); err != nil {
		s.kill()
		return 0, err
	}
	// The helper's end of the socket closes when it execs; an error comes first.
	if m, err := s.conn.recv(); err == nil {
		s.kill()
		return 0, fmt.Errorf("exec helper sent %q", m.Type)
	} else if err.Error() != "EOF" {
		s.kill()
		return 0, fmt.Errorf("exec in %q: %w", id, err)
	}
	s.conn.f.Close()
	if opts.PidFile != "" {
		if err := writeFileAtomic(opts.PidFile, []byte(strconv.Itoa(s.pid)), 0o644, true); err != nil {
			return 0, fmt.Errorf("--pid-file: %w", err)
		}
	}
	if opts.Detach {
		return 0, nil
	}
	return waitForwarding(s.pid, sigs)
}
