package engine

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// PendingMonitor is a monitor process started before its container exists
// (SpawnMonitor), so that its start overlaps the container's creation and
// preparation; Start hands it the container (StartOptions.Monitor).
type PendingMonitor struct {
	conn       *os.File // our end of the handoff socket
	waitAttach bool
	// preAttach asks the handoff to also pass the monitor an attach
	// connection, with this hello already on it (PreAttach).
	preAttach bool
	hello     []byte
	attach    *os.File // our end of that connection once handed off
}

// handoffIDLen is the size of the handoff message: a container ID.
const handoffIDLen = 64

// SpawnMonitor starts a monitor that waits for a container: Start with
// StartOptions{Monitor: p} hands it one, Close abandons it (it exits).
// Its output goes to the container's monitor.log once it has one.
func (e *Engine) SpawnMonitor(waitAttach bool) (*PendingMonitor, error) {
	return SpawnMonitorCommand(e.opts.MonitorCommand, waitAttach)
}

// SpawnMonitorCommand is SpawnMonitor for a caller that has no Engine yet
// (opening one opens the image store and the network manager): argv is
// what the engine's Options.MonitorCommand will be. Starting the monitor
// first lets its start-up overlap all of the client's work.
func SpawnMonitorCommand(argv []string, waitAttach bool) (*PendingMonitor, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("starting monitor: no monitor command: %w", errdefs.ErrInvalidArgument)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("monitor handoff socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "handoff"), os.NewFile(uintptr(fds[1]), "handoff")
	defer theirs.Close()
	argv = append(append([]string{}, argv...), "--prepared")
	if waitAttach {
		argv = append(argv, "--wait-attach")
	}
	argv = append(argv, "-")
	// syscall.ForkExec rather than os/exec: this is on the critical path
	// of `run`, and os.StartProcess first probes pidfd support (opening a
	// pidfd, signalling it, cloning a throwaway child) and opens
	// /dev/null once per standard stream.
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		ours.Close()
		return nil, fmt.Errorf("starting monitor: %w", err)
	}
	defer null.Close()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Env:   append(os.Environ(), "BERTH_MONITOR_HANDOFF_FD=3"),
		Files: []uintptr{null.Fd(), null.Fd(), null.Fd(), theirs.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		ours.Close()
		return nil, fmt.Errorf("starting monitor: %w", err)
	}
	go func() { // reaps the monitor if this process outlives it
		var ws syscall.WaitStatus
		for {
			if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
				return
			}
		}
	}()
	return &PendingMonitor{conn: ours, waitAttach: waitAttach}, nil
}

// PreAttach makes the handoff also give the monitor a connected attach
// client, this one, whose hello (with remove as AttachOptions.Remove) is on
// it already. A monitor started with WaitAttach then runs the container the
// moment it is created, instead of after reporting and waiting for the
// client to dial the attach socket. After Start, AttachConn returns the
// connection for AttachOptions.Conn.
func (p *PendingMonitor) PreAttach(remove bool) {
	if p == nil {
		return
	}
	p.preAttach = true
	p.hello = nil
	if remove {
		p.hello = []byte("remove")
	}
}

// AttachConn returns the attach connection the handoff made (PreAttach),
// or nil; the caller owns it from then on (Attach closes it).
func (p *PendingMonitor) AttachConn() *os.File {
	if p == nil {
		return nil
	}
	f := p.attach
	p.attach = nil
	return f
}

// Close abandons a monitor that was not handed a container; it exits.
// An attach connection from the handoff stays for AttachConn.
func (p *PendingMonitor) Close() {
	if p != nil && p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// handoff gives the prepared container id and its monitor lock to the
// pending monitor and waits for its first report.
func (p *PendingMonitor) handoff(id string, lock *os.File) error {
	if p.conn == nil {
		return fmt.Errorf("monitor handoff: already used: %w", errdefs.ErrInvalidArgument)
	}
	defer p.Close()
	if len(id) != handoffIDLen {
		return fmt.Errorf("monitor handoff: container ID %q: %w", id, errdefs.ErrInvalidArgument)
	}
	fds := []int{int(lock.Fd())}
	var attach *os.File
	if p.preAttach {
		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return &errdefs.ExitError{Code: 125, Err: fmt.Errorf("attach socket for %s: %w", id, err)}
		}
		unix.SetNonblock(pair[0], true) // so that os.NewFile polls it
		attach = os.NewFile(uintptr(pair[0]), "attach")
		defer unix.Close(pair[1]) // the monitor has its own copy once sent
		fds = append(fds, pair[1])
	}
	if err := unix.Sendmsg(int(p.conn.Fd()), []byte(id), unix.UnixRights(fds...), nil, 0); err != nil {
		if attach != nil {
			attach.Close()
		}
		return &errdefs.ExitError{Code: 125, Err: fmt.Errorf("handing %s to its monitor: %w", id, err)}
	}
	if attach != nil {
		// The hello waits in the socket until the monitor reads it, which
		// it does while the runtime creates the container.
		if err := WriteFrame(attach, FrameHello, p.hello); err != nil {
			attach.Close()
			return &errdefs.ExitError{Code: 125, Err: fmt.Errorf("attaching to %s: %w", id, err)}
		}
		p.attach = attach
	}
	return ReadSync(p.conn)
}

// ReceiveHandoff is the pending monitor's side of the handoff on fd: it
// waits for the container ID and the monitor lock. io.EOF-like failures
// (the starter gave up) return an error wrapping errdefs.ErrNotFound. The
// returned conn carries the monitor's report (WriteSync) back; attach, when
// not nil, is a client already attached (PendingMonitor.PreAttach).
func ReceiveHandoff(fd int) (id string, lock, conn, attach *os.File, err error) {
	conn = os.NewFile(uintptr(fd), "handoff")
	buf := make([]byte, handoffIDLen)
	oob := make([]byte, unix.CmsgSpace(2*4))
	got := 0
	for got < handoffIDLen {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf[got:], oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			conn.Close()
			return "", nil, nil, nil, fmt.Errorf("monitor handoff: %w", err)
		}
		if n == 0 {
			conn.Close()
			return "", nil, nil, nil, fmt.Errorf("monitor handoff: the starter gave up: %w", errdefs.ErrNotFound)
		}
		if oobn > 0 && lock == nil {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err == nil && len(msgs) > 0 {
				if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) > 0 {
					lock = os.NewFile(uintptr(fds[0]), "monitor.lock")
					if len(fds) > 1 {
						attach = os.NewFile(uintptr(fds[1]), "attach")
					}
					for _, extra := range fds[min(len(fds), 2):] {
						unix.Close(extra)
					}
				}
			}
		}
		got += n
	}
	if lock == nil {
		conn.Close()
		if attach != nil {
			attach.Close()
		}
		return "", nil, nil, nil, fmt.Errorf("monitor handoff: no monitor lock received: %w", errdefs.ErrInvalidArgument)
	}
	id = string(buf)
	if !isHex(id) {
		lock.Close()
		conn.Close()
		if attach != nil {
			attach.Close()
		}
		return "", nil, nil, nil, fmt.Errorf("monitor handoff: container ID %q: %w", id, errdefs.ErrInvalidArgument)
	}
	return id, lock, conn, attach, nil
}
