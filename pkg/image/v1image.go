package image

import (
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth/berth/pkg/content"
	"github.com/berth/berth/pkg/errdefs"
)

// V1Image returns img as a go-containerregistry v1.Image whose manifest,
// config and layers are read from the store, with the stored manifest
// bytes (so the digest is the one the image was pulled or created with).
// It is what push and save hand to go-containerregistry's writers.
func (s *Store) V1Image(img *Image) (v1.Image, error) {
	return partial.CompressedToImage(&v1Core{s: s, img: img})
}

type v1Core struct {
	s   *Store
	img *Image
}

var _ partial.CompressedImageCore = (*v1Core)(nil)

func (c *v1Core) RawConfigFile() ([]byte, error) { return c.img.RawConfig, nil }

func (c *v1Core) MediaType() (types.MediaType, error) { return types.MediaType(c.img.MediaType), nil }

func (c *v1Core) RawManifest() ([]byte, error) {
	return c.s.content.ReadAll(c.img.Manifest, maxManifest)
}

func (c *v1Core) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	d := fromHash(h)
	for _, l := range c.img.Layers {
		if l.Digest == d {
			return &v1Layer{cs: c.s.content, l: l}, nil
		}
	}
	if d == c.img.ID {
		return &v1Layer{cs: c.s.content, l: Layer{Digest: d, Size: int64(len(c.img.RawConfig))}}, nil
	}
	return nil, errdefs.ErrNotFound
}

// v1Layer is a stored layer blob as a go-containerregistry layer.
type v1Layer struct {
	cs *content.Store
	l  Layer
}

func (l *v1Layer) Digest() (v1.Hash, error)             { return toHash(l.l.Digest), nil }
func (l *v1Layer) Size() (int64, error)                 { return l.l.Size, nil }
func (l *v1Layer) MediaType() (types.MediaType, error)  { return types.MediaType(l.l.MediaType), nil }
func (l *v1Layer) DiffID() (v1.Hash, error)             { return toHash(l.l.DiffID), nil }
func (l *v1Layer) Compressed() (io.ReadCloser, error)   { return l.cs.Open(l.l.Digest) }
func (l *v1Layer) Uncompressed() (io.ReadCloser, error) { return nil, errdefs.ErrNotImplemented }

// mountingImage offers each layer to the registry for a cross-repository
// mount from a repository the image was pulled from.
type mountingImage struct {
	v1.Image
	from name.Repository
}

func (m *mountingImage) Layers() ([]v1.Layer, error) {
	ls, err := m.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		out[i] = &remote.MountableLayer{Layer: l, Reference: m.from.Digest(d.String())}
	}
	return out, nil
}
