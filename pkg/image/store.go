package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/content"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/snapshot"
)

// Layer is one layer of an image: its blob (digest, size, media type), its
// diff ID and the chain ID of its unpacked snapshot.
type Layer = snapshot.Layer

// Image is a stored image.
type Image struct {
	// ID is the digest of the config blob (docker's image ID).
	ID digest.Digest
	// RepoTags are the canonical name:tag references that point at it
	// (docker.io/library/busybox:latest); RepoDigests the name@digest ones.
	RepoTags    []string
	RepoDigests []string
	// Manifest is the digest of the stored manifest; MediaType its type.
	Manifest  digest.Digest
	MediaType string
	// Config is the parsed image config; RawConfig its exact bytes.
	Config    *v1.ConfigFile
	RawConfig []byte
	// Layers are bottom first; ChainID names the top layer's snapshot (""
	// for an image without layers).
	Layers  []Layer
	ChainID digest.Digest
	// Added is when the image came into this store.
	Added time.Time
}

// Size returns the image's size as docker reports it: the sum of its
// layers' compressed sizes.
func (img *Image) Size() int64 {
	var n int64
	for _, l := range img.Layers {
		n += l.Size
	}
	return n
}

// DiffIDs returns the layers' diff IDs, bottom first.
func (img *Image) DiffIDs() []digest.Digest {
	out := make([]digest.Digest, len(img.Layers))
	for i, l := range img.Layers {
		out[i] = l.DiffID
	}
	return out
}

// record is what images/<hex>.json holds.
type record struct {
	ID        digest.Digest `json:"id"`
	Manifest  digest.Digest `json:"manifest"`
	MediaType string        `json:"mediaType"`
	// Index is the image index (manifest list) it was pulled through, if any.
	Index  digest.Digest `json:"index,omitempty"`
	Layers []Layer       `json:"layers"`
	Added  time.Time     `json:"added"`
	// Sources are the repositories (canonical) it was pulled from or
	// pushed to: push offers their blobs for cross-repository mounts.
	Sources []string `json:"sources,omitempty"`
}

// Store is the image store under berth's root.
type Store struct {
	root      string
	content   *content.Store
	snapshots *snapshot.Store
}

// Open opens (creating when needed) the image store under root (berth's
// --root), removes what interrupted commands left behind and finishes an
// interrupted removal.
func Open(root string) (*Store, error) {
	dir := filepath.Join(root, "image")
	for _, d := range []string{"images", "users"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("opening image store %s: %w", root, err)
		}
	}
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		return nil, err
	}
	ss, err := snapshot.Open(filepath.Join(root, "snapshots"), cs)
	if err != nil {
		return nil, err
	}
	s := &Store{root: root, content: cs, snapshots: ss}
	if _, err := os.Stat(s.path("gc-pending")); err == nil {
		s.collect(context.Background())
	}
	return s, nil
}

// Content returns the blob store.
func (s *Store) Content() *content.Store { return s.content }

// Snapshots returns the layer snapshot store.
func (s *Store) Snapshots() *snapshot.Store { return s.snapshots }

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.root, "image"}, elem...)...)
}

func (s *Store) recordPath(id digest.Digest) (string, error) {
	if err := content.Validate(id); err != nil {
		return "", err
	}
	return s.path("images", id.Encoded()+".json"), nil
}

func (s *Store) readRecord(id digest.Digest) (*record, error) {
	p, err := s.recordPath(id)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("image %s: %w", id, errdefs.ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("image record %s: %w", id, err)
	}
	return &r, nil
}

func (s *Store) records() ([]*record, error) {
	ents, err := os.ReadDir(s.path("images"))
	if err != nil {
		return nil, err
	}
	var out []*record
	for _, e := range ents {
		hex, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		r, err := s.readRecord(digest.NewDigestFromEncoded(digest.SHA256, hex))
		if err == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// maxConfig and maxManifest bound what is read into memory.
const (
	maxConfig   = 8 << 20
	maxManifest = 4 << 20
)

// load builds the Image for record r, with the names in refs.
func (s *Store) load(r *record, refs map[string]digest.Digest) (*Image, error) {
	raw, err := s.content.ReadAll(r.ID, maxConfig)
	if err != nil {
		return nil, fmt.Errorf("image %s config: %w", r.ID, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image %s config: %w", r.ID, err)
	}
	img := &Image{ID: r.ID, Manifest: r.Manifest, MediaType: r.MediaType, Config: cfg, RawConfig: raw, Layers: r.Layers, Added: r.Added}
	if n := len(r.Layers); n > 0 {
		img.ChainID = r.Layers[n-1].ChainID
	}
	for name, id := range refs {
		if id != r.ID {
			continue
		}
		if strings.Contains(name, "@") {
			img.RepoDigests = append(img.RepoDigests, name)
		} else {
			img.RepoTags = append(img.RepoTags, name)
		}
	}
	sort.Strings(img.RepoTags)
	sort.Strings(img.RepoDigests)
	return img, nil
}

// isFullID reports whether ref is sha256: and 64 lowercase hex digits.
func isFullID(ref string) bool {
	h, ok := strings.CutPrefix(ref, "sha256:")
	return ok && len(h) == 64 && isLowerHex(h)
}

// isShortID reports whether ref is [sha256:] and 4 to 64 lowercase hex
// digits: an image ID or a prefix of one.
func isShortID(ref string) bool {
	h, _ := strings.CutPrefix(ref, "sha256:")
	return len(h) >= 4 && len(h) <= 64 && isLowerHex(h)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Resolve finds the image ref names: name[:tag], name@digest, a full image
// ID (sha256:...) or a unique prefix of one. An unknown reference is an
// error wrapping errdefs.ErrNotFound.
func (s *Store) Resolve(ctx context.Context, ref string) (*Image, error) {
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	if isFullID(ref) {
		r, err := s.readRecord(digest.Digest(ref))
		if err != nil {
			return nil, fmt.Errorf("no such image: %s: %w", ref, errdefs.ErrNotFound)
		}
		return s.load(r, refs)
	}
	if canon, err := Normalize(ref); err == nil {
		if id, ok := refs[canon]; ok {
			if r, err := s.readRecord(id); err == nil {
				return s.load(r, refs)
			}
		}
		// name@digest also matches an image by its manifest digest.
		if repo, _, dg := splitRef(canon); dg != "" {
			recs, _ := s.records()
			for _, r := range recs {
				if string(r.Manifest) == dg {
					img, err := s.load(r, refs)
					if err == nil && hasRepo(img, repo) {
						return img, nil
					}
				}
			}
		}
	}
	if isShortID(ref) {
		prefix := strings.TrimPrefix(ref, "sha256:")
		recs, err := s.records()
		if err != nil {
			return nil, err
		}
		var found []*record
		for _, r := range recs {
			if strings.HasPrefix(r.ID.Encoded(), prefix) {
				found = append(found, r)
			}
		}
		if len(found) == 1 {
			return s.load(found[0], refs)
		}
		if len(found) > 1 {
			return nil, fmt.Errorf("image ID prefix %q is ambiguous: %w", ref, errdefs.ErrInvalidArgument)
		}
	}
	if _, err := ParseReference(ref); err != nil && !isShortID(ref) {
		return nil, err
	}
	return nil, fmt.Errorf("no such image: %s (berth pull %s fetches it): %w", ref, ref, errdefs.ErrNotFound)
}

func hasRepo(img *Image, repo string) bool {
	for _, n := range append(append([]string{}, img.RepoTags...), img.RepoDigests...) {
		if r, _, _ := splitRef(n); r == repo {
			return true
		}
	}
	return false
}

// List returns every image, newest first.
func (s *Store) List(ctx context.Context) ([]*Image, error) {
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	recs, err := s.records()
	if err != nil {
		return nil, err
	}
	var out []*Image
	for _, r := range recs {
		img, err := s.load(r, refs)
		if err != nil {
			continue // a record whose config is gone is debris for prune
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool {
		ci, cj := out[i].Config.Created.Time, out[j].Config.Created.Time
		if !ci.Equal(cj) {
			return ci.After(cj)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Create stores a new image made of cfg and layers (bottom first; their
// blobs must be in the content store and their snapshots committed, as
// Snapshots().Commit leaves them) and points names (name[:tag]) at it.
// cfg.RootFS is set from layers. It returns the stored image.
func (s *Store) Create(ctx context.Context, cfg *v1.ConfigFile, layers []Layer, names ...string) (*Image, error) {
	release, err := s.Lease()
	if err != nil {
		return nil, err
	}
	defer release()
	return s.create(ctx, cfg, layers, names)
}

// create writes config, an OCI manifest and the record, and names it.
func (s *Store) create(ctx context.Context, cfg *v1.ConfigFile, layers []Layer, names []string) (*Image, error) {
	canon := make([]string, len(names))
	for i, n := range names {
		c, err := NormalizeTag(n)
		if err != nil {
			return nil, err
		}
		canon[i] = c
	}
	cfg = cfg.DeepCopy()
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = nil
	var parent digest.Digest
	for i := range layers {
		l := &layers[i]
		h, err := v1.NewHash(l.DiffID.String())
		if err != nil {
			return nil, fmt.Errorf("layer %d diff ID: %w: %v", i, errdefs.ErrInvalidArgument, err)
		}
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, h)
		want := snapshot.ChainID(parent, l.DiffID)
		if l.ChainID == "" {
			l.ChainID = want
		} else if l.ChainID != want {
			return nil, fmt.Errorf("layer %d: chain ID %s does not follow its parents: %w", i, l.ChainID, errdefs.ErrInvalidArgument)
		}
		parent = want
		if !s.content.Has(l.Digest) {
			return nil, fmt.Errorf("layer %d blob %s: %w", i, l.Digest, errdefs.ErrNotFound)
		}
		if !s.snapshots.Has(l.ChainID) {
			return nil, fmt.Errorf("layer %d snapshot %s: %w", i, l.ChainID, errdefs.ErrNotFound)
		}
	}
	if cfg.OS == "" {
		cfg.OS = "linux"
	}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	id, cfgSize, err := s.content.Put(ctx, bytes.NewReader(rawCfg))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: cfgSize, Digest: toHash(id)},
	}
	for _, l := range layers {
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.MediaType(l.MediaType), Size: l.Size, Digest: toHash(l.Digest)})
	}
	rawMan, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	md, _, err := s.content.Put(ctx, bytes.NewReader(rawMan))
	if err != nil {
		return nil, err
	}
	return s.commitImage(ctx, &record{ID: id, Manifest: md, MediaType: string(m.MediaType), Layers: layers}, canon)
}

// commitImage writes r (unless an image with that ID exists) and points
// the canonical references names at it.
func (s *Store) commitImage(ctx context.Context, r *record, names []string) (*Image, error) {
	p, err := s.recordPath(r.ID)
	if err != nil {
		return nil, err
	}
	if old, err := s.readRecord(r.ID); err == nil {
		r.Added = old.Added
		if old.Manifest != r.Manifest {
			// Same config, new manifest (re-pull, another compression): the
			// new one wins, its layers are in store now.
			old = nil
		}
		if old != nil {
			old.Sources = mergeSources(old.Sources, r.Sources)
			r = old
		} else {
			r.Sources = mergeSources(r.Sources, nil)
		}
	}
	if r.Added.IsZero() {
		r.Added = time.Now().UTC()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := snapshot.WriteFileAtomic(p, b, 0o600); err != nil {
		return nil, fmt.Errorf("writing image %s: %w", r.ID, err)
	}
	if len(names) > 0 {
		if err := s.updateRefs(func(refs map[string]digest.Digest) error {
			for _, n := range names {
				refs[n] = r.ID
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	return s.load(r, refs)
}

// Tag points target (name[:tag]) at the image source resolves to.
func (s *Store) Tag(ctx context.Context, source, target string) error {
	img, err := s.Resolve(ctx, source)
	if err != nil {
		return err
	}
	canon, err := NormalizeTag(target)
	if err != nil {
		return err
	}
	return s.updateRefs(func(refs map[string]digest.Digest) error {
		refs[canon] = img.ID
		return nil
	})
}

func toHash(d digest.Digest) v1.Hash {
	return v1.Hash{Algorithm: string(d.Algorithm()), Hex: d.Encoded()}
}

func fromHash(h v1.Hash) digest.Digest { return digest.Digest(h.String()) }

func mergeSources(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range append(append([]string{}, a...), b...) {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	if len(out) > 8 {
		out = out[len(out)-8:]
	}
	return out
}

// addSource records that image id's blobs are in repository repo.
func (s *Store) addSource(id digest.Digest, repo string) error {
	r, err := s.readRecord(id)
	if err != nil {
		return err
	}
	r.Sources = mergeSources(r.Sources, []string{repo})
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	p, _ := s.recordPath(id)
	return snapshot.WriteFileAtomic(p, b, 0o600)
}

// UnpackedSize returns the image's size on disk as docker reports it: the
// sum of its layers' uncompressed sizes.
func (s *Store) UnpackedSize(img *Image) int64 {
	var n int64
	for _, l := range img.Layers {
		if info, err := s.snapshots.Stat(l.ChainID); err == nil {
			n += info.Size
		} else {
			n += l.Size
		}
	}
	return n
}
