// Package volume keeps named volumes: directories under the berth root that
// outlive the containers that mount them.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/berth/berth/pkg/errdefs"
)

// Volume is a named volume as `volume inspect` shows it.
type Volume struct {
	Name       string
	Driver     string
	Mountpoint string
	CreatedAt  time.Time
	Labels     map[string]string
	Scope      string
	// Anonymous volumes were made for an image VOLUME and go with `rm -v`.
	Anonymous bool `json:",omitempty"`
}

// Store holds volumes under root/volumes/<name>/_data.
type Store struct{ root string }

// Open returns the volume store under root (berth's --root).
func Open(root string) *Store { return &Store{root: filepath.Join(root, "volumes")} }

// ValidName reports whether name can name a volume (and so is not a path):
// [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 255 bytes. A loop rather than a
// package-level regexp, whose compilation every start of berth and of a
// container's monitor paid.
func ValidName(name string) bool {
	if name == "" || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

func (s *Store) dir(name string) string { return filepath.Join(s.root, name) }

// Create makes a volume; an empty name makes an anonymous one. Creating a
// volume that exists returns it unchanged, as docker does.
func (s *Store) Create(name string, labels map[string]string, anonymous bool) (*Volume, error) {
	v, _, err := s.Ensure(name, labels, anonymous)
	return v, err
}

// Ensure is Create that also reports whether this call made the volume
// (docker records a create event only then).
func (s *Store) Ensure(name string, labels map[string]string, anonymous bool) (*Volume, bool, error) {
	if name == "" {
		var b [32]byte
		rand.Read(b[:])
		name = hex.EncodeToString(b[:])
	}
	if !ValidName(name) {
		return nil, false, fmt.Errorf("create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed: %w", name, name, errdefs.ErrInvalidArgument)
	}
	if v, err := s.Get(name); err == nil {
		return v, false, nil
	}
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		return nil, false, err
	}
	tmp, err := os.MkdirTemp(s.root, ".create-")
	if err != nil {
		return nil, false, err
	}
	v := &Volume{Name: name, Driver: "local", Mountpoint: filepath.Join(s.dir(name), "_data"), CreatedAt: time.Now().UTC().Truncate(time.Second),
		Labels: labels, Scope: "local", Anonymous: anonymous}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := os.Mkdir(filepath.Join(tmp, "_data"), 0o755); err == nil {
		err = os.WriteFile(filepath.Join(tmp, "volume.json"), b, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, s.dir(name))
	}
	if err != nil {
		os.RemoveAll(tmp)
		if v2, gerr := s.Get(name); gerr == nil { // lost a race to an identical create
			return v2, false, nil
		}
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	return v, true, nil
}

// Get returns the named volume.
func (s *Store) Get(name string) (*Volume, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("get %s: no such volume: %w", name, errdefs.ErrNotFound)
	}
	b, err := os.ReadFile(filepath.Join(s.dir(name), "volume.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("get %s: no such volume: %w", name, errdefs.ErrNotFound)
		}
		return nil, err
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	return &v, nil
}

// List returns every volume, sorted by name.
func (s *Store) List() ([]*Volume, error) {
	ents, err := os.ReadDir(s.root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []*Volume
	for _, e := range ents {
		if v, err := s.Get(e.Name()); err == nil {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a volume and its data. The caller checks it is not in use.
func (s *Store) Remove(name string) error {
	if _, err := s.Get(name); err != nil {
		return err
	}
	// Rename first so a half-removed volume never looks valid.
	tmp := filepath.Join(s.root, ".rm-"+name)
	if err := os.Rename(s.dir(name), tmp); err != nil {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	return os.RemoveAll(tmp)
}
