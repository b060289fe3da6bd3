package engine

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRuntimeForFastPath(t *testing.T) {
	tests := []struct {
		name    string
		fast    bool
		runtime string
		inProc  bool
	}{
		{"own runtime, fast path", true, "/opt/berth/bin/berth-runtime", true},
		{"own runtime, fast path off", false, "/opt/berth/bin/berth-runtime", false},
		{"runc", true, "/usr/sbin/runc", false},
		{"crun by name", true, "crun", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e, err := New(Options{Root: filepath.Join(dir, "root"), RunRoot: filepath.Join(dir, "run"), Runtime: tc.runtime, FastPath: tc.fast})
			if err != nil {
				t.Fatal(err)
			}
			rt := e.RuntimeFor(&Container{})
			_, inProc := rt.(*InProcess)
			if inProc != tc.inProc {
				t.Fatalf("RuntimeFor(%s, fast=%v) = %T, want in-process %v", tc.runtime, tc.fast, rt, tc.inProc)
			}
			if !inProc && rt.(*RuncCLI).Binary != tc.runtime {
				t.Fatalf("binary %q, want %q", rt.(*RuncCLI).Binary, tc.runtime)
			}
		})
	}
}

func TestInProcessDeleteUnknownIsNoop(t *testing.T) {
	rt, err := NewInProcess(&RuncCLI{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Delete(context.Background(), "nothing-here", true); err != nil {
		t.Fatalf("Delete of an unknown container: %v", err)
	}
	if _, err := rt.State(context.Background(), "nothing-here"); err == nil {
		t.Fatal("State of an unknown container succeeded")
	}
}

// While held, the reaper leaves children to their own Wait.
func TestReaperHoldLetsCmdWait(t *testing.T) {
	r := &Reaper{waiters: map[int]chan unix.WaitStatus{}, exited: map[int]unix.WaitStatus{}}
	release := r.Hold()
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { r.reapAll(); close(done) }() // blocked by the hold
	if err := cmd.Wait(); err != nil {
		t.Fatalf("Wait under hold: %v", err)
	}
	release()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("reapAll did not resume after release")
	}
}
