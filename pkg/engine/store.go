package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// store keeps container records on disk: one directory per container under
// root/containers, a name registry under root/names (one file per name,
// created with O_EXCL so two creates cannot take the same name), and
// per-container locks and runtime files under runroot/containers.
type store struct {
	root    string
	runroot string
}

// validName reports whether s is a container name: an optional leading
// slash, then [a-zA-Z0-9][a-zA-Z0-9_.-]*. A loop, not a regexp: it runs on
// every command that names a container.
func validName(s string) bool {
	s = strings.TrimPrefix(s, "/")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

func (s *store) dir(id string) string        { return filepath.Join(s.root, "containers", id) }
func (s *store) runDir(id string) string     { return filepath.Join(s.runroot, "containers", id) }
func (s *store) configPath(id string) string { return filepath.Join(s.dir(id), "config.v2.json") }
func (s *store) namePath(name string) string { return filepath.Join(s.root, "names", name) }

// newID returns a random 64-hex container ID.
func newID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// reserveName records name → id; it fails with ErrAlreadyExists when taken.
func (s *store) reserveName(name, id string) error {
	if err := os.MkdirAll(filepath.Join(s.root, "names"), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(s.namePath(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			other, _ := os.ReadFile(s.namePath(name))
			// A name left behind by a crash between reserve and save is free again.
			if o := strings.TrimSpace(string(other)); o != "" && !s.exists(o) {
				os.Remove(s.namePath(name))
				return s.reserveName(name, id)
			}
			return fmt.Errorf("the container name %q is already in use by container %q: remove (or rename) that container to be able to reuse that name: %w",
				"/"+name, strings.TrimSpace(string(other)), errdefs.ErrConflict)
		}
		return err
	}
	_, err = f.WriteString(id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *store) releaseName(name, id string) {
	b, err := os.ReadFile(s.namePath(name))
	if err == nil && strings.TrimSpace(string(b)) == id {
		os.Remove(s.namePath(name))
	}
}

func (s *store) exists(id string) bool {
	_, err := os.Stat(s.configPath(id))
	return err == nil
}

// load reads a container record.
func (s *store) load(id string) (*Container, error) {
	b, err := os.ReadFile(s.configPath(id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no such container: %s: %w", id, errdefs.ErrNotFound)
		}
		return nil, err
	}
	var c Container
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("reading container %s: %w", id, err)
	}
	return &c, nil
}

// save writes a container record atomically. The record of a --rm
// container is not fsynced: such a container does not outlive a crash (its
// processes die with the host and its record is removed on repair), so
// durability buys nothing, while each fsync costs milliseconds to hundreds
// of them on a busy disk. Readers still see the old or the new record.
func (s *store) save(c *Container) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(s.configPath(c.ID), b, 0o600, !c.HostConfig.AutoRemove)
}

// ids lists every container ID, oldest directory order not guaranteed.
func (s *store) ids() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.root, "containers"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && len(e.Name()) == 64 {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// resolve turns a full ID, a name or a unique ID prefix into an ID.
func (s *store) resolve(ref string) (string, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" {
		return "", fmt.Errorf("empty container name or ID: %w", errdefs.ErrInvalidArgument)
	}
	if len(ref) == 64 && s.exists(ref) {
		return ref, nil
	}
	if validName(ref) && !strings.Contains(ref, "/") {
		if b, err := os.ReadFile(s.namePath(ref)); err == nil {
			id := strings.TrimSpace(string(b))
			if s.exists(id) {
				return id, nil
			}
		}
	}
	if isHex(ref) {
		ids, err := s.ids()
		if err != nil {
			return "", err
		}
		var found []string
		for _, id := range ids {
			if strings.HasPrefix(id, ref) {
				found = append(found, id)
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
		if len(found) > 1 {
			return "", fmt.Errorf("multiple IDs found with provided prefix: %s: %w", ref, errdefs.ErrInvalidArgument)
		}
	}
	return "", fmt.Errorf("no such container: %s: %w", ref, errdefs.ErrNotFound)
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return s != ""
}

// writeFileAtomic writes data to path via a temporary file, fsync and rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeFile(path, data, perm, true)
}

// writeFile replaces path atomically (temporary file and rename); with
// durable it is also fsynced first. Files regenerated at every start (the
// bundle, /etc files) need no fsync: a crash takes the container down anyway.
func writeFile(path string, data []byte, perm os.FileMode, durable bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil && durable {
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
	}
	return err
}

var adjectives = []string{"amazing", "bold", "brave", "calm", "clever", "eager", "fervent", "gentle", "happy", "jolly",
	"keen", "lucid", "merry", "nifty", "quiet", "quirky", "sharp", "steady", "sweet", "vivid", "wizardly", "zen"}
var nouns = []string{"albatross", "anchor", "barge", "buoy", "cargo", "clipper", "dinghy", "dock", "ferry", "galley",
	"harbor", "hull", "jetty", "keel", "lighthouse", "mast", "pier", "quay", "rudder", "schooner", "tug", "wharf"}

// randomName makes a docker-style name such as "brave_keel3f2".
func randomName() string {
	var b [3]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s_%s%02x", adjectives[int(b[0])%len(adjectives)], nouns[int(b[1])%len(nouns)], b[2])
}
