// Package content is berth's content-addressed blob store: every blob lives
// under ROOT/content/blobs/<algorithm>/<hex>, named by the digest of its bytes.
//
// Blobs arrive streamed: Ingest hashes and counts the bytes as they are
// written to a private temporary file, checks size and digest against what
// the caller expected, fsyncs, and renames the file into place. A reader
// never sees a partial blob, and any number of writers may ingest the same
// blob at once: each writes its own temporary file and the renames are
// atomic replacements of identical bytes. Digests are validated (algorithm
// and hex length) before they are turned into a path (CVE-2024-3727).
//
// Temporary files left by a killed process are removed by Open.
package content

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/flock"
)

// Store holds blobs under one directory.
type Store struct {
	root string
}

// Info describes a stored blob.
type Info struct {
	Digest  digest.Digest
	Size    int64
	ModTime time.Time
}

// Open opens (creating when needed) the store rooted at dir and removes
// temporary files that an interrupted ingest left behind.
func Open(dir string) (*Store, error) {
	s := &Store{root: dir}
	for _, d := range []string{s.blobDir(digest.SHA256), s.ingestDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("opening content store %s: %w", dir, err)
		}
	}
	// A writer holds an flock on its temp file while it lives: a file
	// whose lock can be taken belongs to a writer that died.
	SweepUnlocked(s.ingestDir())
	return s, nil
}

// Root returns the directory the store lives in.
func (s *Store) Root() string { return s.root }

func (s *Store) blobDir(a digest.Algorithm) string {
	return filepath.Join(s.root, "blobs", string(a))
}

func (s *Store) ingestDir() string { return filepath.Join(s.root, "ingest") }

// Validate checks that d is a well-formed sha256 or sha512 digest, so that
// it is safe to use as a file name.
func Validate(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("digest %q: %w: %v", truncate(string(d)), errdefs.ErrInvalidArgument, err)
	}
	switch d.Algorithm() {
	case digest.SHA256, digest.SHA512:
		return nil
	}
	return fmt.Errorf("digest %q: %w: unsupported algorithm", truncate(string(d)), errdefs.ErrInvalidArgument)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Path returns the file that holds blob d (which need not exist).
func (s *Store) Path(d digest.Digest) (string, error) {
	if err := Validate(d); err != nil {
		return "", err
	}
	return filepath.Join(s.blobDir(d.Algorithm()), d.Encoded()), nil
}

// Info returns the size of blob d, or an error wrapping errdefs.ErrNotFound.
func (s *Store) Info(d digest.Digest) (Info, error) {
	p, err := s.Path(d)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	} else if err != nil {
		return Info{}, fmt.Errorf("blob %s: %w", d, err)
	}
	return Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Has reports whether blob d is stored.
func (s *Store) Has(d digest.Digest) bool {
	_, err := s.Info(d)
	return err == nil
}

// Open opens blob d for reading.
func (s *Store) Open(d digest.Digest) (*os.File, error) {
	p, err := s.Path(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	return f, err
}

// ReadAll returns the bytes of blob d, refusing blobs larger than max.
func (s *Store) ReadAll(d digest.Digest, max int64) ([]byte, error) {
	f, err := s.Open(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", d, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("blob %s is larger than %d bytes: %w", d, max, errdefs.ErrInvalidArgument)
	}
	return b, nil
}

// Delete removes blob d. Deleting a missing blob is not an error.
func (s *Store) Delete(d digest.Digest) error {
	p, err := s.Path(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting blob %s: %w", d, err)
	}
	return nil
}

// Walk calls fn for every stored blob.
func (s *Store) Walk(fn func(Info) error) error {
	for _, a := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		ents, err := os.ReadDir(s.blobDir(a))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		for _, e := range ents {
			d := digest.NewDigestFromEncoded(a, e.Name())
			if d.Validate() != nil {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			if err := fn(Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Ingest stores the blob read from r, which must have digest want and, when
// size is not negative, exactly size bytes. On any mismatch nothing is
// stored and the error wraps errdefs.ErrInvalidArgument. A blob already
// present is not written again (r is not read).
func (s *Store) Ingest(ctx context.Context, want digest.Digest, size int64, r io.Reader) error {
	if err := Validate(want); err != nil {
		return err
	}
	if info, err := s.Info(want); err == nil && (size < 0 || info.Size == size) {
		return nil
	}
	w, err := s.Writer()
	if err != nil {
		return err
	}
	defer w.Close()
	w.h = want.Algorithm().Hash()
	if _, err := copyCtx(ctx, w, r, size); err != nil {
		return fmt.Errorf("ingesting %s: %w", want, err)
	}
	_, err = w.Commit(want, size)
	return err
}

// Put stores the blob read from r whatever its digest, and returns the
// sha256 digest and size.
func (s *Store) Put(ctx context.Context, r io.Reader) (digest.Digest, int64, error) {
	w, err := s.Writer()
	if err != nil {
		return "", 0, err
	}
	defer w.Close()
	if _, err := copyCtx(ctx, w, r, -1); err != nil {
		return "", 0, fmt.Errorf("storing blob: %w", err)
	}
	d, err := w.Commit("", -1)
	return d, w.n, err
}

// Writer starts a new blob whose digest is not known yet: write the bytes,
// then Commit. Close without Commit discards them.
func (s *Store) Writer() (*Writer, error) {
	f, err := CreateLocked(s.ingestDir(), "blob-", false)
	if err != nil {
		return nil, fmt.Errorf("creating blob: %w", err)
	}
	return &Writer{s: s, f: f, h: digest.SHA256.Hash()}, nil
}

// WriterFor is Writer for a blob whose digest will use algorithm a
// (sha256 or sha512).
func (s *Store) WriterFor(a digest.Algorithm) (*Writer, error) {
	if a != digest.SHA256 && a != digest.SHA512 {
		return nil, fmt.Errorf("digest algorithm %q: %w", a, errdefs.ErrInvalidArgument)
	}
	w, err := s.Writer()
	if err != nil {
		return nil, err
	}
	w.h = a.Hash()
	return w, nil
}

// Writer is a blob being written. It is not safe for concurrent use.
type Writer struct {
	// Synced says the caller flushed the filesystem after the last Write
	// (one syncfs for many blobs), so Commit need not fsync.
	Synced bool
	// DeferDirSync says the caller calls the store's SyncDir after its
	// Commits (one fsync of the blob directory for many blobs).
	DeferDirSync bool
	// Flusher, when set, is told how many bytes are written, so it can
	// make them durable in the background (see Flusher).
	Flusher *Flusher

	s    *Store
	f    *os.File
	h    hash.Hash
	n    int64
	done bool
}

// Write appends p to the blob.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	w.Flusher.Wrote(n)
	return n, err
}

// Size returns the number of bytes written so far.
func (w *Writer) Size() int64 { return w.n }

// Digest returns the digest of the bytes written so far (sha256 unless the
// writer was started for another algorithm).
func (w *Writer) Digest() digest.Digest {
	return digest.NewDigest(w.algorithm(), w.h)
}

func (w *Writer) algorithm() digest.Algorithm {
	if w.h.Size() == 64 {
		return digest.SHA512
	}
	return digest.SHA256
}

// Verify checks the bytes written against want (when not empty) and size
// (when not negative).
func (w *Writer) Verify(want digest.Digest, size int64) error {
	if size >= 0 && w.n != size {
		return fmt.Errorf("blob %s: got %d bytes, want %d: %w", want, w.n, size, errdefs.ErrInvalidArgument)
	}
	if got := w.Digest(); want != "" && got != want {
		return fmt.Errorf("blob digest mismatch: got %s, want %s: %w", got, want, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Commit checks the bytes against want (when not empty) and size (when not
// negative), makes them durable and moves them into place.
func (w *Writer) Commit(want digest.Digest, size int64) (digest.Digest, error) {
	if err := w.Verify(want, size); err != nil {
		return "", err
	}
	got := w.Digest()
	if !w.Synced {
		if err := w.f.Sync(); err != nil {
			return "", fmt.Errorf("syncing blob %s: %w", got, err)
		}
	}
	if err := w.f.Chmod(0o644); err != nil {
		return "", err
	}
	p, err := w.s.Path(got)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	if err := os.Rename(w.f.Name(), p); err != nil {
		return "", fmt.Errorf("storing blob %s: %w", got, err)
	}
	w.done = true
	if !w.DeferDirSync {
		syncDir(filepath.Dir(p))
	}
	return got, nil
}

// Close releases the writer, discarding the bytes unless Commit succeeded.
func (w *Writer) Close() error {
	err := w.f.Close()
	if !w.done {
		os.Remove(w.f.Name())
	}
	return err
}

// SyncDir makes the renames of blobs committed with DeferDirSync durable.
func (s *Store) SyncDir() {
	syncDir(s.blobDir(digest.SHA256))
	syncDir(s.blobDir(digest.SHA512))
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// copyCtx copies r to w, stopping when ctx is cancelled and reading at most
// limit+1 bytes when limit is not negative (so an oversized stream fails
// the size check without being read to its end).
func copyCtx(ctx context.Context, w io.Writer, r io.Reader, limit int64) (int64, error) {
	if limit >= 0 {
		r = io.LimitReader(r, limit+1)
	}
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := r.Read(buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Work in progress in a work directory (the ingest directory, a snapshot
// store's tmp/) is a temp file or directory whose flock its live owner
// holds; an entry nobody holds is the debris of a killed process. Making an
// entry and locking it are two steps, so a maker holds the work directory's
// own flock shared across both and a sweep holds it exclusively: a sweep
// never sees an entry between its creation and its lock.

// CreateLocked makes a new temp entry in the work directory dir (a
// directory when mkdir is set, else a file opened read-write), named from
// pattern as os.CreateTemp does, and returns it open and locked: the lock
// lasts until the returned file is closed.
func CreateLocked(dir, pattern string, mkdir bool) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if _, err := flock.File(d, false, true); err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	var f *os.File
	if mkdir {
		var name string
		if name, err = os.MkdirTemp(dir, pattern); err == nil {
			if f, err = os.Open(name); err != nil {
				os.Remove(name)
			}
		}
	} else {
		f, err = os.CreateTemp(dir, pattern)
	}
	if err != nil {
		return nil, err
	}
	if ok, err := flock.File(f, true, false); !ok {
		f.Close()
		os.RemoveAll(f.Name())
		if err == nil {
			err = fmt.Errorf("%s: locked by someone else", f.Name())
		}
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return f, nil
}

// SweepUnlocked removes every entry of the work directory dir whose lock
// nobody holds (see CreateLocked). It skips the sweep when a maker is busy
// in dir: the debris goes at a later one.
func SweepUnlocked(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	defer d.Close()
	if ok, _ := flock.File(d, true, false); !ok {
		return
	}
	names, _ := d.Readdirnames(-1)
	for _, n := range names {
		p := filepath.Join(dir, n)
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if ok, _ := flock.File(f, true, false); ok {
			os.RemoveAll(p)
		}
		f.Close()
	}
}
