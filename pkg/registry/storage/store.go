// Package storage is the registry's on-disk content store: blobs addressed by
// digest and shared by every repository, resumable uploads, and per-repository
// links for blobs, manifests, tags and referrers.
//
// Layout under the root directory:
//
//	blobs/<alg>/<hex[:2]>/<hex>             content, written once, never modified
//	uploads/<id>/data, uploads/<id>/repo    uploads in progress
//	repos/<name>/_blobs/<alg>/<hex>         the blob is part of the repository
//	repos/<name>/_manifests/<alg>/<hex>     a manifest of the repository (holds its media type)
//	repos/<name>/_tags/<tag>                a tag (holds the manifest digest)
//	repos/<name>/_referrers/<alg>/<hex>/<alg>-<hex>  a referrer descriptor (JSON) of a subject
//	trash/                                  garbage collection's staging area
//
// Repository names never contain components starting with '_', so the link
// directories cannot collide with nested repositories. Every file that must
// survive a crash is written to a temporary name, fsynced and renamed; a blob
// is renamed into blobs/ only after its digest has been verified, so a reader
// never sees partial or corrupt content.
package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Store is a registry store rooted at a directory. It is safe for concurrent
// use, and for use by several processes on the same directory (a server and a
// garbage collection run): the protocol between them rests on atomic renames
// and modification times, not on in-memory locks.
type Store struct {
	root string
	// touchEvery bounds how often a read refreshes a blob's lease (its mtime).
	touchEvery time.Duration

	mu      sync.Mutex
	uploads map[string]*uploadState

	meta    fileCache // tag and link files
	content fileCache // small blobs and manifests

	// gcHook, when set (tests), runs in each repository between reading its
	// manifests and sweeping its blob links: the window a push races into.
	gcHook func(repo string)
}

// Option configures a Store.
type Option func(*Store)

// WithLeaseRefresh sets how stale a blob's modification time may become
// before a read refreshes it. Garbage collection never removes a blob whose
// mtime is within its grace period, so this must be well below that period.
func WithLeaseRefresh(d time.Duration) Option { return func(s *Store) { s.touchEvery = d } }

// Open creates (if needed) and opens a store rooted at dir.
func Open(dir string, opts ...Option) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("registry root %q: %w", dir, err)
	}
	s := &Store{root: abs, touchEvery: 5 * time.Minute, uploads: map[string]*uploadState{}}
	for _, o := range opts {
		o(s)
	}
	for _, d := range []string{"blobs", "uploads", "repos", "trash"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating registry store: %w", err)
		}
	}
	return s, nil
}

// Check reports whether the store's directories are there and usable.
func (s *Store) Check() error {
	for _, d := range []string{"blobs", "uploads", "repos"} {
		fi, err := os.Stat(filepath.Join(s.root, d))
		if err != nil {
			return fmt.Errorf("registry store: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("registry store: %s is not a directory", d)
		}
	}
	return nil
}

// Root is the directory the store lives in.
func (s *Store) Root() string { return s.root }

func (s *Store) blobPath(d Digest) string {
	h := d.Hex()
	return filepath.Join(s.root, "blobs", d.Algorithm(), h[:2], h)
}

func (s *Store) repoDir(name string) string {
	return filepath.Join(s.root, "repos", filepath.FromSlash(name))
}

func (s *Store) blobLink(name string, d Digest) string {
	return filepath.Join(s.repoDir(name), "_blobs", d.Algorithm(), d.Hex())
}

func (s *Store) manifestLink(name string, d Digest) string {
	return filepath.Join(s.repoDir(name), "_manifests", d.Algorithm(), d.Hex())
}

func (s *Store) tagPath(name, tag string) string {
	return filepath.Join(s.repoDir(name), "_tags", tag)
}

func (s *Store) referrersDir(name string, subject Digest) string {
	return filepath.Join(s.repoDir(name), "_referrers", subject.Algorithm(), subject.Hex())
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory: fsync, rename, fsync the directory. Readers see the old content
// or the new, never a mix.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// touch refreshes path's modification time: the lease that keeps garbage
// collection away from it. It fails with fs.ErrNotExist if path is gone.
func touch(path string) error {
	now := time.Now()
	return os.Chtimes(path, now, now)
}

func randomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

func notExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
