package image

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/layer"
)

// docShape is enough of a manifest or index to tell which it is.
type docShape struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Manifests     json.RawMessage   `json:"manifests"`
	Layers        json.RawMessage   `json:"layers"`
	Config        json.RawMessage   `json:"config"`
	FSLayers      []json.RawMessage `json:"fsLayers"`
}

// docKind checks a manifest document and returns its media type: index
// (OCI index, Docker manifest list) or manifest (OCI, Docker schema 2).
// A document whose shape is ambiguous (manifests and layers/config), whose
// mediaType field disagrees with its shape or with the transport's
// Content-Type is refused (CVE-2021-41190); schema 1 is not supported.
func docKind(raw []byte, transportType string) (types.MediaType, error) {
	var d docShape
	if err := json.Unmarshal(raw, &d); err != nil {
		return "", fmt.Errorf("manifest: %w: %v", errdefs.ErrInvalidArgument, err)
	}
	if d.SchemaVersion == 1 || len(d.FSLayers) > 0 {
		return "", fmt.Errorf("docker schema 1 manifests are not supported: %w", errdefs.ErrNotImplemented)
	}
	isIndex := len(d.Manifests) > 0 && string(d.Manifests) != "null"
	isManifest := (len(d.Layers) > 0 && string(d.Layers) != "null") || (len(d.Config) > 0 && string(d.Config) != "null")
	if isIndex && isManifest {
		return "", fmt.Errorf("ambiguous manifest: it has both manifests and layers/config: %w", errdefs.ErrInvalidArgument)
	}
	mt := types.MediaType(d.MediaType)
	if mt == "" {
		mt = types.MediaType(strings.TrimSpace(strings.Split(transportType, ";")[0]))
	}
	switch mt {
	case types.OCIImageIndex, types.DockerManifestList:
		if isManifest {
			return "", fmt.Errorf("document says %s but has layers: %w", mt, errdefs.ErrInvalidArgument)
		}
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
		if isIndex {
			return "", fmt.Errorf("document says %s but has manifests: %w", mt, errdefs.ErrInvalidArgument)
		}
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return "", fmt.Errorf("docker schema 1 manifests are not supported: %w", errdefs.ErrNotImplemented)
	case "":
		// No mediaType anywhere (old OCI writers): go by shape.
		switch {
		case isIndex:
			mt = types.OCIImageIndex
		case isManifest:
			mt = types.OCIManifestSchema1
		default:
			return "", fmt.Errorf("manifest without mediaType, layers or manifests: %w", errdefs.ErrInvalidArgument)
		}
	default:
		return "", fmt.Errorf("unsupported manifest media type %q: %w", mt, errdefs.ErrNotImplemented)
	}
	if d.MediaType != "" && transportType != "" {
		tt := types.MediaType(strings.TrimSpace(strings.Split(transportType, ";")[0]))
		if (tt == types.OCIImageIndex || tt == types.DockerManifestList) != (mt == types.OCIImageIndex || mt == types.DockerManifestList) &&
			(tt.IsIndex() || tt.IsImage()) {
			return "", fmt.Errorf("manifest Content-Type %s disagrees with its mediaType %s: %w", tt, mt, errdefs.ErrInvalidArgument)
		}
	}
	return mt, nil
}

// parseManifest parses and checks an image manifest.
func parseManifest(raw []byte) (*v1.Manifest, error) {
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w: %v", errdefs.ErrInvalidArgument, err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest schemaVersion %d: %w", m.SchemaVersion, errdefs.ErrNotImplemented)
	}
	for _, l := range m.Layers {
		if !supportedLayer(l.MediaType) {
			return nil, fmt.Errorf("layer media type %q: %w", l.MediaType, errdefs.ErrNotImplemented)
		}
		if l.Size < 0 {
			return nil, fmt.Errorf("layer size %d: %w", l.Size, errdefs.ErrInvalidArgument)
		}
	}
	return &m, nil
}

func supportedLayer(mt types.MediaType) bool {
	switch string(mt) {
	case layer.MediaTypeOCITar, layer.MediaTypeOCIGzip, layer.MediaTypeOCIZstd, layer.MediaTypeDockerGzip, layer.MediaTypeDockerForeig,
		"application/vnd.oci.image.layer.nondistributable.v1.tar", "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", "application/vnd.docker.image.rootfs.diff.tar":
		return true
	}
	return false
}

// DefaultPlatform is this machine's platform.
func DefaultPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	return p
}

// ParsePlatform reads os/arch[/variant].
func ParsePlatform(s string) (*v1.Platform, error) {
	if s == "" {
		p := DefaultPlatform()
		return &p, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return nil, fmt.Errorf("platform %q: %w: want os/arch[/variant]", s, errdefs.ErrInvalidArgument)
	}
	return p, nil
}

// selectManifest picks the manifest for platform from index raw.
func selectManifest(raw []byte, platform v1.Platform) (v1.Descriptor, error) {
	idx, err := v1.ParseIndexManifest(strings.NewReader(string(raw)))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("index: %w: %v", errdefs.ErrInvalidArgument, err)
	}
	var avail []string
	for _, d := range idx.Manifests {
		if d.Platform == nil {
			continue
		}
		avail = append(avail, d.Platform.String())
		if d.Platform.OS == platform.OS && d.Platform.Architecture == platform.Architecture &&
			(platform.Variant == "" || d.Platform.Variant == platform.Variant) {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("no image for platform %s in the index (it has %s): %w", platform.String(), strings.Join(avail, ", "), errdefs.ErrNotFound)
}
