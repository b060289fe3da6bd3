package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// Manifest errors callers branch on.
var (
	// ErrManifestUnknown: no such manifest or tag in the repository.
	ErrManifestUnknown = fmt.Errorf("manifest unknown: %w", errdefs.ErrNotFound)
	// ErrManifestInvalid: the document is not an acceptable manifest.
	ErrManifestInvalid = fmt.Errorf("manifest invalid: %w", errdefs.ErrInvalidArgument)
	// ErrManifestBlobUnknown: the manifest references content the repository lacks.
	ErrManifestBlobUnknown = fmt.Errorf("manifest references unknown content: %w", errdefs.ErrInvalidArgument)
	// ErrNameUnknown: no such repository.
	ErrNameUnknown = fmt.Errorf("repository unknown: %w", errdefs.ErrNotFound)
)

// Media types the store knows how to walk.
const (
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// Descriptor points at content, as in the OCI image spec.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
}

// Manifest is the part of an image manifest or index the registry reads.
type Manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        *Descriptor       `json:"config,omitempty"`
	Layers        []Descriptor      `json:"layers,omitempty"`
	Manifests     []Descriptor      `json:"manifests,omitempty"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// IsIndex reports whether m lists other manifests.
func (m *Manifest) IsIndex() bool {
	return m.Manifests != nil || m.Config == nil && m.Layers == nil && isIndexType(m.MediaType)
}

func isIndexType(mt string) bool { return mt == MediaTypeOCIIndex || mt == MediaTypeDockerList }

// NonDistributable reports whether a layer of this media type may be
// absent from registries (OCI non-distributable and Docker foreign layers).
func NonDistributable(mediaType string) bool {
	return strings.Contains(mediaType, ".nondistributable.") || strings.Contains(mediaType, ".foreign.")
}

// ParseManifest decodes and checks a manifest document. contentType is the
// media type the client declared (may be empty); the returned media type is
// the one to serve the manifest with.
func ParseManifest(data []byte, contentType string) (*Manifest, string, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, "", fmt.Errorf("decoding manifest: %v: %w", err, ErrManifestInvalid)
	}
	if m.SchemaVersion != 2 {
		return nil, "", fmt.Errorf("schemaVersion %d is not supported (want 2): %w", m.SchemaVersion, ErrManifestInvalid)
	}
	if m.Manifests != nil && (m.Config != nil || m.Layers != nil) {
		return nil, "", fmt.Errorf("document is both an index and a manifest: %w", ErrManifestInvalid)
	}
	mt := m.MediaType
	if mt == "" {
		mt = contentType
	} else if contentType != "" && contentType != mt {
		return nil, "", fmt.Errorf("mediaType %q differs from Content-Type %q: %w", mt, contentType, ErrManifestInvalid)
	}
	if mt == "" {
		return nil, "", fmt.Errorf("no media type in the document or the request: %w", ErrManifestInvalid)
	}
	if isIndexType(mt) && (m.Config != nil || m.Layers != nil) || (mt == MediaTypeOCIManifest || mt == MediaTypeDockerManifest) && (m.Manifests != nil || m.Config == nil) {
		return nil, "", fmt.Errorf("document does not match media type %q: %w", mt, ErrManifestInvalid)
	}
	descs := m.Layers
	if m.Config != nil {
		descs = append([]Descriptor{*m.Config}, descs...)
	}
	descs = append(descs, m.Manifests...)
	if m.Subject != nil {
		descs = append(descs, *m.Subject)
	}
	for _, d := range descs {
		if _, err := ParseDigest(d.Digest); err != nil {
			return nil, "", fmt.Errorf("descriptor: %v: %w", err, ErrManifestInvalid)
		}
		if d.Size < 0 {
			return nil, "", fmt.Errorf("descriptor %s: negative size: %w", d.Digest, ErrManifestInvalid)
		}
	}
	return &m, mt, nil
}

// ArtifactTypeOf is the artifact type a referrers listing reports for m.
func (m *Manifest) ArtifactTypeOf() string {
	if m.ArtifactType != "" || m.Config == nil {
		return m.ArtifactType
	}
	return m.Config.MediaType
}

// PutManifestOptions tune PutManifest.
type PutManifestOptions struct {
	// Tags to point at the manifest once it is stored.
	Tags []string
	// AllowMissing accepts manifests whose blobs or child manifests are not
	// in the repository (sparse images). By default they are refused.
	AllowMissing bool
}

// PutManifest stores manifest data (already parsed as m, with digest d and
// media type mt) in repository name and points opts.Tags at it. Every
// referenced blob and child manifest must be in the repository unless
// opts.AllowMissing; their leases are renewed before the manifest is
// committed, which is what keeps a concurrent garbage collection from
// removing them.
func (s *Store) PutManifest(name string, d Digest, mt string, data []byte, m *Manifest, opts PutManifestOptions) error {
	for _, t := range opts.Tags {
		if !ValidTag(t) {
			return fmt.Errorf("tag %q: %w", t, errdefs.ErrInvalidArgument)
		}
	}
	var blobs []Descriptor
	if m.Config != nil {
		blobs = append(blobs, *m.Config)
	}
	for _, l := range m.Layers {
		if !NonDistributable(l.MediaType) {
			blobs = append(blobs, l)
		}
	}
	for _, b := range blobs {
		bd := Digest(b.Digest)
		size, err := s.holdBlob(name, bd)
		if err != nil {
			if notExist(err) || errors.Is(err, ErrBlobUnknown) {
				if opts.AllowMissing {
					continue
				}
				return fmt.Errorf("blob %s: %w", bd, ErrManifestBlobUnknown)
			}
			return err
		}
		if size != b.Size {
			return fmt.Errorf("blob %s is %d bytes, the manifest says %d: %w", bd, size, b.Size, ErrManifestInvalid)
		}
	}
	for _, c := range m.Manifests {
		cd := Digest(c.Digest)
		if err := s.holdManifest(name, cd); err != nil {
			if errors.Is(err, ErrManifestUnknown) {
				if opts.AllowMissing {
					continue
				}
				return fmt.Errorf("manifest %s: %w", cd, ErrManifestBlobUnknown)
			}
			return err
		}
	}
	if err := s.writeContent(d, data); err != nil {
		return fmt.Errorf("storing manifest %s: %w", d, err)
	}
	if err := writeFileAtomic(s.manifestLink(name, d), []byte(mt)); err != nil {
		return fmt.Errorf("linking manifest %s: %w", d, err)
	}
	if m.Subject != nil {
		desc := Descriptor{MediaType: mt, Digest: d.String(), Size: int64(len(data)), ArtifactType: m.ArtifactTypeOf(), Annotations: m.Annotations}
		b, err := json.Marshal(desc)
		if err != nil {
			return err
		}
		sd := Digest(m.Subject.Digest)
		if err := writeFileAtomic(filepath.Join(s.referrersDir(name, sd), d.Algorithm()+"-"+d.Hex()), b); err != nil {
			return fmt.Errorf("recording referrer of %s: %w", sd, err)
		}
	}
	for _, t := range opts.Tags {
		if err := writeFileAtomic(s.tagPath(name, t), []byte(d)); err != nil {
			return fmt.Errorf("tagging %s: %w", t, err)
		}
	}
	return nil
}

// holdManifest renews the leases of manifest d of repository name.
func (s *Store) holdManifest(name string, d Digest) error {
	if err := touch(s.manifestLink(name, d)); err != nil {
		if notExist(err) {
			return fmt.Errorf("%s in %s: %w", d, name, ErrManifestUnknown)
		}
		return err
	}
	if err := touch(s.blobPath(d)); err != nil {
		if notExist(err) {
			return fmt.Errorf("%s in %s: %w", d, name, ErrManifestUnknown)
		}
		return err
	}
	return nil
}

// Resolve turns a tag or digest reference into the manifest's digest and
// media type, checking the manifest is in repository name.
func (s *Store) Resolve(name, ref string) (Digest, string, error) {
	var d Digest
	if strings.Contains(ref, ":") {
		var err error
		if d, err = ParseDigest(ref); err != nil {
			return "", "", err
		}
	} else {
		if !ValidTag(ref) {
			return "", "", fmt.Errorf("tag %q: %w", ref, errdefs.ErrInvalidArgument)
		}
		b, err := s.readSmall(s.tagPath(name, ref))
		if err != nil {
			if notExist(err) {
				return "", "", fmt.Errorf("%s:%s: %w", name, ref, ErrManifestUnknown)
			}
			return "", "", err
		}
		if d, err = ParseDigest(string(b)); err != nil {
			return "", "", fmt.Errorf("tag %s:%s is corrupt: %w", name, ref, err)
		}
	}
	mt, err := s.readSmall(s.manifestLink(name, d))
	if err != nil {
		if notExist(err) {
			return "", "", fmt.Errorf("%s@%s: %w", name, d, ErrManifestUnknown)
		}
		return "", "", err
	}
	return d, string(mt), nil
}

// StatManifest is Resolve plus the manifest's size.
func (s *Store) StatManifest(name, ref string) (Digest, string, int64, error) {
	d, mt, err := s.Resolve(name, ref)
	if err != nil {
		return "", "", 0, err
	}
	fi, err := os.Stat(s.blobPath(d))
	if err != nil {
		if notExist(err) {
			return "", "", 0, fmt.Errorf("%s@%s: %w", name, d, ErrManifestUnknown)
		}
		return "", "", 0, err
	}
	return d, mt, fi.Size(), nil
}

// GetManifest returns the manifest ref of repository name: digest, media
// type and content.
func (s *Store) GetManifest(name, ref string) (Digest, string, []byte, error) {
	d, mt, err := s.Resolve(name, ref)
	if err != nil {
		return "", "", nil, err
	}
	p := s.blobPath(d)
	fi, err := os.Stat(p)
	if err == nil {
		var data []byte
		if data, err = s.readContent(p, fi, maxCachedContent); err == nil {
			return d, mt, data, nil
		}
	}
	if notExist(err) {
		return "", "", nil, fmt.Errorf("%s@%s: %w", name, d, ErrManifestUnknown)
	}
	return "", "", nil, err
}

// DeleteTag removes a tag; the manifest stays.
func (s *Store) DeleteTag(name, tag string) error {
	if !ValidTag(tag) {
		return fmt.Errorf("tag %q: %w", tag, errdefs.ErrInvalidArgument)
	}
	if err := os.Remove(s.tagPath(name, tag)); err != nil {
		if notExist(err) {
			return fmt.Errorf("%s:%s: %w", name, tag, ErrManifestUnknown)
		}
		return err
	}
	return nil
}

// DeleteManifest removes manifest d from repository name, with every tag
// that points at it and its entry in its subject's referrers.
func (s *Store) DeleteManifest(name string, d Digest) error {
	link := s.manifestLink(name, d)
	if _, err := os.Stat(link); err != nil {
		if notExist(err) {
			return fmt.Errorf("%s@%s: %w", name, d, ErrManifestUnknown)
		}
		return err
	}
	tags, _ := s.Tags(name)
	for _, t := range tags {
		if b, err := os.ReadFile(s.tagPath(name, t)); err == nil && string(b) == d.String() {
			os.Remove(s.tagPath(name, t))
		}
	}
	if data, err := os.ReadFile(s.blobPath(d)); err == nil {
		var m Manifest
		if json.Unmarshal(data, &m) == nil && m.Subject != nil {
			if sd, err := ParseDigest(m.Subject.Digest); err == nil {
				os.Remove(filepath.Join(s.referrersDir(name, sd), d.Algorithm()+"-"+d.Hex()))
			}
		}
	}
	if err := os.Remove(link); err != nil && !notExist(err) {
		return err
	}
	return nil
}

// RepoExists reports whether repository name holds anything.
func (s *Store) RepoExists(name string) bool {
	for _, sub := range []string{"_manifests", "_blobs", "_tags"} {
		if _, err := os.Stat(filepath.Join(s.repoDir(name), sub)); err == nil {
			return true
		}
	}
	return false
}

// Tags lists the tags of repository name in lexical order.
func (s *Store) Tags(name string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.repoDir(name), "_tags"))
	if err != nil && !notExist(err) {
		return nil, err
	}
	if err != nil && !s.RepoExists(name) {
		return nil, fmt.Errorf("%s: %w", name, ErrNameUnknown)
	}
	tags := make([]string, 0, len(ents))
	for _, e := range ents {
		if ValidTag(e.Name()) {
			tags = append(tags, e.Name())
		}
	}
	slices.Sort(tags)
	return tags, nil
}

// Repositories lists every repository name in lexical order.
func (s *Store) Repositories() ([]string, error) {
	var names []string
	base := filepath.Join(s.root, "repos")
	err := filepath.WalkDir(base, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			if notExist(err) {
				return nil
			}
			return err
		}
		if !de.IsDir() {
			return nil
		}
		if strings.HasPrefix(de.Name(), "_") {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(base, p)
		if rel != "." && s.RepoExists(filepath.ToSlash(rel)) {
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(names)
	return names, err
}

// Referrers lists the manifests of repository name whose subject is d.
func (s *Store) Referrers(name string, d Digest) ([]Descriptor, error) {
	dir := s.referrersDir(name, d)
	ents, err := os.ReadDir(dir)
	if err != nil && !notExist(err) {
		return nil, err
	}
	out := []Descriptor{}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var desc Descriptor
		if json.Unmarshal(b, &desc) != nil {
			continue
		}
		rd, err := ParseDigest(desc.Digest)
		if err != nil {
			continue
		}
		if _, err := os.Stat(s.manifestLink(name, rd)); err != nil {
			continue // deleted, or collected, since
		}
		out = append(out, desc)
	}
	slices.SortFunc(out, func(a, b Descriptor) int { return strings.Compare(a.Digest, b.Digest) })
	return out, nil
}
