package runtime

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// ptyProxy receives the container's pty master on a socketpair and copies
// between it and the caller's stdio, with the caller's terminal in raw mode.
type ptyProxy struct {
	ours, theirs *os.File
	master       *os.File
	restore      func()
	done         chan struct{}
}

func newPtyProxy() (*ptyProxy, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &ptyProxy{ours: os.NewFile(uintptr(fds[0]), "console-ours"), theirs: os.NewFile(uintptr(fds[1]), "console-theirs"), done: make(chan struct{})}, nil
}

// start takes the master the init sent and starts copying.
func (p *ptyProxy) start(in, out *os.File) error {
	p.theirs.Close()
	buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(p.ours.Fd()), buf, oob, 0)
	if err != nil {
		return err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return errors.New("no pty master from the container init")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return errors.New("no pty master from the container init")
	}
	p.master = os.NewFile(uintptr(fds[0]), "pty-master")
	if in != nil {
		if t, err := unix.IoctlGetTermios(int(in.Fd()), unix.TCGETS); err == nil {
			raw := *t
			raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
			raw.Oflag &^= unix.OPOST
			raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
			raw.Cflag &^= unix.CSIZE | unix.PARENB
			raw.Cflag |= unix.CS8
			if unix.IoctlSetTermios(int(in.Fd()), unix.TCSETS, &raw) == nil {
				p.restore = func() { unix.IoctlSetTermios(int(in.Fd()), unix.TCSETS, t) }
			}
			if ws, err := unix.IoctlGetWinsize(int(in.Fd()), unix.TIOCGWINSZ); err == nil {
				unix.IoctlSetWinsize(int(p.master.Fd()), unix.TIOCSWINSZ, ws)
			}
		}
		go io.Copy(p.master, in)
	}
	go func() {
		if out != nil {
			io.Copy(out, p.master) // ends with EIO once the last slave fd closes
		}
		close(p.done)
	}()
	return nil
}

// wait lets the output drain after the container exited.
func (p *ptyProxy) wait() {
	if p.master != nil {
		<-p.done
	}
}

func (p *ptyProxy) close() {
	if p.restore != nil {
		p.restore()
	}
	p.ours.Close()
	p.theirs.Close()
	if p.master != nil {
		p.master.Close()
	}
}
