package image

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
)

// PushResult says what Push did.
type PushResult struct {
	Ref    string
	Digest digest.Digest
	Size   int64
}

// Push uploads the local image named ref to the registry and repository
// that ref names. Blobs the registry has are skipped; blobs it has in a
// repository the image was pulled from are mounted rather than uploaded;
// the rest go up in parallel.
func (s *Store) Push(ctx context.Context, refStr string, opts RemoteOptions) (*PushResult, error) {
	img, err := s.Resolve(ctx, refStr)
	if err != nil {
		return nil, err
	}
	ref, err := ParseReference(refStr)
	if err != nil {
		return nil, err
	}
	if _, ok := ref.(name.Digest); ok {
		return nil, fmt.Errorf("push %s: push a tag, not a digest", refStr)
	}
	vimg, err := s.V1Image(img)
	if err != nil {
		return nil, err
	}
	rec, err := s.readRecord(img.ID)
	if err != nil {
		return nil, err
	}
	for _, src := range rec.Sources {
		r, err := ParseReference(src + ":latest")
		if err == nil && r.Context().RegistryStr() == ref.Context().RegistryStr() && r.Context().RepositoryStr() != ref.Context().RepositoryStr() {
			vimg = &mountingImage{Image: vimg, from: r.Context()}
			break
		}
	}
	vimg = &progressImage{Image: vimg, opts: opts}
	if err := remote.Write(ref, vimg, opts.remote(ctx)...); err != nil {
		return nil, registryError("pushing "+refStr, err)
	}
	if err := s.addSource(img.ID, repoName(ref.Context())); err != nil {
		return nil, err
	}
	raw, err := s.content.ReadAll(img.Manifest, maxManifest)
	if err != nil {
		return nil, err
	}
	return &PushResult{Ref: canonical(ref), Digest: img.Manifest, Size: int64(len(raw))}, nil
}

// progressImage reports each layer's upload.
type progressImage struct {
	v1.Image
	opts RemoteOptions
}

func (p *progressImage) Layers() ([]v1.Layer, error) {
	ls, err := p.Image.Layers()
	if err != nil || p.opts.Progress == nil {
		return ls, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = &progressLayer{Layer: l, opts: p.opts}
		if m, ok := l.(*remote.MountableLayer); ok {
			out[i] = &remote.MountableLayer{Layer: &progressLayer{Layer: m.Layer, opts: p.opts}, Reference: m.Reference}
		}
	}
	return out, nil
}

type progressLayer struct {
	v1.Layer
	opts RemoteOptions
}

func (p *progressLayer) Compressed() (io.ReadCloser, error) {
	rc, err := p.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	d, _ := p.Layer.Digest()
	size, _ := p.Layer.Size()
	id := shortID(digest.Digest(d.String()))
	return &progressCloser{progressReader: progressReader{r: rc, total: size, id: id, status: "Pushing", opts: p.opts}, c: rc}, nil
}

type progressCloser struct {
	progressReader
	c io.Closer
}

func (p *progressCloser) Close() error {
	if p.n == p.total {
		p.opts.progress(p.id, "Pushed", p.n, p.total)
	}
	return p.c.Close()
}
