package cgroups

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
)

func TestNotifyOOMOnHost(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t, uniquePath(t))
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 << 20)}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := m.(OOMNotifier).NotifyOOM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "hog")
	if err := m.Apply(h.pid()); err != nil {
		t.Fatal(err)
	}
	h.release(t)
	select {
	case n, ok := <-ch:
		if !ok || n < 1 {
			t.Fatalf("notified count %d", n)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no OOM notification within 60s")
	}
	cancel()
	for range ch {
	}
}

func TestNotifyOOMV2Fake(t *testing.T) {
	l, leaf := fakeV2(t, map[string]string{"memory.events": "oom 0\noom_kill 0\n"})
	m := newManager(l, "/berth/c")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := m.NotifyOOM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(leaf, "memory.events"), []byte("oom 1\noom_kill 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case n, ok := <-ch:
		if !ok || n != 1 {
			t.Fatalf("notified count %d, want 1", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no notification")
	}
	cancel()
	for range ch {
	}
}
