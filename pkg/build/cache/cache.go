// Package cache remembers the result of each build step under a key made
// from the step's parent and its content, so a rebuild reuses it. Entries
// live one file each under a directory and survive across builds.
package cache

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// Cache is a directory of step results.
type Cache struct {
	dir string
}

// Open opens (creating) the cache in dir.
func Open(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening build cache %s: %w", dir, err)
	}
	return &Cache{dir: dir}, nil
}

func (c *Cache) path(key digest.Digest) (string, error) {
	if err := key.Validate(); err != nil {
		return "", fmt.Errorf("cache key %q: %w", key, err)
	}
	return filepath.Join(c.dir, key.Encoded()+".json"), nil
}

// Get loads the entry for key into v; it reports false when there is none
// (or it is unreadable, which is the same to a cache).
func (c *Cache) Get(key digest.Digest, v any) bool {
	p, err := c.path(key)
	if err != nil {
		return false
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	return json.Unmarshal(data, v) == nil
}

// Put stores v under key atomically.
func (c *Cache) Put(key digest.Digest, v any) error {
	p, err := c.path(key)
	if err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := p + ".tmp-" + hex.EncodeToString(rnd[:])
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing build cache entry: %w", err)
	}
	return nil
}

// Prune removes every entry and reports how many there were.
func (c *Cache) Prune() (int, error) {
	ents, err := os.ReadDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if err := os.Remove(filepath.Join(c.dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, err
		}
		if filepath.Ext(e.Name()) == ".json" {
			n++
		}
	}
	return n, nil
}

// Len returns the number of entries.
func (c *Cache) Len() int {
	m, _ := filepath.Glob(filepath.Join(c.dir, "*.json"))
	return len(m)
}
