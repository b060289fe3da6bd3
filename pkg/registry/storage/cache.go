package storage

import (
	"bytes"
	"io"
	"os"
	"sync"
	"syscall"
)

// The hot path of a registry is small reads: tag and link files, manifests,
// small blobs. Reading a file costs half a dozen system calls; a stat costs
// one. So small files are cached in memory and every use is validated with a
// stat: metadata files are only ever replaced by rename (a new inode), and
// content files never change, so a matching (inode, mtime, size) means the
// cached bytes are the file's bytes. This stays correct when another process
// (a `berth registry gc`) changes the store.

const (
	// maxCachedMeta bounds a cached tag or link file.
	maxCachedMeta = 4 << 10
	// maxCachedContent bounds one cached blob or manifest.
	maxCachedContent = 64 << 10
	// cacheBudget bounds the bytes held by each cache.
	cacheBudget = 64 << 20
)

type cacheKey struct {
	ino   uint64
	mtime int64
	size  int64
}

func keyOf(fi os.FileInfo) cacheKey {
	k := cacheKey{mtime: fi.ModTime().UnixNano(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.ino = st.Ino
	}
	return k
}

type cacheEntry struct {
	key  cacheKey
	data []byte
}

// fileCache maps a path (or digest) to validated bytes.
type fileCache struct {
	mu    sync.RWMutex
	m     map[string]cacheEntry
	bytes int
}

func (c *fileCache) get(k string, key cacheKey) ([]byte, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || e.key != key {
		return nil, false
	}
	return e.data, true
}

func (c *fileCache) put(k string, key cacheKey, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.bytes+len(data) > cacheBudget {
		// Crude but bounded: start over when full.
		c.m = map[string]cacheEntry{}
		c.bytes = 0
	}
	if old, ok := c.m[k]; ok {
		c.bytes -= len(old.data)
	}
	c.m[k] = cacheEntry{key, data}
	c.bytes += len(data) + len(k)
}

func (c *fileCache) drop(k string) {
	c.mu.Lock()
	if old, ok := c.m[k]; ok {
		c.bytes -= len(old.data) + len(k)
		delete(c.m, k)
	}
	c.mu.Unlock()
}

// readSmall reads a small metadata file through the cache.
func (s *Store) readSmall(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	key := keyOf(fi)
	if b, ok := s.meta.get(path, key); ok {
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) <= maxCachedMeta && int64(len(b)) == fi.Size() {
		s.meta.put(path, key, b)
	}
	return b, nil
}

// readContent returns the bytes of content file path (blob or manifest)
// whose stat is fi, through the cache when small.
func (s *Store) readContent(path string, fi os.FileInfo, limit int64) ([]byte, error) {
	key := keyOf(fi)
	if b, ok := s.content.get(path, key); ok {
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) == fi.Size() && int64(len(b)) <= limit {
		s.content.put(path, key, b)
	}
	return b, nil
}

// ReadSeekCloser is what OpenBlob returns: a file, or cached bytes.
type ReadSeekCloser interface {
	io.ReadSeeker
	io.Closer
}

// bytesReader serves cached content; Bytes lets a server write it in one go.
type bytesReader struct {
	*bytes.Reader
	b []byte
}

func (bytesReader) Close() error { return nil }

// Bytes returns the whole content.
func (r bytesReader) Bytes() []byte { return r.b }
