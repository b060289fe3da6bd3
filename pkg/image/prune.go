package image

import (
	"context"
	"os"

	"github.com/opencontainers/go-digest"
)

// PruneOptions tune Prune.
type PruneOptions struct {
	// All removes every image no user holds; otherwise only dangling
	// (untagged) ones.
	All bool
	// Filter, when set, must also accept an image for it to go.
	Filter func(*Image) bool
}

// PruneResult lists what Prune removed.
type PruneResult struct {
	Untagged  []string
	Deleted   []digest.Digest
	Reclaimed int64
}

// Prune removes unused images (as docker image prune) and then every blob
// and layer no image or container needs.
func (s *Store) Prune(ctx context.Context, opts PruneOptions) (*PruneResult, error) {
	imgs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	res := &PruneResult{}
	for _, img := range imgs {
		if len(s.Holders(img.ID)) > 0 || (!opts.All && len(img.RepoTags) > 0) {
			continue
		}
		if opts.Filter != nil && !opts.Filter(img) {
			continue
		}
		if err := s.updateRefs(func(refs map[string]digest.Digest) error {
			for n, id := range refs {
				if id == img.ID {
					delete(refs, n)
					res.Untagged = append(res.Untagged, Familiar(n))
				}
			}
			return nil
		}); err != nil {
			return res, err
		}
		p, _ := s.recordPath(img.ID)
		if err := os.Remove(p); err == nil {
			res.Deleted = append(res.Deleted, img.ID)
		}
	}
	removed, freed := s.collect(ctx)
	res.Deleted = append(res.Deleted, removed...)
	res.Reclaimed = freed
	return res, nil
}
