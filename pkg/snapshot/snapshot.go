// Package snapshot keeps image layers unpacked on disk, once each, shared by
// every image and container that uses them.
//
// A committed snapshot is one layer's changeset in overlayfs form, keyed by
// its chain ID (the digest that names a layer together with all the layers
// under it, image-spec config.md). An active snapshot is a writable layer
// (upper and work directories) on top of a committed chain: a container's
// rootfs, or a build step's. Layout under the store's directory:
//
//	layers/<chain hex>/fs          the unpacked layer
//	layers/<chain hex>/meta.json   its parent chain ID, diff ID and short link
//	l/<link>                       short symlink to layers/<chain hex>/fs, for mount options
//	active/<key>/{fs,work,meta.json}
//	tmp/                           work in progress; emptied by Open
//
// Apply unpacks a layer (a hostile tar, see package layer) into tmp/ and
// renames it into layers/ when it is complete and its diff ID checked, so a
// kill -9 never leaves a half-unpacked layer visible. Prepare creates an
// active snapshot and returns the mounts for it; Mount performs them (an
// image with more layers than fit in one mount option string is mounted
// with short relative paths). Commit turns an active snapshot's upper
// directory into a layer: its changeset is written as a gzip tar blob to
// the content store and the directory itself becomes the committed
// snapshot of the new chain ID, without unpacking it again.
package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/content"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/layer"
)

// Store holds committed and active snapshots under one directory.
type Store struct {
	root    string
	content *content.Store
	// MaxLayerSize caps one uncompressed layer (0: layer.DefaultMaxSize).
	MaxLayerSize int64
}

// Info describes a committed snapshot (one unpacked layer).
type Info struct {
	ChainID digest.Digest `json:"chainID"`
	Parent  digest.Digest `json:"parent,omitempty"`
	DiffID  digest.Digest `json:"diffID"`
	// Size is the layer's uncompressed tar size in bytes.
	Size    int64     `json:"size"`
	Link    string    `json:"link"`
	Created time.Time `json:"created"`
}

// Active describes a writable snapshot.
type Active struct {
	Key     string        `json:"key"`
	Parent  digest.Digest `json:"parent,omitempty"`
	Created time.Time     `json:"created"`
}

// Layer is what Commit produces: a layer blob in the content store and the
// committed snapshot that holds it unpacked.
type Layer struct {
	// Digest, Size and MediaType describe the compressed blob.
	Digest    digest.Digest
	Size      int64
	MediaType string
	// DiffID is the digest of the uncompressed tar.
	DiffID digest.Digest
	// ChainID names the committed snapshot: this layer on its parents.
	ChainID digest.Digest
}

// Open opens (creating when needed) the snapshot store in dir, storing
// committed layers' blobs in cs, and removes what an interrupted process
// left in tmp/.
func Open(dir string, cs *content.Store) (*Store, error) {
	s := &Store{root: dir, content: cs}
	for _, d := range []string{"layers", "l", "active", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("opening snapshot store %s: %w", dir, err)
		}
	}
	// Mount options name the short links relative to the l/ parent; the
	// store root itself must be traversable by the kernel's overlay.
	os.Chmod(dir, 0o711)
	os.Chmod(filepath.Join(dir, "layers"), 0o711)
	os.Chmod(filepath.Join(dir, "l"), 0o711)
	// Work in tmp/ is locked by its live owner; the rest is debris.
	content.SweepUnlocked(s.tmpDir())
	return s, nil
}

// mkTemp makes a locked work directory in tmp/; the returned function
// removes it (if still there) and drops the lock.
func (s *Store) mkTemp(prefix string) (string, func(), error) {
	f, err := content.CreateLocked(s.tmpDir(), prefix, true)
	if err != nil {
		return "", nil, err
	}
	dir := f.Name()
	return dir, func() { os.RemoveAll(dir); f.Close() }, nil
}

// Root returns the directory the store lives in.
func (s *Store) Root() string { return s.root }

func (s *Store) tmpDir() string { return filepath.Join(s.root, "tmp") }

func (s *Store) layerDir(chain digest.Digest) (string, error) {
	if err := content.Validate(chain); err != nil {
		return "", err
	}
	return filepath.Join(s.root, "layers", chain.Encoded()), nil
}

// ChainID returns the chain ID of a layer with diff ID diffID on top of the
// chain parent ("" for the bottom layer).
func ChainID(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}

// ChainIDs returns the chain ID of every prefix of diffIDs.
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	var parent digest.Digest
	for i, d := range diffIDs {
		parent = ChainID(parent, d)
		out[i] = parent
	}
	return out
}

// Stat returns the committed snapshot chain, or an error wrapping
// errdefs.ErrNotFound.
func (s *Store) Stat(chain digest.Digest) (Info, error) {
	dir, err := s.layerDir(chain)
	if err != nil {
		return Info{}, err
	}
	var info Info
	if err := readJSON(filepath.Join(dir, "meta.json"), &info); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, fmt.Errorf("layer snapshot %s: %w", chain, errdefs.ErrNotFound)
		}
		return Info{}, fmt.Errorf("layer snapshot %s: %w", chain, err)
	}
	return info, nil
}

// Has reports whether the committed snapshot chain exists.
func (s *Store) Has(chain digest.Digest) bool {
	_, err := s.Stat(chain)
	return err == nil
}

// Dir returns the directory that holds the unpacked layer chain, for
// read-only use.
func (s *Store) Dir(chain digest.Digest) (string, error) {
	if _, err := s.Stat(chain); err != nil {
		return "", err
	}
	d, _ := s.layerDir(chain)
	return filepath.Join(d, "fs"), nil
}

// Apply unpacks the uncompressed layer tar r on top of the chain parent
// ("" for the first layer) and returns the new chain ID and the layer's
// diff ID. When diffID is given, the tar must have that digest and, if the
// snapshot exists already, r is not read; when diffID is "", it is
// computed (import).
func (s *Store) Apply(ctx context.Context, parent, diffID digest.Digest, r io.Reader) (chain, gotDiffID digest.Digest, err error) {
	if parent != "" && !s.Has(parent) {
		return "", "", fmt.Errorf("parent layer %s: %w", parent, errdefs.ErrNotFound)
	}
	if diffID != "" {
		if err := content.Validate(diffID); err != nil {
			return "", "", err
		}
		if s.Has(ChainID(parent, diffID)) {
			return ChainID(parent, diffID), diffID, nil
		}
	}
	u, err := s.Unpack(ctx, diffID, r, UnpackOptions{})
	if err != nil {
		return "", "", err
	}
	defer u.Close()
	chain, err = u.Commit(parent)
	return chain, u.DiffID, err
}

// Unpacked is a layer unpacked into the store's work area, not yet part of
// a chain. Layers of one image unpack in parallel (an overlay layer does
// not depend on the ones below it) and are committed bottom up.
type Unpacked struct {
	s    *Store
	tmp  string
	done func()
	// Synced says the caller flushed the filesystem (SyncFS) after the
	// unpack, so Commit need not.
	Synced bool
	DiffID digest.Digest
	Size   int64

	prepared *Info
}

// UnpackOptions tune Unpack.
type UnpackOptions struct {
	// Flusher, when set, is told how many bytes the unpack writes.
	Flusher *content.Flusher
}

// Unpack unpacks the uncompressed layer tar r (whose digest must be diffID
// unless diffID is "") into the work area.
func (s *Store) Unpack(ctx context.Context, diffID digest.Digest, r io.Reader, opts UnpackOptions) (*Unpacked, error) {
	alg := digest.SHA256
	if diffID != "" {
		if err := content.Validate(diffID); err != nil {
			return nil, err
		}
		alg = diffID.Algorithm()
	}
	tmp, done, err := s.mkTemp("apply-")
	if err != nil {
		return nil, err
	}
	u := &Unpacked{s: s, tmp: tmp, done: done}
	fsDir := filepath.Join(tmp, "fs")
	if err := os.Mkdir(fsDir, 0o755); err != nil {
		u.Close()
		return nil, err
	}
	h := alg.Hash()
	aopts := layer.ApplyOptions{MaxSize: s.MaxLayerSize}
	if opts.Flusher != nil {
		aopts.Wrote = opts.Flusher.Wrote
	}
	n, err := layer.Apply(ctx, fsDir, io.TeeReader(r, h), aopts)
	if err != nil {
		u.Close()
		return nil, fmt.Errorf("unpacking layer: %w", err)
	}
	got := digest.NewDigest(alg, h)
	if diffID != "" && got != diffID {
		u.Close()
		return nil, fmt.Errorf("layer diff ID mismatch: got %s, want %s: %w", got, diffID, errdefs.ErrInvalidArgument)
	}
	u.DiffID, u.Size = got, n
	return u, nil
}

// Commit makes the unpacked layer the committed snapshot on top of parent
// and returns its chain ID. If that snapshot exists already, the unpacked
// copy is dropped.
func (u *Unpacked) Commit(parent digest.Digest) (digest.Digest, error) {
	if parent != "" && !u.s.Has(parent) {
		return "", fmt.Errorf("parent layer %s: %w", parent, errdefs.ErrNotFound)
	}
	chain := ChainID(parent, u.DiffID)
	if u.s.Has(chain) {
		return chain, nil
	}
	if u.prepared != nil && u.prepared.Parent == parent && u.Synced {
		// Record written and synced with the layer: only the rename is
		// left, made durable by the caller's SyncDirs.
		dst, _ := u.s.layerDir(chain)
		if err := os.Rename(u.tmp, dst); err != nil {
			if u.s.Has(chain) {
				return chain, nil
			}
			return "", fmt.Errorf("committing layer snapshot %s: %w", chain, err)
		}
		return chain, u.s.ensureLink(*u.prepared)
	}
	if err := u.s.commitDir(u.tmp, Info{ChainID: chain, Parent: parent, DiffID: u.DiffID, Size: u.Size}, u.Synced); err != nil {
		return "", err
	}
	return chain, nil
}

// Prepare writes the record of the snapshot the layer becomes on top of
// parent into the work area, without syncing it. For callers that commit
// many layers at once: Prepare each, SyncFS once, Commit each with Synced
// set (then only a rename is left per layer), and SyncDirs once.
func (u *Unpacked) Prepare(parent digest.Digest) error {
	info := Info{ChainID: ChainID(parent, u.DiffID), Parent: parent, DiffID: u.DiffID, Size: u.Size, Link: newLink(), Created: time.Now().UTC()}
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(u.tmp, "meta.json"), b, 0o600); err != nil {
		return err
	}
	u.prepared = &info
	return nil
}

// SyncDirs makes the renames of committed layers durable (after Commits
// of layers that were Prepared).
func (s *Store) SyncDirs() {
	syncDir(filepath.Join(s.root, "layers"))
	syncDir(filepath.Join(s.root, "l"))
}

// Close removes what is left of the unpacked layer (nothing after a
// Commit that used it).
func (u *Unpacked) Close() error {
	if u.done != nil {
		u.done()
		u.done = nil
	}
	return nil
}

// commitDir makes tmp (holding fs/) the committed snapshot info.ChainID.
// Losing a race to another process that committed the same chain is fine.
func (s *Store) commitDir(tmp string, info Info, synced bool) error {
	info.Link = newLink()
	info.Created = time.Now().UTC()
	if err := writeJSON(filepath.Join(tmp, "meta.json"), info); err != nil {
		return err
	}
	if !synced {
		SyncFS(tmp)
	}
	dst, _ := s.layerDir(info.ChainID)
	if err := os.Rename(tmp, dst); err != nil {
		if s.Has(info.ChainID) {
			return nil
		}
		return fmt.Errorf("committing layer snapshot %s: %w", info.ChainID, err)
	}
	syncDir(filepath.Dir(dst))
	return s.ensureLink(info)
}

func (s *Store) ensureLink(info Info) error {
	p := filepath.Join(s.root, "l", info.Link)
	want := filepath.Join("..", "layers", info.ChainID.Encoded(), "fs")
	if got, err := os.Readlink(p); err == nil && got == want {
		return nil
	}
	os.Remove(p)
	if err := os.Symlink(want, p); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("linking layer snapshot %s: %w", info.ChainID, err)
	}
	return nil
}

// newLink makes a short random name for l/.
func newLink() string {
	b := make([]byte, 10)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// List returns every committed snapshot.
func (s *Store) List() ([]Info, error) {
	ents, err := os.ReadDir(filepath.Join(s.root, "layers"))
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range ents {
		info, err := s.Stat(digest.NewDigestFromEncoded(digest.SHA256, e.Name()))
		if err == nil {
			out = append(out, info)
		}
	}
	return out, nil
}

// RemoveLayer deletes the committed snapshot chain. The caller (the image
// store's garbage collector) makes sure nothing uses it.
func (s *Store) RemoveLayer(chain digest.Digest) error {
	info, err := s.Stat(chain)
	if err != nil {
		return err
	}
	dir, _ := s.layerDir(chain)
	tmp, done, err := s.mkTemp("rm-")
	if err != nil {
		return err
	}
	defer done()
	// Rename first: the snapshot disappears at once, and a crash during the
	// slow RemoveAll leaves only tmp/ debris that Open clears.
	if err := os.Rename(dir, filepath.Join(tmp, "x")); err != nil {
		return fmt.Errorf("removing layer snapshot %s: %w", chain, err)
	}
	os.Remove(filepath.Join(s.root, "l", info.Link))
	return nil
}

// ValidKey reports whether key matches [A-Za-z0-9][A-Za-z0-9_.-]{0,127}: the
// form of snapshot keys and image holders (container IDs and names). A loop,
// not a regexp: it runs on every container start, where compiling a regexp
// is measurable.
func ValidKey(key string) bool {
	if len(key) == 0 || len(key) > 128 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

func (s *Store) activeDir(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("snapshot key %q: %w: want [A-Za-z0-9][A-Za-z0-9_.-]{0,127}", key, errdefs.ErrInvalidArgument)
	}
	return filepath.Join(s.root, "active", key), nil
}

// Prepare creates the active snapshot key on top of the chain parent ("" for
// an empty rootfs) and returns the mounts that make it a filesystem.
func (s *Store) Prepare(ctx context.Context, key string, parent digest.Digest) ([]Mount, error) {
	return s.prepare(ctx, key, parent, true)
}

// PrepareVolatile is Prepare for a snapshot that does not outlive a crash
// (the rootfs of a --rm container): its record is written atomically but
// not fsynced. After a crash the record may be missing or empty; Remove
// still deletes the snapshot, which is what the engine's repair does.
func (s *Store) PrepareVolatile(ctx context.Context, key string, parent digest.Digest) ([]Mount, error) {
	return s.prepare(ctx, key, parent, false)
}

func (s *Store) prepare(ctx context.Context, key string, parent digest.Digest, durable bool) ([]Mount, error) {
	dir, err := s.activeDir(key)
	if err != nil {
		return nil, err
	}
	if parent != "" {
		if _, err := s.lowers(parent); err != nil {
			return nil, err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrAlreadyExists)
		}
		return nil, err
	}
	for _, d := range []string{"fs", "work"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	meta, err := json.Marshal(Active{Key: key, Parent: parent, Created: time.Now().UTC()})
	if err == nil {
		if durable {
			err = WriteFileAtomic(filepath.Join(dir, "meta.json"), meta, 0o600)
		} else {
			err = WriteFileVolatile(filepath.Join(dir, "meta.json"), meta, 0o600)
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s.Mounts(ctx, key)
}

// StatActive returns the active snapshot key.
func (s *Store) StatActive(key string) (Active, error) {
	dir, err := s.activeDir(key)
	if err != nil {
		return Active{}, err
	}
	var a Active
	if err := readJSON(filepath.Join(dir, "meta.json"), &a); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Active{}, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
		}
		return Active{}, err
	}
	return a, nil
}

// ListActive returns every active snapshot.
func (s *Store) ListActive() ([]Active, error) {
	ents, err := os.ReadDir(filepath.Join(s.root, "active"))
	if err != nil {
		return nil, err
	}
	var out []Active
	for _, e := range ents {
		if a, err := s.StatActive(e.Name()); err == nil {
			out = append(out, a)
		}
	}
	return out, nil
}

// UpperDir returns the writable directory of the active snapshot key (its
// changeset).
func (s *Store) UpperDir(key string) (string, error) {
	if _, err := s.StatActive(key); err != nil {
		return "", err
	}
	dir, _ := s.activeDir(key)
	return filepath.Join(dir, "fs"), nil
}

// lowers returns the short-link paths of chain and its parents, top first.
func (s *Store) lowers(chain digest.Digest) ([]string, error) {
	var out []string
	for c := chain; c != ""; {
		info, err := s.Stat(c)
		if err != nil {
			return nil, err
		}
		if err := s.ensureLink(info); err != nil {
			return nil, err
		}
		out = append(out, filepath.Join(s.root, "l", info.Link))
		c = info.Parent
		if len(out) > 4096 {
			return nil, fmt.Errorf("layer chain %s: loop: %w", chain, errdefs.ErrInvalidArgument)
		}
	}
	return out, nil
}

// Mounts returns the mounts of the active snapshot key: a bind mount of its
// upper directory when it has no parent, an overlay otherwise.
func (s *Store) Mounts(ctx context.Context, key string) ([]Mount, error) {
	a, err := s.StatActive(key)
	if err != nil {
		return nil, err
	}
	dir, _ := s.activeDir(key)
	upper := filepath.Join(dir, "fs")
	if a.Parent == "" {
		return []Mount{{Type: "bind", Source: upper, Options: []string{"rbind", "rw"}}}, nil
	}
	lowers, err := s.lowers(a.Parent)
	if err != nil {
		return nil, err
	}
	return []Mount{{
		Type:   "overlay",
		Source: "overlay",
		Options: []string{
			"index=off", "redirect_dir=off", "metacopy=off",
			"lowerdir=" + strings.Join(lowers, ":"),
			"upperdir=" + upper,
			"workdir=" + filepath.Join(dir, "work"),
		},
	}}, nil
}

// Remove deletes the active snapshot key. It must not be mounted.
func (s *Store) Remove(ctx context.Context, key string) error {
	dir, err := s.activeDir(key)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
	}
	tmp, done, err := s.mkTemp("rm-")
	if err != nil {
		return err
	}
	defer done()
	if err := os.Rename(dir, filepath.Join(tmp, "x")); err != nil {
		return fmt.Errorf("removing snapshot %q: %w", key, err)
	}
	return nil
}

// Commit turns the active snapshot key (unmounted) into a layer: the
// changeset in its upper directory is written to the content store as a
// gzip layer blob, and the directory becomes the committed snapshot of the
// new chain ID. The active snapshot is gone afterwards.
func (s *Store) Commit(ctx context.Context, key string) (Layer, error) {
	a, err := s.StatActive(key)
	if err != nil {
		return Layer{}, err
	}
	dir, _ := s.activeDir(key)
	upper := filepath.Join(dir, "fs")

	w, err := s.content.Writer()
	if err != nil {
		return Layer{}, err
	}
	defer w.Close()
	zw, err := layer.Compress(w)
	if err != nil {
		return Layer{}, err
	}
	h := digest.SHA256.Hash()
	cw := &countWriter{}
	if err := layer.WriteDiff(ctx, io.MultiWriter(zw, h, cw), upper); err != nil {
		return Layer{}, err
	}
	if err := zw.Close(); err != nil {
		return Layer{}, err
	}
	blob, err := w.Commit("", -1)
	if err != nil {
		return Layer{}, err
	}
	l := Layer{Digest: blob, Size: w.Size(), MediaType: layer.MediaTypeOCIGzip, DiffID: digest.NewDigest(digest.SHA256, h)}
	l.ChainID = ChainID(a.Parent, l.DiffID)

	if !s.Has(l.ChainID) {
		tmp, done, err := s.mkTemp("commit-")
		if err != nil {
			return Layer{}, err
		}
		if err := os.Rename(upper, filepath.Join(tmp, "fs")); err != nil {
			done()
			return Layer{}, fmt.Errorf("committing snapshot %q: %w", key, err)
		}
		err = s.commitDir(tmp, Info{ChainID: l.ChainID, Parent: a.Parent, DiffID: l.DiffID, Size: cw.n}, false)
		done()
		if err != nil {
			return Layer{}, err
		}
	}
	if err := s.Remove(ctx, key); err != nil {
		return Layer{}, err
	}
	return l, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func readJSON(p string, v any) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// writeJSON writes v to p atomically (temp file, fsync, rename).
func writeJSON(p string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return WriteFileAtomic(p, b, 0o600)
}

// WriteFileAtomic writes data to p so that p holds either its old bytes or
// all of data, even across a crash: temp file, fsync, rename, fsync dir.
func WriteFileAtomic(p string, data []byte, perm fs.FileMode) error {
	return writeFile(p, data, perm, true)
}

// WriteFileVolatile writes data to p atomically (readers see the old bytes
// or all of data) but without fsync: for records that need not survive a
// crash, where each fsync would cost milliseconds on a busy disk.
func WriteFileVolatile(p string, data []byte, perm fs.FileMode) error {
	return writeFile(p, data, perm, false)
}

func writeFile(p string, data []byte, perm fs.FileMode, durable bool) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return err
	}
	if durable {
		syncDir(filepath.Dir(p))
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
