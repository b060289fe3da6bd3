package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// GCOptions tune a garbage collection run.
type GCOptions struct {
	// DryRun reports what would be removed and removes nothing.
	DryRun bool
	// Grace spares everything whose lease (mtime) is younger than this at
	// the start of the run: blobs just uploaded, checked or mounted by a
	// push that has not yet committed its manifest.
	Grace time.Duration
	// UploadTTL removes upload sessions idle for longer than this (0: keep).
	UploadTTL time.Duration
}

// GCReport says what a collection removed (or, in a dry run, would remove).
type GCReport struct {
	BlobsRemoved     int
	BytesRemoved     int64
	ManifestsRemoved int
	LinksRemoved     int
	UploadsRemoved   int
	// Removed lists what went, as store-relative paths.
	Removed []string
}

// GC is a mark-and-sweep collection that runs while the registry serves,
// from the same process or another one.
//
// Mark: in each repository the roots are the tagged manifests and every
// manifest whose link is younger than the grace period; a root keeps the
// manifests it lists, and a kept manifest keeps the manifests that refer to
// it (signatures, SBOMs). Kept manifests mark their content, config and
// layers. Blob links that no kept manifest references are removed once stale.
//
// Sweep: content that nothing marked is removed when its lease is stale.
//
// Concurrent pushes are safe because a push renews the lease (mtime) of every
// link and blob a manifest references before it commits the manifest, and
// the collector removes a file only by renaming it into trash/, then reading
// its mtime again: a lease renewed before the rename is seen and the file put
// back; a renewal after the rename fails, so the push reports the blob
// unknown instead of committing a manifest that references nothing.
func (s *Store) GC(ctx context.Context, o GCOptions) (GCReport, error) {
	var rep GCReport
	start := time.Now()
	cutoff := start.Add(-o.Grace)
	if !o.DryRun {
		s.recoverTrash(cutoff)
	}
	repos, err := s.Repositories()
	if err != nil {
		return rep, fmt.Errorf("gc: listing repositories: %w", err)
	}
	marked := map[Digest]bool{}
	for _, name := range repos {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if err := s.gcRepo(name, cutoff, o.DryRun, marked, &rep); err != nil {
			return rep, fmt.Errorf("gc: repository %s: %w", name, err)
		}
	}
	// Sweep the shared content.
	for _, alg := range []string{"sha256", "sha512"} {
		base := filepath.Join(s.root, "blobs", alg)
		prefixes, _ := os.ReadDir(base)
		for _, p := range prefixes {
			ents, _ := os.ReadDir(filepath.Join(base, p.Name()))
			for _, e := range ents {
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				d, err := ParseDigest(alg + ":" + e.Name())
				if err != nil || marked[d] {
					continue
				}
				path := s.blobPath(d)
				fi, err := os.Stat(path)
				if err != nil {
					continue
				}
				if s.removeIfStale(path, cutoff, o.DryRun) {
					rep.BlobsRemoved++
					rep.BytesRemoved += fi.Size()
					rep.Removed = append(rep.Removed, s.rel(path))
				}
			}
		}
	}
	if o.UploadTTL > 0 {
		s.purgeUploads(start.Add(-o.UploadTTL), o.DryRun, &rep)
	}
	return rep, nil
}

// node is a manifest of one repository as the collector sees it.
type node struct {
	m     *Manifest
	fresh bool
}

func (s *Store) gcRepo(name string, cutoff time.Time, dry bool, marked map[Digest]bool, rep *GCReport) error {
	nodes := map[Digest]*node{}
	for _, alg := range []string{"sha256", "sha512"} {
		dir := filepath.Join(s.repoDir(name), "_manifests", alg)
		ents, err := os.ReadDir(dir)
		if err != nil && !notExist(err) {
			return err
		}
		for _, e := range ents {
			d, err := ParseDigest(alg + ":" + e.Name())
			if err != nil {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			n := &node{fresh: !fi.ModTime().Before(cutoff)}
			if data, err := os.ReadFile(s.blobPath(d)); err == nil {
				var m Manifest
				if json.Unmarshal(data, &m) == nil {
					n.m = &m
				}
			}
			nodes[d] = n
		}
	}
	kept := map[Digest]bool{}
	var keep func(d Digest)
	keep = func(d Digest) {
		n, ok := nodes[d]
		if !ok || kept[d] {
			return
		}
		kept[d] = true
		if n.m != nil {
			for _, c := range n.m.Manifests {
				keep(Digest(c.Digest))
			}
		}
	}
	tags, _ := s.Tags(name)
	for _, t := range tags {
		if b, err := os.ReadFile(s.tagPath(name, t)); err == nil {
			keep(Digest(strings.TrimSpace(string(b))))
		}
	}
	for d, n := range nodes {
		if n.fresh {
			keep(d)
		}
	}
	// Referrers of kept manifests are kept, to a fixed point.
	for changed := true; changed; {
		changed = false
		for d, n := range nodes {
			if !kept[d] && n.m != nil && n.m.Subject != nil && kept[Digest(n.m.Subject.Digest)] {
				keep(d)
				changed = true
			}
		}
	}
	for d, n := range nodes {
		if kept[d] {
			continue
		}
		link := s.manifestLink(name, d)
		if s.removeIfStale(link, cutoff, dry) {
			rep.ManifestsRemoved++
			rep.Removed = append(rep.Removed, s.rel(link))
			if !dry && n.m != nil && n.m.Subject != nil {
				if sd, err := ParseDigest(n.m.Subject.Digest); err == nil {
					os.Remove(filepath.Join(s.referrersDir(name, sd), d.Algorithm()+"-"+d.Hex()))
				}
			}
			continue
		}
		// Renewed while we looked: a push is using it.
		keep(d)
	}
	keptBlobs := map[Digest]bool{}
	for d := range kept {
		marked[d] = true
		n := nodes[d]
		if n == nil || n.m == nil {
			continue
		}
		if n.m.Config != nil {
			keptBlobs[Digest(n.m.Config.Digest)] = true
		}
		for _, l := range n.m.Layers {
			keptBlobs[Digest(l.Digest)] = true
		}
	}
	if s.gcHook != nil {
		s.gcHook(name)
	}
	for _, alg := range []string{"sha256", "sha512"} {
		dir := filepath.Join(s.repoDir(name), "_blobs", alg)
		ents, err := os.ReadDir(dir)
		if err != nil && !notExist(err) {
			return err
		}
		for _, e := range ents {
			d, err := ParseDigest(alg + ":" + e.Name())
			if err != nil {
				continue
			}
			if keptBlobs[d] {
				marked[d] = true
				continue
			}
			link := s.blobLink(name, d)
			if s.removeIfStale(link, cutoff, dry) {
				rep.LinksRemoved++
				rep.Removed = append(rep.Removed, s.rel(link))
				continue
			}
			marked[d] = true
		}
	}
	return nil
}

// removeIfStale removes path if its mtime is before cutoff, safely against a
// concurrent lease renewal (see GC). In a dry run it only reports.
func (s *Store) removeIfStale(path string, cutoff time.Time, dry bool) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.ModTime().Before(cutoff) {
		return false
	}
	if dry {
		return true
	}
	trash := filepath.Join(s.root, "trash", url.PathEscape(s.rel(path))+"."+randomID()[:8])
	if err := os.Rename(path, trash); err != nil {
		return false
	}
	fi, err = os.Stat(trash)
	if err == nil && !fi.ModTime().Before(cutoff) {
		// Renewed between our look and the rename: put it back. If the
		// path was created again meanwhile, that copy is as good.
		_ = os.Link(trash, path)
		os.Remove(trash)
		return false
	}
	os.Remove(trash)
	return true
}

// recoverTrash finishes removals a crashed collector left half done: files
// whose lease was renewed go back, the rest go.
func (s *Store) recoverTrash(cutoff time.Time) {
	dir := filepath.Join(s.root, "trash")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		fi, err := e.Info()
		if err != nil {
			continue
		}
		name := e.Name()
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			name = name[:i]
		}
		rel, err := url.PathUnescape(name)
		if err == nil && !fi.ModTime().Before(cutoff) && !strings.Contains(rel, "..") {
			orig := filepath.Join(s.root, filepath.FromSlash(rel))
			_ = os.MkdirAll(filepath.Dir(orig), 0o755)
			_ = os.Link(p, orig)
		}
		os.Remove(p)
	}
}

// purgeUploads removes upload sessions and temporary files idle since before.
func (s *Store) purgeUploads(before time.Time, dry bool, rep *GCReport) {
	dir := filepath.Join(s.root, "uploads")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		probe := p
		if e.IsDir() {
			probe = filepath.Join(p, "data")
		}
		fi, err := os.Stat(probe)
		if err != nil {
			if fi, err = os.Stat(p); err != nil {
				continue
			}
		}
		if !fi.ModTime().Before(before) {
			continue
		}
		if !isUploadDebris(e.Name()) {
			if !validUploadID(e.Name()) {
				continue
			}
			s.forgetUpload(e.Name())
		}
		rep.UploadsRemoved++
		rep.Removed = append(rep.Removed, s.rel(p))
		if !dry {
			os.RemoveAll(p)
		}
	}
}

func (s *Store) rel(p string) string {
	r, err := filepath.Rel(s.root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}
