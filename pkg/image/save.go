package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/errdefs"
)

// Archive formats Save writes.
const (
	// FormatDockerArchive is what docker save writes today: an OCI image
	// layout (oci-layout, index.json, blobs/) plus docker's manifest.json
	// and repositories, so both docker-style and OCI loaders accept it.
	FormatDockerArchive = "docker-archive"
	// FormatOCIArchive is a plain OCI image layout in a tar.
	FormatOCIArchive = "oci-archive"
)

// Annotations naming an image in an index (containerd/docker convention).
const (
	AnnotationRefName   = "org.opencontainers.image.ref.name"
	AnnotationImageName = "io.containerd.image.name"
)

// dockerManifestEntry is one element of docker's manifest.json.
type dockerManifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// Save writes the images refs name to w as a tar in format. Each blob is
// written once however many images share it.
func (s *Store) Save(ctx context.Context, w io.Writer, refs []string, format string) error {
	if format == "" {
		format = FormatDockerArchive
	}
	if format != FormatDockerArchive && format != FormatOCIArchive {
		return fmt.Errorf("archive format %q: %w: want %s or %s", format, errdefs.ErrInvalidArgument, FormatDockerArchive, FormatOCIArchive)
	}
	type item struct {
		img  *Image
		name string // canonical name:tag the user asked for, "" for an ID
	}
	var items []item
	for _, ref := range refs {
		img, err := s.Resolve(ctx, ref)
		if err != nil {
			return err
		}
		name := ""
		if canon, err := NormalizeTag(ref); err == nil {
			for _, t := range img.RepoTags {
				if t == canon {
					name = canon
				}
			}
		}
		items = append(items, item{img, name})
	}
	tw := tar.NewWriter(w)
	written := map[digest.Digest]bool{}
	mtime := time.Unix(0, 0)
	writeFile := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	writeBlob := func(d digest.Digest) error {
		if written[d] {
			return nil
		}
		if len(written) == 0 {
			for _, dir := range []string{"blobs/", "blobs/sha256/"} {
				if err := tw.WriteHeader(&tar.Header{Name: dir, Mode: 0o755, ModTime: mtime, Typeflag: tar.TypeDir}); err != nil {
					return err
				}
			}
		}
		written[d] = true
		f, err := s.content.Open(d)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: blobPath(d), Mode: 0o644, Size: fi.Size(), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	var dm []dockerManifestEntry
	dmIndex := map[digest.Digest]int{}
	repos := map[string]map[string]string{}
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		img := it.img
		raw, err := s.content.ReadAll(img.Manifest, maxManifest)
		if err != nil {
			return err
		}
		if err := writeBlob(img.Manifest); err != nil {
			return err
		}
		if err := writeBlob(img.ID); err != nil {
			return err
		}
		entry := dockerManifestEntry{Config: blobPath(img.ID), RepoTags: []string{}}
		for _, l := range img.Layers {
			if err := writeBlob(l.Digest); err != nil {
				return err
			}
			entry.Layers = append(entry.Layers, blobPath(l.Digest))
		}
		// Saved by name: that name goes with it; saved by ID: none (docker).
		var names []string
		if it.name != "" {
			names = []string{it.name}
		}
		desc := v1.Descriptor{MediaType: types.MediaType(img.MediaType), Size: int64(len(raw)), Digest: toHash(img.Manifest)}
		if len(names) == 0 {
			index.Manifests = append(index.Manifests, desc)
		}
		for _, n := range names {
			d := desc
			_, tag, _ := splitRef(n)
			d.Annotations = map[string]string{AnnotationImageName: n, AnnotationRefName: tag}
			index.Manifests = append(index.Manifests, d)
			entry.RepoTags = append(entry.RepoTags, Familiar(n))
			repo, _, _ := splitRef(n)
			if repos[Familiar(repo)] == nil {
				repos[Familiar(repo)] = map[string]string{}
			}
			repos[Familiar(repo)][tag] = img.ID.Encoded()
		}
		if i, ok := dmIndex[img.ID]; ok {
			dm[i].RepoTags = append(dm[i].RepoTags, entry.RepoTags...)
		} else {
			dmIndex[img.ID] = len(dm)
			dm = append(dm, entry)
		}
	}
	if err := writeFile("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	b, _ := json.Marshal(index)
	if err := writeFile("index.json", b); err != nil {
		return err
	}
	if format == FormatDockerArchive {
		b, _ = json.Marshal(dm)
		if err := writeFile("manifest.json", b); err != nil {
			return err
		}
		if len(repos) > 0 {
			b, _ = json.Marshal(repos)
			if err := writeFile("repositories", b); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func blobPath(d digest.Digest) string {
	return "blobs/" + string(d.Algorithm()) + "/" + d.Encoded()
}
