package image

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// errLocked says a non-blocking lock is held by someone else.
var errLocked = fmt.Errorf("store is busy: %w", errdefs.ErrUnavailable)

// lockFile takes an flock(2) lock on p, exclusive or shared, waiting for it
// or not, and returns the function that releases it.
func lockFile(p string, exclusive, wait bool) (func(), error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}
