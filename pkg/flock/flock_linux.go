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
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
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
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("locking %s: %w", path, err)
	}
	return &Lock{f}, true, nil
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
