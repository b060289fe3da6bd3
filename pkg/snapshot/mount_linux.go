package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is one mount(2) call: what Prepare returns and Mount performs.
type Mount struct {
	Type    string   `json:"type"`
	Source  string   `json:"source"`
	Options []string `json:"options,omitempty"`
}

// maxOptions is the longest option string mount(2) takes (one page, with
// its terminating NUL).
const maxOptions = 4095

// MountAll mounts mounts on target, in order.
func MountAll(mounts []Mount, target string) error {
	for _, m := range mounts {
		if err := m.Mount(target); err != nil {
			return err
		}
	}
	return nil
}

// Mount mounts m on target. An overlay whose lower directories do not fit
// in one option string is mounted with lowerdir paths relative to their
// common directory, from a thread whose working directory is that
// directory (the thread's filesystem context is unshared, so the rest of
// the process keeps its own working directory).
func (m Mount) Mount(target string) error {
	var flags uintptr
	var data []string
	for _, o := range m.Options {
		switch o {
		case "bind":
			flags |= unix.MS_BIND
		case "rbind":
			flags |= unix.MS_BIND | unix.MS_REC
		case "ro":
			flags |= unix.MS_RDONLY
		case "rw":
		default:
			data = append(data, o)
		}
	}
	opts := strings.Join(data, ",")
	if len(opts) <= maxOptions || m.Type != "overlay" {
		if err := unix.Mount(m.Source, target, m.Type, flags, opts); err != nil {
			return fmt.Errorf("mounting %s on %s: %w", m.Type, target, err)
		}
		return nil
	}
	dir, short, err := relativeLowers(data)
	if err != nil {
		return err
	}
	if len(short) > maxOptions {
		return fmt.Errorf("mounting overlay on %s: too many layers for one mount (%d bytes of options)", target, len(short))
	}
	errc := make(chan error, 1)
	go func() {
		// The thread dies with this goroutine (it is never unlocked), so its
		// unshared working directory never serves other goroutines.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_FS): %w", err)
			return
		}
		if err := unix.Chdir(dir); err != nil {
			errc <- err
			return
		}
		errc <- unix.Mount(m.Source, target, m.Type, flags, short)
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("mounting overlay on %s: %w", target, err)
	}
	return nil
}

// relativeLowers rewrites the lowerdir option to paths relative to the
// directory that holds them all.
func relativeLowers(data []string) (string, string, error) {
	var dir string
	out := make([]string, len(data))
	copy(out, data)
	for i, o := range out {
		v, ok := strings.CutPrefix(o, "lowerdir=")
		if !ok {
			continue
		}
		lowers := strings.Split(v, ":")
		dir = filepath.Dir(lowers[0])
		for j, l := range lowers {
			if filepath.Dir(l) != dir {
				return "", "", fmt.Errorf("overlay lower directories do not share a parent")
			}
			lowers[j] = filepath.Base(l)
		}
		out[i] = "lowerdir=" + strings.Join(lowers, ":")
	}
	if dir == "" {
		return "", "", fmt.Errorf("overlay options too long and no lowerdir to shorten")
	}
	return dir, strings.Join(out, ","), nil
}

// Unmount unmounts target (lazily if it is busy).
func Unmount(target string) error {
	err := unix.Unmount(target, 0)
	if err == unix.EBUSY {
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	if err != nil && err != unix.EINVAL {
		return fmt.Errorf("unmounting %s: %w", target, err)
	}
	return nil
}

// SyncFS flushes the filesystem that holds dir, so an unpacked layer is on
// disk before it is renamed into place. One call covers every layer (and
// blob) written on that filesystem so far.
func SyncFS(dir string) {
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	defer f.Close()
	unix.Syncfs(int(f.Fd()))
}
