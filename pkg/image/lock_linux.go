package image

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/flock"
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
	ok, err := flock.File(f, exclusive, wait)
	if !ok {
		f.Close()
		if err == nil {
			return nil, errLocked
		}
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}
