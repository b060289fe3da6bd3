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

// Usage is what system df reports about images and writable layers.
type Usage struct {
	Images, ActiveImages int
	// ImagesSize is the bytes of layers and blobs; Reclaimable the part
	// that no held image uses.
	ImagesSize, Reclaimable int64
	// Containers counts writable snapshots; ContainersSize their bytes.
	Containers     int
	ContainersSize int64
}

// DiskUsage measures the store.
func (s *Store) DiskUsage(ctx context.Context) (*Usage, error) {
	imgs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	u := &Usage{Images: len(imgs)}
	needed := map[digest.Digest]bool{}
	for _, img := range imgs {
		if len(s.Holders(img.ID)) == 0 {
			continue
		}
		u.ActiveImages++
		for _, l := range img.Layers {
			needed[l.ChainID] = true
			needed[l.Digest] = true
		}
	}
	infos, err := s.snapshots.List()
	if err != nil {
		return nil, err
	}
	for _, i := range infos {
		u.ImagesSize += i.Size
		if !needed[i.ChainID] {
			u.Reclaimable += i.Size
		}
	}
	s.content.Walk(func(info contentInfo) error {
		u.ImagesSize += info.Size
		if !needed[info.Digest] {
			u.Reclaimable += info.Size
		}
		return nil
	})
	actives, err := s.snapshots.ListActive()
	if err != nil {
		return nil, err
	}
	for _, a := range actives {
		u.Containers++
		if dir, err := s.snapshots.UpperDir(a.Key); err == nil {
			u.ContainersSize += dirSize(dir)
		}
	}
	return u, nil
}
