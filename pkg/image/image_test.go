package image

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/content"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/snapshot"
)

func importBusybox(t *testing.T, s *Store, ref string) *Image {
	t.Helper()
	f, err := os.Open(testutil.RootfsTar(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := s.Import(context.Background(), f, ref, ImportOptions{})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return img
}

func TestImportResolveRunRemove(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := importBusybox(t, s, "busybox")
	if len(img.Layers) != 1 || img.ChainID != img.Layers[0].DiffID {
		t.Fatalf("layers %+v chain %s", img.Layers, img.ChainID)
	}
	for _, ref := range []string{"busybox", "busybox:latest", "docker.io/library/busybox:latest", img.ID.String(), img.ID.Encoded()[:12]} {
		got, err := s.Resolve(ctx, ref)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", ref, err)
		}
		if got.ID != img.ID {
			t.Errorf("Resolve(%q) = %s, want %s", ref, got.ID, img.ID)
		}
		if strings.Join(got.RepoTags, ",") != "docker.io/library/busybox:latest" {
			t.Errorf("RepoTags %v", got.RepoTags)
		}
	}
	if _, err := s.Resolve(ctx, "nosuch"); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "berth pull") {
		t.Errorf("Resolve(nosuch) = %v", err)
	}

	// The rootfs mounts and has busybox in it.
	mounts, err := s.Snapshots().Prepare(ctx, "c1", img.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if err := snapshot.MountAll(mounts, target); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(target, "bin", "busybox")); err != nil {
		t.Error(err)
	}
	if err := os.WriteFile(filepath.Join(target, "hello"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(target, "bin", "ls")); err != nil {
		t.Fatal(err)
	}
	if err := snapshot.Unmount(target); err != nil {
		t.Fatal(err)
	}
	if err := s.Hold(ctx, img.ID, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(ctx, "busybox", RemoveOptions{}); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("Remove of held image = %v, want conflict", err)
	}
	// The builder path: commit the changeset as a layer, create an image.
	l, err := s.Snapshots().Commit(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	img2, err := s.Create(ctx, img.Config, append(append([]Layer{}, img.Layers...), l), "derived:v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(img2.Layers) != 2 || img2.ChainID != l.ChainID {
		t.Fatalf("derived image layers %+v", img2.Layers)
	}
	mounts, err = s.Snapshots().Prepare(ctx, "c2", img2.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	if err := snapshot.MountAll(mounts, target); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "hello")); err != nil || string(b) != "hi" {
		t.Errorf("hello = %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(target, "bin", "ls")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bin/ls should be whited out: %v", err)
	}
	out, err := exec.Command("chroot", target, "/bin/sh", "-c", "echo ok").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("chroot sh: %q %v", out, err)
	}
	snapshot.Unmount(target)
	if err := s.Snapshots().Remove(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	s.Release(ctx, img.ID, "c1")
	if _, err := s.Remove(ctx, "derived:v1", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Remove(ctx, "busybox", RemoveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) < 2 {
		t.Errorf("Deleted = %v, want image and layer", res.Deleted)
	}
	if infos, _ := s.Snapshots().List(); len(infos) != 0 {
		t.Errorf("layers left after removing every image: %v", infos)
	}
	n := 0
	s.Content().Walk(func(i content.Info) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d blobs left after removing every image", n)
	}
}

// TestInterruptedRemoval: rmi killed after the image record went but
// before its layers were collected; the next Open finishes the job.
func TestInterruptedRemoval(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img := importBusybox(t, s, "busybox")
	// What Remove does up to the kill: marker, names, record.
	if err := snapshot.WriteFileAtomic(s.path("gc-pending"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s.updateRefs(func(refs map[string]digest.Digest) error { clear(refs); return nil })
	p, _ := s.recordPath(img.ID)
	os.Remove(p)
	if !s.Snapshots().Has(img.ChainID) {
		t.Fatal("layer gone too early")
	}

	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Snapshots().Has(img.ChainID) {
		t.Error("Open did not finish the interrupted removal: layer still there")
	}
	if s2.Content().Has(img.Layers[0].Digest) {
		t.Error("layer blob still there")
	}
	if _, err := os.Stat(s2.path("gc-pending")); !errors.Is(err, os.ErrNotExist) {
		t.Error("gc-pending marker left")
	}
}
