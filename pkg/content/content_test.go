package content

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/errdefs"
)

func TestIngest(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("hello, blob")
	d := digest.FromBytes(data)
	for _, tc := range []struct {
		name string
		want digest.Digest
		size int64
		data []byte
		err  error
	}{
		{"wrong digest", digest.FromString("other"), -1, data, errdefs.ErrInvalidArgument},
		{"short", d, int64(len(data)) + 1, data, errdefs.ErrInvalidArgument},
		{"long", d, int64(len(data)) - 1, data, errdefs.ErrInvalidArgument},
		{"path digest", "sha256:../../etc/passwd", -1, data, errdefs.ErrInvalidArgument},
		{"bad algorithm", "md5:d41d8cd98f00b204e9800998ecf8427e", -1, data, errdefs.ErrInvalidArgument},
		{"short hex", "sha256:abcd", -1, data, errdefs.ErrInvalidArgument},
		{"ok", d, int64(len(data)), data, nil},
		{"again", d, int64(len(data)), data, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Ingest(ctx, tc.want, tc.size, bytes.NewReader(tc.data))
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Ingest = %v, want %v", err, tc.err)
			}
		})
	}
	got, err := s.ReadAll(d, 100)
	if err != nil || string(got) != string(data) {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if _, err := s.ReadAll(d, 3); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("ReadAll over the limit = %v", err)
	}
	if _, err := s.Info(digest.FromString("missing")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Info(missing) = %v", err)
	}
	// Failed ingests leave nothing behind.
	ents, _ := os.ReadDir(filepath.Join(s.Root(), "ingest"))
	if len(ents) != 0 {
		t.Errorf("ingest dir not empty: %v", ents)
	}
	n := 0
	s.Walk(func(Info) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d blobs, want 1", n)
	}
}

func TestConcurrentIngest(t *testing.T) {
	s, _ := Open(t.TempDir())
	data := bytes.Repeat([]byte("abcdefgh"), 1<<17)
	d := digest.FromBytes(data)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each writer opens its own (the Has short cut is skipped by
			// writing through Writer directly).
			w, err := s.Writer()
			if err != nil {
				errs <- err
				return
			}
			defer w.Close()
			for off := 0; off < len(data); off += 4096 {
				w.Write(data[off : off+4096])
			}
			_, err = w.Commit(d, int64(len(data)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	got, err := s.ReadAll(d, 1<<30)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("blob corrupted by concurrent writers: %v", err)
	}
}

func TestPut(t *testing.T) {
	s, _ := Open(t.TempDir())
	d, n, err := s.Put(context.Background(), strings.NewReader("x"))
	if err != nil || d != digest.FromString("x") || n != 1 {
		t.Fatalf("Put = %s %d %v", d, n, err)
	}
}
