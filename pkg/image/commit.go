package image

import (
	"context"
	"fmt"
	"io"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Commit makes a new image from base and one more layer: diff, an
// uncompressed OCI layer tar (a changeset, whiteouts for deletions, as
// layer.WriteDiff writes it). The layer is unpacked onto base's top
// snapshot while it is compressed into its blob, so the image runs at
// once. cfg is the new image's config (its RootFS is set here); names
// (name[:tag]) point at the result.
func (s *Store) Commit(ctx context.Context, base *Image, diff io.Reader, cfg *v1.ConfigFile, names ...string) (*Image, error) {
	for _, n := range names {
		if _, err := NormalizeTag(n); err != nil {
			return nil, err
		}
	}
	release, err := s.Lease()
	if err != nil {
		return nil, err
	}
	defer release()
	l, err := s.ingestLayer(ctx, base.ChainID, diff)
	if err != nil {
		return nil, fmt.Errorf("committing a layer onto %s: %w", base.ID, err)
	}
	return s.create(ctx, cfg, append(slices.Clone(base.Layers), l), names)
}
