package runtime

import (
	"errors"
	"fmt"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupConsole opens a pty in the container's devpts, sends the master to
// the caller over the console socket (SCM_RIGHTS) and makes the slave the
// process's controlling terminal and stdio. For the init it also binds the
// slave over /dev/console.
func setupConsole(sock int, p *specs.Process, devConsole bool) error {
	if sock < 0 {
		return errors.New("process.terminal is true but there is no console socket")
	}
	defer unix.Close(sock)
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening /dev/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlocking the pty: %w", err)
	}
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("pty number: %w", err)
	}
	slave, err := ptyPeer(master)
	if err != nil {
		return err
	}
	defer unix.Close(slave)
	if p.ConsoleSize != nil {
		ws := &unix.Winsize{Row: uint16(p.ConsoleSize.Height), Col: uint16(p.ConsoleSize.Width)}
		if err := unix.IoctlSetWinsize(slave, unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("process.consoleSize: %w", err)
		}
	}
	name := "/dev/pts/" + strconv.Itoa(n)
	if err := unix.Sendmsg(sock, []byte(name), unix.UnixRights(master), nil, 0); err != nil {
		return fmt.Errorf("sending the pty master over the console socket: %w", err)
	}
	if devConsole {
		// The bind goes through /proc/self/fd.
		if err := checkProcfs(); err != nil {
			return err
		}
		root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		t, err := mkdirAllInRoot(root, "/dev/console", true, true)
		unix.Close(root)
		if err != nil {
			return fmt.Errorf("/dev/console: %w", err)
		}
		err = unix.Mount(fdPath(slave), fdPath(t), "", unix.MS_BIND, "")
		unix.Close(t)
		if err != nil {
			return fmt.Errorf("binding the pty over /dev/console: %w", err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(slave, i, 0); err != nil {
			return err
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("making the pty the controlling terminal: %w", err)
	}
	return nil
}

// ptyPeer opens the slave of master read-write without a path lookup.
func ptyPeer(master int) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if e != 0 {
		return -1, fmt.Errorf("opening the pty slave: %w", e)
	}
	return int(r), nil
}
