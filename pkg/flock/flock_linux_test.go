package flock

import (
	"path/filepath"
	"testing"
)

func TestExclusion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	// A second open file description is excluded, even in the same process.
	if _, ok, err := TryAcquire(path); err != nil || ok {
		t.Fatalf("TryAcquire while held: ok=%v err=%v, want not ok", ok, err)
	}
	l.Unlock()
	l.Unlock() // idempotent
	l2, ok, err := TryAcquire(path)
	if err != nil || !ok {
		t.Fatalf("TryAcquire after Unlock: ok=%v err=%v, want ok", ok, err)
	}
	if l2.File() == nil {
		t.Fatal("File() of a held lock is nil")
	}
	l2.Unlock()
}
