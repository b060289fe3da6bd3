package build

import (
	"context"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
)

// Layer is one committed changeset: its blob in the content store and the
// unpacked snapshot that holds it.
type Layer struct {
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	MediaType string        `json:"mediaType"`
	DiffID    digest.Digest `json:"diffID"`
	ChainID   digest.Digest `json:"chainID"`
}

// Base is an image from the local store that a build starts from.
type Base struct {
	// ID is the digest of the image's config: what the cache keys on.
	ID     digest.Digest
	Config dockerspec.DockerOCIImage
	Layers []Layer
}

// Images is what the builder needs from the image store.
type Images interface {
	// Resolve finds a local image by reference or ID; errdefs.ErrNotFound when absent.
	Resolve(ctx context.Context, ref string) (*Base, error)
	// Create writes an image of config and layers and tags it with names;
	// it returns the image ID (the config digest).
	Create(ctx context.Context, config dockerspec.DockerOCIImage, layers []Layer, names ...string) (digest.Digest, error)
}

// Snapshots is what the builder needs from the snapshot store: a writable
// filesystem on top of a layer chain, mounted where the builder asks, and
// turned into a layer when the step is done.
type Snapshots interface {
	// Start creates the writable snapshot key on the chain parent ("" for
	// empty) and mounts it at target.
	Start(ctx context.Context, key string, parent digest.Digest, target string) error
	// Commit unmounts target and turns the snapshot's changes into a layer.
	Commit(ctx context.Context, key, target string) (Layer, error)
	// Abort unmounts target and discards the snapshot.
	Abort(ctx context.Context, key, target string) error
	// HasLayer reports whether the layer's snapshot and blob both still
	// exist, so that a cached step can use it.
	HasLayer(ctx context.Context, l Layer) bool
}

// Puller brings a newer copy of an image into the store (--pull). Stores
// that cannot reach a registry do not implement it.
type Puller interface {
	Pull(ctx context.Context, ref string) error
}

// Leaser is an image store that can keep its garbage collector away from
// objects a build has created but no image names yet.
type Leaser interface {
	Lease() (release func(), err error)
}
