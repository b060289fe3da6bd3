package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/content"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/snapshot"
)

// Lease keeps the garbage collector from removing blobs and snapshots
// while a multi-step write (a build, a pull) has created objects that no
// image names yet. Call the returned function when done; the lease also
// ends when the process exits.
func (s *Store) Lease() (func(), error) {
	return lockFile(s.path("gc.lock"), false, true)
}

func (s *Store) holderPath(id digest.Digest, holder string) (string, error) {
	if err := content.Validate(id); err != nil {
		return "", err
	}
	if !snapshot.ValidKey(holder) {
		return "", fmt.Errorf("image user %q: %w", holder, errdefs.ErrInvalidArgument)
	}
	return s.path("users", id.Encoded(), holder), nil
}

// Hold records that holder (a container ID) uses image id: Remove refuses
// to delete it, and its layers stay, until Release.
func (s *Store) Hold(ctx context.Context, id digest.Digest, holder string) error {
	return s.hold(ctx, id, holder, true)
}

// HoldVolatile is Hold for a holder that does not outlive a crash (a --rm
// container): the hold is not fsynced. After a crash it may be gone, or
// stay until the engine's repair of the holder releases it.
func (s *Store) HoldVolatile(ctx context.Context, id digest.Digest, holder string) error {
	return s.hold(ctx, id, holder, false)
}

func (s *Store) hold(ctx context.Context, id digest.Digest, holder string, durable bool) error {
	p, err := s.holderPath(id, holder)
	if err != nil {
		return err
	}
	if _, err := s.readRecord(id); err != nil {
		return err
	}
	if err := os.MkdirAll(s.path("users", id.Encoded()), 0o700); err != nil {
		return err
	}
	if !durable {
		// An empty file: creating it is atomic, nothing to rename.
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		return f.Close()
	}
	return snapshot.WriteFileAtomic(p, nil, 0o600)
}

// Release ends holder's use of image id. Releasing twice is not an error.
func (s *Store) Release(ctx context.Context, id digest.Digest, holder string) error {
	p, err := s.holderPath(id, holder)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	os.Remove(s.path("users", id.Encoded()))
	return nil
}

// Holders returns who uses image id.
func (s *Store) Holders(id digest.Digest) []string {
	if content.Validate(id) != nil {
		return nil
	}
	ents, _ := os.ReadDir(s.path("users", id.Encoded()))
	var out []string
	for _, e := range ents {
		if snapshot.ValidKey(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// Force removes an image with several names, and untags one in use
	// (the image itself stays while it is held).
	Force bool
	// NoPrune keeps the layers even when no image uses them any more.
	NoPrune bool
}

// RemoveResult lists what Remove did, for docker's "Untagged:" and
// "Deleted:" lines.
type RemoveResult struct {
	Untagged []string
	Deleted  []digest.Digest
}

// Remove removes the reference ref (as docker rmi does): a name is
// untagged, and the image goes when no name is left; an image ID removes
// the image with all its names. An image held by a user (a container) is
// refused with errdefs.ErrConflict unless opts.Force.
func (s *Store) Remove(ctx context.Context, ref string, opts RemoveOptions) (*RemoveResult, error) {
	img, err := s.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	res := &RemoveResult{}
	byName := ""
	if canon, err := Normalize(ref); err == nil && !isIDRef(ref, img) {
		for _, n := range append(append([]string{}, img.RepoTags...), img.RepoDigests...) {
			if n == canon {
				byName = n
			}
		}
		if byName == "" {
			// name@digest matched through the manifest: untag that repo's names.
			repo, _, _ := splitRef(canon)
			for _, n := range img.RepoDigests {
				if r, _, _ := splitRef(n); r == repo {
					byName = n
				}
			}
		}
	}
	names := append(append([]string{}, img.RepoTags...), img.RepoDigests...)
	held := s.Holders(img.ID)
	var untag []string
	switch {
	case byName != "":
		untag = []string{byName}
		repo, _, _ := splitRef(byName)
		// Removing the last tag of a repo drops its digest references too.
		lastOfRepo := true
		for _, n := range img.RepoTags {
			if r, _, _ := splitRef(n); r == repo && n != byName {
				lastOfRepo = false
			}
		}
		if lastOfRepo {
			for _, n := range img.RepoDigests {
				if r, _, _ := splitRef(n); r == repo && n != byName {
					untag = append(untag, n)
				}
			}
		}
		if len(untag) == len(names) && len(held) > 0 && !opts.Force {
			return nil, fmt.Errorf("unable to remove %s (must force): image is in use by %s: %w", ref, strings.Join(held, ", "), errdefs.ErrConflict)
		}
	default:
		if len(held) > 0 && !opts.Force {
			return nil, fmt.Errorf("unable to delete %s (must force): image is in use by %s: %w", shortID(img.ID), strings.Join(held, ", "), errdefs.ErrConflict)
		}
		if len(img.RepoTags) > 1 && !opts.Force {
			return nil, fmt.Errorf("unable to delete %s (must be forced): image is referenced in multiple repositories: %w", shortID(img.ID), errdefs.ErrConflict)
		}
		untag = names
	}
	deleteImage := len(untag) == len(names) && len(held) == 0

	if deleteImage {
		// The marker makes the next Open finish a removal killed half-way.
		if err := snapshot.WriteFileAtomic(s.path("gc-pending"), nil, 0o600); err != nil {
			return nil, err
		}
	}
	if err := s.updateRefs(func(refs map[string]digest.Digest) error {
		for _, n := range untag {
			delete(refs, n)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, n := range untag {
		res.Untagged = append(res.Untagged, Familiar(n))
	}
	if !deleteImage {
		return res, nil
	}
	p, _ := s.recordPath(img.ID)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("removing image %s: %w", img.ID, err)
	}
	res.Deleted = append(res.Deleted, img.ID)
	if !opts.NoPrune {
		removed, _ := s.collect(ctx)
		res.Deleted = append(res.Deleted, removed...)
	}
	return res, nil
}

func isIDRef(ref string, img *Image) bool {
	r := strings.TrimPrefix(ref, "sha256:")
	return len(r) >= 4 && strings.HasPrefix(img.ID.Encoded(), r) && isShortID(ref)
}

func shortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}

// collect removes blobs and layer snapshots that no image, active snapshot
// or lease needs, and returns the chain IDs of the removed layers and the
// bytes freed. When a writer holds a lease it does nothing (the next
// collection will).
func (s *Store) collect(ctx context.Context) (removed []digest.Digest, freed int64) {
	unlock, err := lockFile(s.path("gc.lock"), true, false)
	if err != nil {
		return nil, 0
	}
	defer unlock()
	recs, err := s.records()
	if err != nil {
		return nil, 0
	}
	blobs := map[digest.Digest]bool{}
	chains := map[digest.Digest]bool{}
	for _, r := range recs {
		blobs[r.ID] = true
		blobs[r.Manifest] = true
		for _, l := range r.Layers {
			blobs[l.Digest] = true
			chains[l.ChainID] = true
		}
		if r.Index != "" {
			blobs[r.Index] = true
		}
	}
	actives, err := s.snapshots.ListActive()
	if err != nil {
		return nil, 0
	}
	infos, err := s.snapshots.List()
	if err != nil {
		return nil, 0
	}
	parents := map[digest.Digest]digest.Digest{}
	for _, i := range infos {
		parents[i.ChainID] = i.Parent
	}
	for _, a := range actives {
		for c := a.Parent; c != "" && !chains[c]; c = parents[c] {
			chains[c] = true
		}
	}
	// Every ancestor of a kept chain is kept.
	for c := range chains {
		for p := parents[c]; p != "" && !chains[p]; p = parents[p] {
			chains[p] = true
		}
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].ChainID < infos[j].ChainID })
	for _, i := range infos {
		if ctx.Err() != nil {
			return removed, freed
		}
		if !chains[i.ChainID] && s.snapshots.RemoveLayer(i.ChainID) == nil {
			removed = append(removed, i.ChainID)
			freed += i.Size
		}
	}
	s.content.Walk(func(info content.Info) error {
		if !blobs[info.Digest] && s.content.Delete(info.Digest) == nil {
			freed += info.Size
		}
		return nil
	})
	os.Remove(s.path("gc-pending"))
	return removed, freed
}
