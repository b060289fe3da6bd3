package storage

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/berth/berth/pkg/errdefs"
)

// Upload errors callers branch on.
var (
	// ErrUploadUnknown: no such upload session in that repository.
	ErrUploadUnknown = fmt.Errorf("upload unknown: %w", errdefs.ErrNotFound)
	// ErrRangeInvalid: a chunk does not start where the upload ends.
	ErrRangeInvalid = fmt.Errorf("chunk out of order: %w", errdefs.ErrConflict)
	// ErrDigestMismatch: the content does not hash to the digest given.
	ErrDigestMismatch = fmt.Errorf("digest mismatch: %w", errdefs.ErrInvalidArgument)
)

// uploadState caches the running sha256 of an upload so committing does not
// read the data again. It is only a cache: after a restart the state is
// rebuilt from the data file, which is the truth.
type uploadState struct {
	mu  sync.Mutex
	h   hash.Hash
	off int64
}

// copyBufPool holds buffers for streaming uploads to disk.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

func (s *Store) uploadDir(id string) string { return filepath.Join(s.root, "uploads", id) }

func validUploadID(id string) bool { return len(id) == 32 && isLowerHex(id) }

// lockUpload finds upload id of repository name and locks it. The caller
// unlocks st.mu.
func (s *Store) lockUpload(name, id string) (*uploadState, string, error) {
	if !validUploadID(id) {
		return nil, "", fmt.Errorf("upload %q: %w", id, ErrUploadUnknown)
	}
	dir := s.uploadDir(id)
	owner, err := os.ReadFile(filepath.Join(dir, "repo"))
	if err != nil || string(owner) != name {
		return nil, "", fmt.Errorf("upload %q in %s: %w", id, name, ErrUploadUnknown)
	}
	s.mu.Lock()
	st := s.uploads[id]
	if st == nil {
		st = &uploadState{}
		s.uploads[id] = st
	}
	s.mu.Unlock()
	st.mu.Lock()
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(data); err != nil {
		st.mu.Unlock()
		return nil, "", fmt.Errorf("upload %q in %s: %w", id, name, ErrUploadUnknown)
	}
	return st, data, nil
}

func (s *Store) forgetUpload(id string) {
	s.mu.Lock()
	delete(s.uploads, id)
	s.mu.Unlock()
}

// NewUpload starts an upload session for repository name and returns its id.
func (s *Store) NewUpload(name string) (string, error) {
	id := randomID()
	dir := s.uploadDir(id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("starting upload: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), nil, 0o644); err != nil {
		return "", fmt.Errorf("starting upload: %w", err)
	}
	// The owner file is written last and atomically: an upload without it is
	// unknown, so a crash here leaves only debris for the purge.
	if err := writeFileAtomic(filepath.Join(dir, "repo"), []byte(name)); err != nil {
		return "", fmt.Errorf("starting upload: %w", err)
	}
	return id, nil
}

// UploadSize is how many bytes upload id holds.
func (s *Store) UploadSize(name, id string) (int64, error) {
	st, data, err := s.lockUpload(name, id)
	if err != nil {
		return 0, err
	}
	defer st.mu.Unlock()
	fi, err := os.Stat(data)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// AppendUpload appends r to upload id. With start >= 0 the chunk must begin
// exactly where the upload ends (ErrRangeInvalid otherwise); with length >= 0
// the chunk must hold exactly that many bytes. It returns the new size.
func (s *Store) AppendUpload(name, id string, start, length int64, r io.Reader) (int64, error) {
	st, data, err := s.lockUpload(name, id)
	if err != nil {
		return 0, err
	}
	defer st.mu.Unlock()
	return s.appendLocked(st, data, start, length, r)
}

func (s *Store) appendLocked(st *uploadState, data string, start, length int64, r io.Reader) (int64, error) {
	f, err := os.OpenFile(data, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if start >= 0 && start != size {
		return size, fmt.Errorf("chunk starts at %d, upload holds %d bytes: %w", start, size, ErrRangeInvalid)
	}
	if st.h == nil || st.off != size {
		if err := st.rehash(data, size); err != nil {
			return size, err
		}
	}
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	src := r
	if length >= 0 {
		src = io.LimitReader(r, length)
	}
	n, err := io.CopyBuffer(io.MultiWriter(f, st.h), src, *bp)
	st.off = size + n
	if err == nil && length >= 0 && n != length {
		err = fmt.Errorf("chunk holds %d bytes, Content-Length said %d: %w", n, length, errdefs.ErrInvalidArgument)
	}
	if err != nil {
		// Drop what this chunk wrote, so the upload stays a clean prefix.
		_ = f.Truncate(size)
		st.h, st.off = nil, 0
		return size, fmt.Errorf("writing chunk: %w", err)
	}
	if err := f.Sync(); err != nil {
		return size, err
	}
	return st.off, nil
}

// rehash rebuilds the running sha256 from the data file.
func (st *uploadState) rehash(data string, size int64) error {
	f, err := os.Open(data)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, f, size); err != nil {
		return fmt.Errorf("rehashing upload: %w", err)
	}
	st.h, st.off = h, size
	return nil
}

// CommitUpload appends r (may be nil) to upload id, verifies the whole
// content hashes to d and makes it blob d of repository name. On a digest
// mismatch the upload is discarded and nothing is stored.
func (s *Store) CommitUpload(name, id string, d Digest, start, length int64, r io.Reader) error {
	st, data, err := s.lockUpload(name, id)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	if r != nil {
		if _, err := s.appendLocked(st, data, start, length, r); err != nil {
			return err
		}
	}
	fi, err := os.Stat(data)
	if err != nil {
		return err
	}
	var sum []byte
	if d.Algorithm() == "sha256" && st.h != nil && st.off == fi.Size() {
		sum = st.h.Sum(nil)
	} else {
		h := d.NewHash()
		f, err := os.Open(data)
		if err != nil {
			return err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("hashing upload: %w", err)
		}
		sum = h.Sum(nil)
	}
	if got := fmt.Sprintf("%s:%x", d.Algorithm(), sum); got != d.String() {
		s.removeUpload(id)
		return fmt.Errorf("upload hashes to %s, not %s: %w", got, d, ErrDigestMismatch)
	}
	// Every chunk was fsynced as it came, so the data file is durable.
	if err := s.putBlob(name, d, data); err != nil {
		return err
	}
	s.removeUpload(id)
	return nil
}

// CancelUpload discards upload id.
func (s *Store) CancelUpload(name, id string) error {
	st, _, err := s.lockUpload(name, id)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	s.removeUpload(id)
	return nil
}

func (s *Store) removeUpload(id string) {
	os.RemoveAll(s.uploadDir(id))
	s.forgetUpload(id)
}

// PutBlob stores r as blob d of repository name in one step, verifying the
// digest before the blob becomes visible.
func (s *Store) PutBlob(name string, d Digest, length int64, r io.Reader) error {
	id, err := s.NewUpload(name)
	if err != nil {
		return err
	}
	if err := s.CommitUpload(name, id, d, -1, length, r); err != nil {
		s.removeUpload(id)
		return err
	}
	return nil
}

// isUploadDebris reports whether an entry of uploads/ is a temporary file
// rather than a session directory.
func isUploadDebris(name string) bool { return strings.HasPrefix(name, ".") }
