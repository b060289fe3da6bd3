package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/content"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/layer"
	"github.com/berth/berth/pkg/snapshot"
	"github.com/berth/berth/pkg/tarpath"
)

// LoadResult is one image Load brought in.
type LoadResult struct {
	Image *Image
	// Names are the canonical names it was given ("" list: loaded by ID).
	Names []string
}

// Limits on what Load keeps in memory.
const (
	maxMetaFile  = 4 << 20
	maxMetaTotal = 64 << 20
)

// Load reads a docker-archive (docker save, podman save) or an OCI archive
// (an OCI image layout in a tar, optionally gzip or zstd compressed) from r
// and stores every image in it. Blobs stream into the content store as the
// tar is read (each verified against its blobs/<alg>/<hex> name); then
// the manifests are checked, layers unpacked in parallel, and images named.
// A truncated or corrupt archive stores no image.
func (s *Store) Load(ctx context.Context, r io.Reader, opts RemoteOptions) ([]LoadResult, error) {
	release, err := s.Lease()
	if err != nil {
		return nil, err
	}
	defer release()
	zr, _, err := layer.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("loading: %w", err)
	}
	defer zr.Close()
	a := &archive{files: map[string]digest.Digest{}, meta: map[string][]byte{}}
	if err := a.read(ctx, s.content, zr); err != nil {
		return nil, fmt.Errorf("loading: %w", err)
	}
	var res []LoadResult
	if _, ok := a.meta["index.json"]; ok && a.hasOCIManifests() {
		res, err = s.loadOCI(ctx, a, opts)
	} else if _, ok := a.meta["manifest.json"]; ok {
		res, err = s.loadDocker(ctx, a, opts)
	} else {
		err = fmt.Errorf("archive has neither index.json nor manifest.json: %w", errdefs.ErrInvalidArgument)
	}
	if err != nil {
		return nil, fmt.Errorf("loading: %w", err)
	}
	return res, nil
}

// archive is what was read from the tar: every regular file's digest (the
// file is in the content store) and the small files' bytes.
type archive struct {
	files   map[string]digest.Digest
	meta    map[string][]byte
	metaLen int
}

func (a *archive) read(ctx context.Context, cs *content.Store, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w: %v", errdefs.ErrInvalidArgument, err)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue // directories, and links we never follow
		}
		name, err := tarpath.Clean(hdr.Name)
		if err != nil {
			return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
		var buf *bytes.Buffer
		var src io.Reader = tr
		if hdr.Size <= maxMetaFile && a.metaLen+int(hdr.Size) <= maxMetaTotal {
			buf = &bytes.Buffer{}
			src = io.TeeReader(tr, buf)
		}
		d, n, err := cs.Put(ctx, src)
		if err != nil {
			return fmt.Errorf("archive entry %q: %w", name, err)
		}
		if n != hdr.Size {
			return fmt.Errorf("archive entry %q truncated: %w", name, errdefs.ErrInvalidArgument)
		}
		// blobs/<alg>/<hex> must hold the bytes that digest names.
		if dir, hex := path.Split(name); strings.HasPrefix(dir, "blobs/") {
			want := digest.Digest(strings.TrimSuffix(strings.TrimPrefix(dir, "blobs/"), "/") + ":" + hex)
			if content.Validate(want) == nil && want.Algorithm() == digest.SHA256 && want != d {
				return fmt.Errorf("archive blob %s holds %s: %w", want, d, errdefs.ErrInvalidArgument)
			}
		}
		a.files[name] = d
		if buf != nil {
			a.meta[name] = buf.Bytes()
			a.metaLen += buf.Len()
		}
	}
}

func (a *archive) hasOCIManifests() bool {
	var idx v1.IndexManifest
	return json.Unmarshal(a.meta["index.json"], &idx) == nil && len(idx.Manifests) > 0
}

// blob returns the bytes of a stored small file by digest.
func (a *archive) blob(cs *content.Store, d digest.Digest, max int64) ([]byte, error) {
	if err := content.Validate(d); err != nil {
		return nil, err
	}
	b, err := cs.ReadAll(d, max)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, fmt.Errorf("archive lacks blob %s: %w", d, errdefs.ErrInvalidArgument)
	}
	return b, err
}

func (s *Store) loadOCI(ctx context.Context, a *archive, opts RemoteOptions) ([]LoadResult, error) {
	if kind, err := docKind(a.meta["index.json"], string(types.OCIImageIndex)); err != nil || !kind.IsIndex() {
		return nil, fmt.Errorf("index.json: %w: not an image index (%v)", errdefs.ErrInvalidArgument, err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(a.meta["index.json"], &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w: %v", errdefs.ErrInvalidArgument, err)
	}
	var res []LoadResult
	for _, desc := range idx.Manifests {
		md := fromHash(desc.Digest)
		raw, err := a.blob(s.content, md, maxManifest)
		if err != nil {
			return nil, err
		}
		kind, err := docKind(raw, string(desc.MediaType))
		if err != nil {
			return nil, err
		}
		indexDigest := digest.Digest("")
		if kind.IsIndex() {
			// A nested index (a multi-platform image): take this platform's.
			d, err := selectManifest(raw, DefaultPlatform())
			if err != nil {
				return nil, err
			}
			indexDigest = md
			md = fromHash(d.Digest)
			if raw, err = a.blob(s.content, md, maxManifest); err != nil {
				return nil, err
			}
			if kind, err = docKind(raw, string(d.MediaType)); err != nil || kind.IsIndex() {
				return nil, fmt.Errorf("manifest %s: %w", md, errdefs.ErrInvalidArgument)
			}
		}
		m, err := parseManifest(raw)
		if err != nil {
			return nil, err
		}
		var names []string
		if n := desc.Annotations[AnnotationImageName]; n != "" {
			names = append(names, n)
		} else if n := desc.Annotations[AnnotationRefName]; strings.ContainsAny(n, ":/") {
			// ref.name is often a bare tag ("latest"), which names nothing
			// alone; a full reference is taken.
			names = append(names, n)
		}
		layers := make([]Layer, len(m.Layers))
		for i, l := range m.Layers {
			layers[i] = Layer{Digest: fromHash(l.Digest), Size: l.Size, MediaType: string(l.MediaType)}
		}
		r, err := s.loadImage(ctx, fromHash(m.Config.Digest), md, kind, indexDigest, layers, names, opts)
		if err != nil {
			return nil, err
		}
		res = append(res, r)
	}
	return res, nil
}

func (s *Store) loadDocker(ctx context.Context, a *archive, opts RemoteOptions) ([]LoadResult, error) {
	var entries []dockerManifestEntry
	if err := json.Unmarshal(a.meta["manifest.json"], &entries); err != nil {
		return nil, fmt.Errorf("manifest.json: %w: %v", errdefs.ErrInvalidArgument, err)
	}
	var res []LoadResult
	for _, e := range entries {
		file := func(p string) (digest.Digest, error) {
			name, err := tarpath.Clean(p)
			if err != nil {
				return "", err
			}
			d, ok := a.files[name]
			if !ok {
				return "", fmt.Errorf("archive lacks %q: %w", p, errdefs.ErrInvalidArgument)
			}
			return d, nil
		}
		cfgD, err := file(e.Config)
		if err != nil {
			return nil, err
		}
		var layers []Layer
		for _, p := range e.Layers {
			d, err := file(p)
			if err != nil {
				return nil, err
			}
			info, err := s.content.Info(d)
			if err != nil {
				return nil, err
			}
			mt, err := s.blobLayerType(d)
			if err != nil {
				return nil, err
			}
			layers = append(layers, Layer{Digest: d, Size: info.Size, MediaType: mt})
		}
		// docker-archive carries no manifest: make an OCI one.
		cfgInfo, err := s.content.Info(cfgD)
		if err != nil {
			return nil, err
		}
		m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
			Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Size: cfgInfo.Size, Digest: toHash(cfgD)}}
		for _, l := range layers {
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.MediaType(l.MediaType), Size: l.Size, Digest: toHash(l.Digest)})
		}
		raw, _ := json.Marshal(m)
		md, _, err := s.content.Put(ctx, bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		r, err := s.loadImage(ctx, cfgD, md, types.OCIManifestSchema1, "", layers, e.RepoTags, opts)
		if err != nil {
			return nil, err
		}
		res = append(res, r)
	}
	return res, nil
}

// blobLayerType sniffs a stored layer blob's compression for its media type.
func (s *Store) blobLayerType(d digest.Digest) (string, error) {
	f, err := s.content.Open(d)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	switch layer.Detect(head[:n]) {
	case layer.Gzip:
		return layer.MediaTypeOCIGzip, nil
	case layer.Zstd:
		return layer.MediaTypeOCIZstd, nil
	}
	return layer.MediaTypeOCITar, nil
}

// loadImage checks an image whose blobs are in the content store, unpacks
// its layers and names it.
func (s *Store) loadImage(ctx context.Context, cfgD, md digest.Digest, kind types.MediaType, index digest.Digest, layers []Layer, names []string, opts RemoteOptions) (LoadResult, error) {
	rawCfg, err := s.content.ReadAll(cfgD, maxConfig)
	if err != nil {
		return LoadResult{}, fmt.Errorf("config %s: %w", cfgD, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return LoadResult{}, fmt.Errorf("config %s: %w: %v", cfgD, errdefs.ErrInvalidArgument, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return LoadResult{}, fmt.Errorf("image %s: %d layers but %d diff IDs: %w", cfgD, len(layers), len(cfg.RootFS.DiffIDs), errdefs.ErrInvalidArgument)
	}
	diffIDs := make([]digest.Digest, len(layers))
	for i := range layers {
		diffIDs[i] = fromHash(cfg.RootFS.DiffIDs[i])
		if err := content.Validate(diffIDs[i]); err != nil {
			return LoadResult{}, err
		}
		if !s.content.Has(layers[i].Digest) {
			return LoadResult{}, fmt.Errorf("archive lacks layer %s: %w", layers[i].Digest, errdefs.ErrInvalidArgument)
		}
		layers[i].DiffID = diffIDs[i]
	}
	chains := snapshot.ChainIDs(diffIDs)
	if _, err := s.fetchLayers(ctx, layers, chains, opts, nil, nil); err != nil {
		return LoadResult{}, err
	}
	for i := range layers {
		layers[i].ChainID = chains[i]
	}
	var canon []string
	for _, n := range names {
		c, err := NormalizeTag(n)
		if err != nil {
			return LoadResult{}, err
		}
		canon = append(canon, c)
	}
	img, err := s.commitImage(ctx, &record{ID: cfgD, Manifest: md, MediaType: string(kind), Index: index, Layers: layers}, canon)
	if err != nil {
		return LoadResult{}, err
	}
	return LoadResult{Image: img, Names: canon}, nil
}
