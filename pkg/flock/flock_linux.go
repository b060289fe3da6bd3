// Package flock takes exclusive flock(2) locks on files. The kernel drops a
// lock when its holder dies, so a held lock is also a liveness signal (the
// engine's monitors keep theirs for life). flock locks belong to the open file
// description: two goroutines of one process exclude each other as two
// processes do.
package flock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Lock is a held lock; Unlock releases it.
type Lock struct{ f *os.File }

// Acquire takes the exclusive lock at path, creating the file and its
// directory as needed, and waits for it.
func Acquire(path string) (*Lock, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	if _, err := File(f, true, true); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &Lock{f}, nil
}

// TryAcquire takes the lock without waiting; ok is false when another holder has it.
func TryAcquire(path string) (l *Lock, ok bool, err error) {
	f, err := open(path)
	if err != nil {
		return nil, false, err
	}
	if ok, err := File(f, true, false); !ok {
		f.Close()
		if err != nil {
			err = fmt.Errorf("locking %s: %w", path, err)
		}
		return nil, false, err
	}
	return &Lock{f}, true, nil
}

// File takes a flock on the open file f, exclusive or shared, waiting for it
// or not; the lock lasts until f's last descriptor is closed. Without wait,
// ok is false and err nil when someone else holds the lock.
func File(f *os.File, exclusive, wait bool) (ok bool, err error) {
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
	if errors.Is(err, unix.EWOULDBLOCK) && !wait {
		return false, nil
	}
	return err == nil, err
}

func open(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
}

// File returns the locked file, for holders that keep it open across an exec.
func (l *Lock) File() *os.File { return l.f }

// Unlock releases the lock; closing the last descriptor drops the flock. It is
// safe on a nil or already released lock.
func (l *Lock) Unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
