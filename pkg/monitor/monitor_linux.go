package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/errdefs"
)

// Options tune Run.
type Options struct {
	// WaitAttach holds the container's start until a client attaches.
	WaitAttach bool
	// Sync receives the first start's result; it is closed after.
	Sync io.WriteCloser
	// Prepared says the starter prepared the first run (engine.Prepare:
	// rootfs, network, bundle), as Engine.Start does.
	Prepared bool
	// Lock is the container's monitor lock, taken by the starter; nil
	// means the monitor takes it.
	Lock *os.File
	// Attach is a client attached by the handoff
	// (engine.PendingMonitor.PreAttach); it is served like one that
	// dialed the attach socket.
	Attach *os.File
}

// monitor is one container's keeper.
type monitor struct {
	eng  *engine.Engine
	id   string
	opts Options

	mu         sync.Mutex
	clients    map[net.Conn]*sync.Mutex
	removers   map[net.Conn]bool // clients that remove a --rm container themselves
	attached   chan struct{}     // closed when the first client attaches
	attachOnce sync.Once
	stdin      io.WriteCloser // the container's stdin (pipe or pty master)
	reaper     *engine.Reaper
	pty        *os.File
}

// Run keeps container id until it stops for good (and is removed with --rm).
func Run(ctx context.Context, eng *engine.Engine, id string, opts Options) error {
	m := &monitor{eng: eng, id: id, opts: opts, clients: map[net.Conn]*sync.Mutex{}, removers: map[net.Conn]bool{}, attached: make(chan struct{})}
	reported := false
	report := func(err error) {
		if !reported && opts.Sync != nil {
			engine.WriteSync(opts.Sync, err)
			opts.Sync.Close()
		}
		reported = true
	}
	defer report(errors.New("the monitor stopped before the container started"))
	lock := opts.Lock
	if lock == nil {
		var err error
		if lock, err = eng.MonitorLock(id); err != nil {
			report(err)
			return err
		}
	}
	unix.CloseOnExec(int(lock.Fd())) // neither the container nor a helper may hold it
	defer lock.Close()
	eng.ActAsMonitor(id)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		report(err)
		return err
	}
	m.reaper = engine.NewReaper()
	eng.SetReaper(m.reaper)
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE)
	ln, err := m.listen()
	if err != nil {
		report(err)
		return err
	}
	defer ln.Close()
	if opts.Attach != nil {
		// Its hello, read while the runtime creates the container, lets a
		// WaitAttach start go ahead without a round trip to the client.
		conn, err := net.FileConn(opts.Attach)
		opts.Attach.Close()
		if err == nil {
			m.addClient(conn)
		}
	}
	go m.serve(ln)

	backoff := 100 * time.Millisecond
	for first := true; ; first = false {
		c, err := eng.Update(id, func(c *engine.Container) error {
			if c.State.Status == engine.StatusRemoving {
				return errdefs.ErrNotFound
			}
			return nil
		})
		if err != nil {
			report(err)
			return nil
		}
		if !first && c.ManuallyStopped {
			eng.Update(id, func(c *engine.Container) error {
				c.State.Restarting, c.State.Status = false, engine.StatusExited
				return nil
			})
			m.closeClients(c.State.ExitCode)
			return nil
		}
		started := time.Now()
		code, runErr := m.runOnce(ctx, c, first, report)
		if runErr != nil {
			slog.Error("container run failed", "id", id, "err", runErr)
		}
		c, err = eng.Update(id, func(c *engine.Container) error {
			c.State.Running, c.State.Pid, c.State.Paused = false, 0, false
			c.ClearNetwork()
			c.State.ExitCode = code
			c.State.FinishedAt = time.Now().UTC()
			if runErr != nil {
				c.State.Error = runErr.Error()
			}
			if c.State.Health != nil {
				c.State.Health.Status = engine.HealthUnhealthy
			}
			if runErr == nil && engine.ShouldRestart(c, code) {
				c.RestartCount++
				c.State.Restarting, c.State.Status = true, engine.StatusRestarting
			} else {
				c.State.Restarting, c.State.Status = false, engine.StatusExited
			}
			return nil
		})
		if err != nil {
			m.closeClients(code)
			eng.DropRunDir(id)
			return nil // removed under us
		}
		eng.EmitContainer(c, "die", map[string]string{"exitCode": strconv.Itoa(code)})
		if !c.State.Restarting {
			if c.HostConfig.AutoRemove && m.hasRemover() {
				// The attached client removes it: it waits for this
				// monitor to go, which the lock's release tells it.
				lock.Close()
				m.closeClients(code)
				return nil
			}
			if c.HostConfig.AutoRemove {
				if err := eng.RemoveStopped(ctx, id, true); err != nil {
					slog.Error("auto-remove failed", "id", id, "err", err)
				}
				eng.DropRunDir(id)
			}
			m.closeClients(code)
			return nil
		}
		m.sendExit(code)
		if time.Since(started) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		if !m.sleepUnlessStopped(ctx, backoff) {
			eng.Update(id, func(c *engine.Container) error {
				c.State.Restarting, c.State.Status = false, engine.StatusExited
				return nil
			})
			m.closeClients(code)
			return nil
		}
		backoff = min(backoff*2, time.Minute)
	}
}

// sleepUnlessStopped waits d, returning false if the container was stopped
// or removed meanwhile.
func (m *monitor) sleepUnlessStopped(ctx context.Context, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		c, err := m.eng.Load(ctx, m.id)
		if err != nil || c.ManuallyStopped || c.State.Status == engine.StatusRemoving {
			return false
		}
		left := time.Until(deadline)
		if left <= 0 {
			return true
		}
		time.Sleep(min(left, 50*time.Millisecond))
	}
}

// runOnce creates, starts and waits for the container once; it returns the
// exit code (docker's: 128+N for signal N, 125-127 for start failures).
func (m *monitor) runOnce(ctx context.Context, c *engine.Container, first bool, report func(error)) (int, error) {
	eng := m.eng
	rt := eng.RuntimeFor(c)
	fail := func(err error) (int, error) {
		rt.Delete(ctx, c.ID, true)
		eng.Cleanup(ctx, c)
		code := errdefs.ExitCode(err)
		if code < 125 {
			code = 125
		}
		report(&errdefs.ExitError{Code: code, Err: err})
		return code, err
	}
	var bundle *engine.Bundle
	if first && m.opts.Prepared {
		bundle = &engine.Bundle{Dir: eng.RunDir(c.ID)}
	} else {
		rt.Delete(ctx, c.ID, true) // a leftover from a crash would block create
		var err error
		if bundle, err = eng.Prepare(ctx, c); err != nil {
			return fail(err)
		}
	}
	logw, err := engine.OpenLog(c)
	if err != nil {
		return fail(err)
	}
	defer logw.Close()

	cio := engine.CreateIO{PidFile: filepath.Join(bundle.Dir, "init.pid")}
	var pumps sync.WaitGroup
	var closers []*os.File
	var consoleCh chan *os.File
	if c.Config.Tty {
		sock := eng.ConsoleSocket(c.ID)
		os.Remove(sock)
		cl, err := net.Listen("unix", sock)
		if err != nil {
			return fail(err)
		}
		defer cl.Close()
		defer os.Remove(sock)
		cio.ConsoleSocket = sock
		consoleCh = make(chan *os.File, 1)
		go func() {
			f, err := recvFd(cl)
			if err != nil {
				slog.Error("receiving console", "err", err)
				close(consoleCh)
				return
			}
			consoleCh <- f
		}()
		null, _ := os.Open(os.DevNull)
		cio.Stdin = null
		closers = append(closers, null)
	} else {
		outR, outW, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		cio.Stdout, cio.Stderr = outW, errW
		closers = append(closers, outW, errW)
		if c.Config.OpenStdin {
			inR, inW, err := os.Pipe()
			if err != nil {
				return fail(err)
			}
			cio.Stdin = inR
			closers = append(closers, inR)
			m.setStdin(inW)
		} else {
			null, _ := os.Open(os.DevNull)
			cio.Stdin = null
			closers = append(closers, null)
		}
		pumps.Add(2)
		go m.pump(&pumps, outR, "stdout", engine.FrameStdout, logw)
		go m.pump(&pumps, errR, "stderr", engine.FrameStderr, logw)
	}
	pid, err := rt.Create(ctx, c.ID, bundle.Dir, cio)
	for _, f := range closers {
		f.Close()
	}
	if err != nil {
		m.setStdin(nil)
		pumps.Wait()
		return fail(err)
	}
	if consoleCh != nil {
		pty, ok := <-consoleCh
		if !ok {
			return fail(errors.New("the runtime sent no console"))
		}
		m.mu.Lock()
		m.pty = pty
		m.mu.Unlock()
		m.setStdin(pty)
		pumps.Add(1)
		go m.pump(&pumps, pty, "stdout", engine.FrameStdout, logw)
	}
	if _, err := eng.Update(c.ID, func(rec *engine.Container) error {
		rec.State.Status, rec.State.Running, rec.State.Restarting = engine.StatusRunning, true, false
		rec.State.Pid, rec.State.MonitorPid = pid, os.Getpid()
		rec.State.ExitCode, rec.State.Error, rec.State.OOMKilled = 0, "", false
		rec.State.StartedAt = time.Now().UTC()
		if rec.Config.Healthcheck != nil {
			rec.State.Health = &engine.Health{Status: engine.HealthStarting}
		}
		return nil
	}); err != nil {
		rt.Kill(ctx, c.ID, syscall.SIGKILL, true)
		return fail(err)
	}
	if first && wantsWatchdog(c) {
		// Before the first report: once the starter hears of the start,
		// this monitor may be killed at any moment.
		m.watchdog()
	}
	if first && m.opts.WaitAttach {
		// The starter attaches only after this report; a failing start
		// still reaches it as an exit frame.
		report(nil)
		select {
		case <-m.attached:
		case <-time.After(time.Minute):
		}
	}
	if err := rt.Start(ctx, c.ID); err != nil {
		rt.Kill(ctx, c.ID, syscall.SIGKILL, true)
		<-m.reaper.Watch(pid)
		return fail(err)
	}
	report(nil)
	eng.EmitContainer(c, "start", nil)
	hctx, stopHealth := context.WithCancel(ctx)
	if c.Config.Healthcheck != nil {
		go m.health(hctx, c, rt)
	}
	status := <-m.reaper.Watch(pid)
	stopHealth()
	code := exitCode(status)
	// The container's processes are gone, so its pipes close; a stray
	// holder (a process that escaped) must not hold the monitor forever.
	done := make(chan struct{})
	go func() { pumps.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	oom := engine.OOMKills(c.ID) > 0
	rt.Delete(ctx, c.ID, true)
	if !c.HostConfig.AutoRemove {
		// A --rm container's removal (the client's, this monitor's or
		// the next Load's) cleans up: once, in one process.
		eng.Cleanup(ctx, c)
	}
	m.setStdin(nil)
	m.mu.Lock()
	if m.pty != nil {
		m.pty.Close()
		m.pty = nil
	}
	m.mu.Unlock()
	if oom {
		eng.EmitContainer(c, "oom", nil)
		eng.Update(c.ID, func(rec *engine.Container) error { rec.State.OOMKilled = true; return nil })
		if code == 0 {
			code = 137
		}
	}
	return code, nil
}

func exitCode(ws unix.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 255
}

func (m *monitor) setStdin(w io.WriteCloser) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stdin != nil && m.stdin != w && m.stdin != io.WriteCloser(m.pty) {
		m.stdin.Close()
	}
	m.stdin = w
}

// pump copies one output stream of the container to the log and clients.
func (m *monitor) pump(wg *sync.WaitGroup, r *os.File, stream string, kind byte, logw *engine.LogWriter) {
	defer wg.Done()
	if stream != "stdout" || kind != engine.FrameStdout || r != m.pty {
		defer r.Close()
	}
	buf := make([]byte, 32*1024)
	var partial []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			now := time.Now()
			chunk := buf[:n]
			m.broadcast(kind, chunk)
			data := append(partial, chunk...)
			for {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					break
				}
				logw.Write(stream, data[:i+1], now)
				data = data[i+1:]
			}
			partial = append([]byte{}, data...)
			if len(partial) >= 16*1024 {
				logw.Write(stream, partial, now)
				partial = nil
			}
		}
		if err != nil {
			if len(partial) > 0 {
				logw.Write(stream, partial, time.Now())
			}
			return
		}
	}
}

func (m *monitor) listen() (net.Listener, error) {
	sock := m.eng.AttachSocket(m.id)
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		return nil, err
	}
	os.Remove(sock)
	return net.Listen("unix", sock)
}

// serve accepts attach clients: it forwards their stdin and resizes.
func (m *monitor) serve(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		m.addClient(conn)
	}
}

// addClient serves an attached client.
func (m *monitor) addClient(conn net.Conn) {
	m.mu.Lock()
	m.clients[conn] = &sync.Mutex{}
	m.mu.Unlock()
	go m.readClient(conn)
}

// readClient serves one client; its first frame (a hello) or its going
// lets a container held for its first client (WaitAttach) run.
func (m *monitor) readClient(conn net.Conn) {
	release := func() { m.attachOnce.Do(func() { close(m.attached) }) }
	defer func() {
		m.mu.Lock()
		delete(m.clients, conn)
		delete(m.removers, conn)
		m.mu.Unlock()
		conn.Close()
		release()
	}()
	for {
		kind, p, err := engine.ReadFrame(conn)
		if err != nil {
			return
		}
		if kind == engine.FrameHello {
			if string(p) == "remove" {
				m.mu.Lock()
				m.removers[conn] = true
				m.mu.Unlock()
			}
			release()
			continue
		}
		release()
		m.mu.Lock()
		in, pty := m.stdin, m.pty
		m.mu.Unlock()
		switch kind {
		case engine.FrameStdin:
			if in != nil {
				in.Write(p)
			}
		case engine.FrameStdinClose:
			if in != nil && pty == nil {
				m.setStdin(nil)
			}
		case engine.FrameResize:
			var rows, cols uint16
			if _, err := fmt.Sscanf(string(p), "%d %d", &rows, &cols); err == nil && pty != nil {
				unix.IoctlSetWinsize(int(pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
			}
		}
	}
}

func (m *monitor) broadcast(kind byte, p []byte) {
	m.mu.Lock()
	conns := make(map[net.Conn]*sync.Mutex, len(m.clients))
	for c, l := range m.clients {
		conns[c] = l
	}
	m.mu.Unlock()
	for c, l := range conns {
		l.Lock()
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if engine.WriteFrame(c, kind, p) != nil {
			c.Close()
		}
		l.Unlock()
	}
}

func (m *monitor) sendExit(code int) { m.broadcast(engine.FrameExit, []byte(strconv.Itoa(code))) }

func (m *monitor) closeClients(code int) {
	m.sendExit(code)
	m.mu.Lock()
	defer m.mu.Unlock()
	for c := range m.clients {
		c.Close()
	}
}

// recvFd accepts one connection on l and receives a file descriptor over it.
func recvFd(l net.Listener) (*os.File, error) {
	conn, err := l.Accept()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	uc := conn.(*net.UnixConn)
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil, fmt.Errorf("no console fd received: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return nil, fmt.Errorf("no console fd received: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// health runs the container's health check on its schedule.
func (m *monitor) health(ctx context.Context, c *engine.Container, rt engine.Runtime) {
	hc := c.Config.Healthcheck
	interval, timeout, retries := hc.Interval, hc.Timeout, hc.Retries
	if interval <= 0 {
		interval = 30 * time.Second
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if retries <= 0 {
		retries = 3
	}
	var args []string
	switch hc.Test[0] {
	case "CMD":
		args = hc.Test[1:]
	case "CMD-SHELL":
		args = []string{"/bin/sh", "-c", strings.Join(hc.Test[1:], " ")}
	default:
		return
	}
	spec, err := engine.LoadBundleSpec(m.eng.RunDir(c.ID))
	if err != nil {
		return
	}
	started := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		if m.eng.Paused(c.ID) {
			continue // a frozen container cannot answer: no check while paused
		}
		res := runCheck(ctx, rt, c.ID, spec.Process, args, timeout)
		inStart := time.Since(started) < hc.StartPeriod
		prev := ""
		rec, err := m.eng.Update(c.ID, func(rec *engine.Container) error {
			h := rec.State.Health
			if h == nil || !rec.State.Running {
				return nil
			}
			prev = h.Status
			h.Log = append(h.Log, res)
			if len(h.Log) > 5 {
				h.Log = h.Log[len(h.Log)-5:]
			}
			if res.ExitCode == 0 {
				h.Status, h.FailingStreak = engine.HealthHealthy, 0
			} else if !inStart {
				h.FailingStreak++
				if h.FailingStreak >= retries {
					h.Status = engine.HealthUnhealthy
				}
			}
			return nil
		})
		if err == nil && rec.State.Health != nil && prev != "" && rec.State.Health.Status != prev {
			m.eng.EmitContainer(rec, "health_status: "+rec.State.Health.Status, nil)
		}
	}
}

// runCheck runs one health check inside the container.
func runCheck(ctx context.Context, rt engine.Runtime, id string, base *specs.Process, args []string, timeout time.Duration) engine.HealthResult {
	res := engine.HealthResult{Start: time.Now().UTC()}
	out, err := os.CreateTemp("", "berth-health-")
	if err != nil {
		res.ExitCode, res.Output, res.End = -1, err.Error(), time.Now().UTC()
		return res
	}
	defer os.Remove(out.Name())
	defer out.Close()
	p := *base
	p.Args, p.Terminal = args, false
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code, err := rt.Exec(cctx, id, &p, engine.ExecIO{Stdout: out, Stderr: out})
	res.End = time.Now().UTC()
	if cctx.Err() != nil {
		res.ExitCode, res.Output = -1, fmt.Sprintf("Health check exceeded timeout (%s)", timeout)
		return res
	}
	if err != nil {
		res.ExitCode, res.Output = -1, err.Error()
		return res
	}
	out.Seek(0, io.SeekStart)
	b, _ := io.ReadAll(io.LimitReader(out, 4096))
	res.ExitCode, res.Output = code, string(b)
	return res
}

// hasRemover reports whether a client that removes a --rm container
// itself is attached.
func (m *monitor) hasRemover() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.removers) > 0
}

// wantsWatchdog reports whether c's restart policy may restart it after
// its monitor died, which a watchdog does without waiting for the next
// berth command.
func wantsWatchdog(c *engine.Container) bool {
	if c.HostConfig.AutoRemove {
		return false
	}
	switch c.HostConfig.RestartPolicy.Name {
	case "always", "unless-stopped", "on-failure":
		return true
	}
	return false
}

// watchdog starts a watchdog process (engine.StartWatchdog) and keeps one
// alive for as long as this monitor lives: one that is killed is started
// again.
func (m *monitor) watchdog() {
	done, err := m.eng.StartWatchdog(m.id)
	if err != nil {
		slog.Error("starting the watchdog", "id", m.id, "err", err)
	}
	go func() {
		for delay := time.Second; ; delay = min(delay*2, time.Minute) {
			if done != nil {
				<-done
			}
			time.Sleep(delay)
			if done, err = m.eng.StartWatchdog(m.id); err != nil {
				slog.Error("starting the watchdog", "id", m.id, "err", err)
				done = nil
			}
		}
	}()
}

// Inherit fills mo with what the starter passed this monitor and returns
// the container ID: the sync pipe and monitor lock (engine's
// BERTH_MONITOR_SYNC_FD and BERTH_MONITOR_LOCK_FD), or, for a monitor
// started ahead of its container (ID "-", BERTH_MONITOR_HANDOFF_FD), the
// container ID, lock and report channel from the handoff socket, after
// which this process's output goes to the container's monitor.log. The
// variables are cleared so that children do not see them.
func Inherit(eng *engine.Engine, id string, mo *Options) (string, error) {
	defer func() {
		os.Unsetenv("BERTH_MONITOR_SYNC_FD")
		os.Unsetenv("BERTH_MONITOR_LOCK_FD")
		os.Unsetenv("BERTH_MONITOR_HANDOFF_FD")
	}()
	if fd, err := strconv.Atoi(os.Getenv("BERTH_MONITOR_HANDOFF_FD")); err == nil && fd > 2 && id == "-" {
		unix.CloseOnExec(fd)
		hid, lock, conn, attach, err := engine.ReceiveHandoff(fd)
		if err != nil {
			return "", err
		}
		mo.Sync, mo.Lock, mo.Attach = conn, lock, attach
		if logf, err := os.OpenFile(filepath.Join(eng.RunDir(hid), "monitor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_CLOEXEC, 0o600); err == nil {
			unix.Dup3(int(logf.Fd()), 1, 0)
			unix.Dup3(int(logf.Fd()), 2, 0)
			logf.Close()
		}
		return hid, nil
	}
	if id == "-" {
		return "", fmt.Errorf("container ID \"-\" without a handoff: %w", errdefs.ErrInvalidArgument)
	}
	if fd, err := strconv.Atoi(os.Getenv("BERTH_MONITOR_SYNC_FD")); err == nil && fd > 2 {
		unix.CloseOnExec(fd)
		mo.Sync = os.NewFile(uintptr(fd), "sync")
	}
	if fd, err := strconv.Atoi(os.Getenv("BERTH_MONITOR_LOCK_FD")); err == nil && fd > 2 {
		unix.CloseOnExec(fd)
		mo.Lock = os.NewFile(uintptr(fd), "monitor.lock")
	}
	return id, nil
}
