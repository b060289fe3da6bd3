// Package imagestore connects the builder to berth's image store: base
// images come from it, build steps run on its snapshots (an overlay of the
// parent's layers with a writable upper directory), and the result is
// written into it.
package imagestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/build"
	"github.com/berth/berth/pkg/image"
	"github.com/berth/berth/pkg/snapshot"
)

// Store adapts an image store to build.Images and build.Snapshots.
type Store struct {
	st *image.Store
}

var (
	_ build.Images    = (*Store)(nil)
	_ build.Snapshots = (*Store)(nil)
	_ build.Leaser    = (*Store)(nil)
	_ build.Puller    = (*Store)(nil)
)

// New wraps st.
func New(st *image.Store) *Store { return &Store{st: st} }

// Resolve implements build.Images.
func (s *Store) Resolve(ctx context.Context, ref string) (*build.Base, error) {
	img, err := s.st.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	b := &build.Base{ID: img.ID}
	if err := json.Unmarshal(img.RawConfig, &b.Config); err != nil {
		return nil, fmt.Errorf("image %s config: %w", ref, err)
	}
	for _, l := range img.Layers {
		b.Layers = append(b.Layers, build.Layer(l))
	}
	return b, nil
}

// Create implements build.Images.
func (s *Store) Create(ctx context.Context, cfg dockerspec.DockerOCIImage, layers []build.Layer, names ...string) (digest.Digest, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(raw, &cf); err != nil {
		return "", fmt.Errorf("converting the image config: %w", err)
	}
	ls := make([]image.Layer, len(layers))
	for i, l := range layers {
		ls[i] = image.Layer(l)
	}
	img, err := s.st.Create(ctx, &cf, ls, names...)
	if err != nil {
		return "", err
	}
	return img.ID, nil
}

// Pull implements build.Puller (berth build --pull) with the store's
// default registry options.
func (s *Store) Pull(ctx context.Context, ref string) error {
	_, err := s.st.Pull(ctx, ref, image.PullOptions{})
	return err
}

// Lease implements build.Leaser: the store's garbage collector leaves the
// build's new layers alone until the image that names them exists.
func (s *Store) Lease() (func(), error) { return s.st.Lease() }

// Start implements build.Snapshots.
func (s *Store) Start(ctx context.Context, key string, parent digest.Digest, target string) error {
	mounts, err := s.st.Snapshots().Prepare(ctx, key, parent)
	if err != nil {
		return err
	}
	if err := snapshot.MountAll(mounts, target); err != nil {
		return errors.Join(err, s.st.Snapshots().Remove(context.WithoutCancel(ctx), key))
	}
	return nil
}

// Commit implements build.Snapshots.
func (s *Store) Commit(ctx context.Context, key, target string) (build.Layer, error) {
	if err := snapshot.Unmount(target); err != nil {
		return build.Layer{}, err
	}
	l, err := s.st.Snapshots().Commit(ctx, key)
	if err != nil {
		return build.Layer{}, err
	}
	return build.Layer(l), nil
}

// Abort implements build.Snapshots.
func (s *Store) Abort(ctx context.Context, key, target string) error {
	uerr := snapshot.Unmount(target)
	return errors.Join(uerr, s.st.Snapshots().Remove(ctx, key))
}

// HasLayer implements build.Snapshots.
func (s *Store) HasLayer(ctx context.Context, l build.Layer) bool {
	return s.st.Snapshots().Has(l.ChainID) && s.st.Content().Has(l.Digest)
}
