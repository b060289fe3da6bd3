package storage

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berth/berth/pkg/errdefs"
)

// ErrBlobUnknown marks a blob the repository does not hold.
var ErrBlobUnknown = fmt.Errorf("blob unknown: %w", errdefs.ErrNotFound)

// OpenBlob opens the blob d of repository name for reading and returns it
// with its size. The caller closes it. A read refreshes the blob's lease
// when it has grown stale, so a client that checked for a blob and is about
// to reference it in a manifest does not lose it to garbage collection.
func (s *Store) OpenBlob(name string, d Digest) (ReadSeekCloser, int64, error) {
	link := s.blobLink(name, d)
	li, err := os.Stat(link)
	if err != nil {
		if notExist(err) {
			return nil, 0, fmt.Errorf("%s in %s: %w", d, name, ErrBlobUnknown)
		}
		return nil, 0, err
	}
	p := s.blobPath(d)
	fi, err := os.Stat(p)
	if err != nil {
		if notExist(err) {
			return nil, 0, fmt.Errorf("%s in %s: %w", d, name, ErrBlobUnknown)
		}
		return nil, 0, err
	}
	s.refresh(link, li.ModTime(), p, fi.ModTime())
	if fi.Size() <= maxCachedContent {
		b, err := s.readContent(p, fi, maxCachedContent)
		if err == nil {
			return bytesReader{bytes.NewReader(b), b}, int64(len(b)), nil
		}
	}
	f, err := os.Open(p)
	if err != nil {
		if notExist(err) {
			return nil, 0, fmt.Errorf("%s in %s: %w", d, name, ErrBlobUnknown)
		}
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// StatBlob returns the size of blob d in repository name.
func (s *Store) StatBlob(name string, d Digest) (int64, error) {
	link := s.blobLink(name, d)
	li, err := os.Stat(link)
	if err != nil {
		if notExist(err) {
			return 0, fmt.Errorf("%s in %s: %w", d, name, ErrBlobUnknown)
		}
		return 0, err
	}
	p := s.blobPath(d)
	fi, err := os.Stat(p)
	if err != nil {
		if notExist(err) {
			return 0, fmt.Errorf("%s in %s: %w", d, name, ErrBlobUnknown)
		}
		return 0, err
	}
	s.refresh(link, li.ModTime(), p, fi.ModTime())
	return fi.Size(), nil
}

// refresh renews the leases of a link and its blob when they are older than
// touchEvery. Errors are ignored: a vanished file is reported by the next read.
func (s *Store) refresh(link string, lm time.Time, blob string, bm time.Time) {
	now := time.Now()
	if now.Sub(lm) > s.touchEvery {
		_ = touch(link)
	}
	if now.Sub(bm) > s.touchEvery {
		_ = touch(blob)
	}
}

// holdBlob makes sure blob d is in repository name and renews the leases of
// its link and content, so a concurrent garbage collection keeps both. It is
// called before a manifest that references the blob is committed.
func (s *Store) holdBlob(name string, d Digest) (int64, error) {
	if err := touch(s.blobLink(name, d)); err != nil {
		if notExist(err) {
			return 0, fmt.Errorf("%s in %s: %w", d, name, ErrBlobUnknown)
		}
		return 0, err
	}
	p := s.blobPath(d)
	if err := touch(p); err != nil {
		if notExist(err) {
			return 0, fmt.Errorf("%s in %s: %w", d, name, ErrBlobUnknown)
		}
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// DeleteBlob removes blob d from repository name. The content itself stays
// while other repositories link it; garbage collection reclaims it after.
func (s *Store) DeleteBlob(name string, d Digest) error {
	if err := os.Remove(s.blobLink(name, d)); err != nil {
		if notExist(err) {
			return fmt.Errorf("%s in %s: %w", d, name, ErrBlobUnknown)
		}
		return err
	}
	return nil
}

// MountBlob links blob d into repository name without copying it. With from
// empty any repository's copy serves (the content is shared anyway); with
// from set, d must be in from. It reports ErrBlobUnknown when there is
// nothing to mount.
func (s *Store) MountBlob(name, from string, d Digest) (int64, error) {
	if from != "" {
		if _, err := os.Stat(s.blobLink(from, d)); err != nil {
			if notExist(err) {
				return 0, fmt.Errorf("%s in %s: %w", d, from, ErrBlobUnknown)
			}
			return 0, err
		}
	}
	p := s.blobPath(d)
	// Touch first: if a collector removes the content after this, the link
	// below is made for a blob that the next read reports missing, and the
	// client uploads it again; a manifest never commits on top of it because
	// committing holds every blob again.
	if err := touch(p); err != nil {
		if notExist(err) {
			return 0, fmt.Errorf("%s: %w", d, ErrBlobUnknown)
		}
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	if err := s.linkBlob(name, d); err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// linkBlob records that repository name holds blob d.
func (s *Store) linkBlob(name string, d Digest) error {
	link := s.blobLink(name, d)
	if err := touch(link); err == nil {
		return nil
	}
	dir := filepath.Dir(link)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(link, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}

// putBlob commits verified content at tmp as blob d and links it into
// repository name. tmp must already be fsynced. If the blob exists, tmp is
// dropped and the existing copy's lease renewed.
func (s *Store) putBlob(name string, d Digest, tmp string) error {
	p := s.blobPath(d)
	if err := touch(p); err == nil {
		os.Remove(tmp)
	} else {
		dir := filepath.Dir(p)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return fmt.Errorf("committing blob %s: %w", d, err)
		}
		if err := syncDir(dir); err != nil {
			return err
		}
		// The content's mtime is the lease; a long upload must not start old.
		_ = touch(p)
	}
	return s.linkBlob(name, d)
}

// PutBlobBytes stores small content (manifests, configs) under its digest
// and links it into repository name.
func (s *Store) PutBlobBytes(name string, d Digest, data []byte) error {
	if err := s.writeContent(d, data); err != nil {
		return err
	}
	return s.linkBlob(name, d)
}

// writeContent stores data as blob d (already verified by the caller) without
// linking it to any repository.
func (s *Store) writeContent(d Digest, data []byte) error {
	p := s.blobPath(d)
	if err := touch(p); err == nil {
		return nil
	}
	f, err := os.CreateTemp(filepath.Join(s.root, "uploads"), ".content-*")
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
	if err != nil {
		os.Remove(tmp)
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}
