package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/content"
	"github.com/berth/berth/pkg/errdefs"
)

func oneFileTar(name, body string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
	tw.Write([]byte(body))
	tw.Close()
	return buf.Bytes()
}

func open(t *testing.T) *Store {
	dir := t.TempDir()
	cs, err := content.Open(filepath.Join(dir, "content"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(dir, "snapshots"), cs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestApplyVerifiesDiffID(t *testing.T) {
	testutil.RequireRoot(t)
	s := open(t)
	b := oneFileTar("f", "x")
	if _, _, err := s.Apply(context.Background(), "", digest.FromString("wrong"), bytes.NewReader(b)); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("Apply with a wrong diff ID = %v", err)
	}
	if infos, _ := s.List(); len(infos) != 0 {
		t.Fatalf("a layer with a wrong diff ID was kept: %v", infos)
	}
	if ents, _ := os.ReadDir(s.tmpDir()); len(ents) != 0 {
		t.Errorf("tmp not cleaned: %v", ents)
	}
	chain, diff, err := s.Apply(context.Background(), "", digest.FromBytes(b), bytes.NewReader(b))
	if err != nil || chain != diff || diff != digest.FromBytes(b) {
		t.Fatalf("Apply = %s %s %v", chain, diff, err)
	}
	// Applied once: the second Apply does not read its input.
	if _, _, err := s.Apply(context.Background(), "", diff, strings.NewReader("garbage")); err != nil {
		t.Fatalf("second Apply read its input: %v", err)
	}
}

// TestManyLayers mounts an image with more layers than absolute paths fit
// in one mount option string.
func TestManyLayers(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	s := open(t)
	const n = 200
	var parent digest.Digest
	for i := 0; i < n; i++ {
		b := oneFileTar(fmt.Sprintf("f%03d", i), fmt.Sprint(i))
		chain, _, err := s.Apply(ctx, parent, digest.FromBytes(b), bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		parent = chain
	}
	key := "many-" + strings.ToLower(filepath.Base(t.TempDir()))
	mounts, err := s.Prepare(ctx, key, parent)
	if err != nil {
		t.Fatal(err)
	}
	if l := len(strings.Join(mounts[0].Options, ",")); l <= maxOptions {
		t.Fatalf("options only %d bytes: the test does not exercise long mounts", l)
	}
	target := t.TempDir()
	if err := MountAll(mounts, target); err != nil {
		t.Fatal(err)
	}
	defer Unmount(target)
	for _, i := range []int{0, n / 2, n - 1} {
		if b, err := os.ReadFile(filepath.Join(target, fmt.Sprintf("f%03d", i))); err != nil || string(b) != fmt.Sprint(i) {
			t.Errorf("layer %d: %q %v", i, b, err)
		}
	}
	if err := Unmount(target); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, key); err != nil {
		t.Fatal(err)
	}
}

func TestPrepareErrors(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if _, err := s.Prepare(ctx, "../evil", ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad key: %v", err)
	}
	if _, err := s.Prepare(ctx, "k", digest.FromString("nope")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("missing parent: %v", err)
	}
	if _, err := s.Prepare(ctx, "k", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(ctx, "k", ""); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("duplicate key: %v", err)
	}
}
