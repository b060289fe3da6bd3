package image

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/layer"
)

// ImportOptions tune Import.
type ImportOptions struct {
	// Config is the image config to start from (Cmd, Env, ...); nil means
	// an empty one, as docker import makes.
	Config *v1.Config
	// Message is recorded in the image history.
	Message string
	// Platform defaults to linux and this machine's architecture.
	OS, Architecture string
}

// Import makes a one-layer image from the root filesystem tarball r (plain,
// gzip or zstd) and names it ref (name[:tag]; "" leaves it untagged). The
// tarball is read once: it is unpacked into a snapshot while it is
// compressed into the layer blob.
func (s *Store) Import(ctx context.Context, r io.Reader, ref string, opts ImportOptions) (*Image, error) {
	var names []string
	if ref != "" {
		canon, err := NormalizeTag(ref)
		if err != nil {
			return nil, err
		}
		names = []string{canon}
	}
	release, err := s.Lease()
	if err != nil {
		return nil, err
	}
	defer release()

	tr, _, err := layer.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("importing: %w", err)
	}
	defer tr.Close()
	l, err := s.ingestLayer(ctx, "", tr)
	if err != nil {
		return nil, fmt.Errorf("importing: %w", err)
	}
	now := time.Now().UTC()
	cfg := &v1.ConfigFile{
		Created:      v1.Time{Time: now},
		OS:           opts.OS,
		Architecture: opts.Architecture,
		History:      []v1.History{{Created: v1.Time{Time: now}, CreatedBy: "berth import", Comment: opts.Message}},
	}
	if cfg.OS == "" {
		cfg.OS = "linux"
	}
	if cfg.Architecture == "" {
		cfg.Architecture = runtime.GOARCH
	}
	if opts.Config != nil {
		cfg.Config = *opts.Config
	}
	return s.create(ctx, cfg, []Layer{l}, names)
}

// ingestLayer reads the uncompressed layer tar r once, unpacking it onto
// parent while gzip-compressing it into a new content blob.
func (s *Store) ingestLayer(ctx context.Context, parent digest.Digest, r io.Reader) (Layer, error) {
	w, err := s.content.Writer()
	if err != nil {
		return Layer{}, err
	}
	defer w.Close()
	zw, err := layer.Compress(w)
	if err != nil {
		return Layer{}, err
	}
	chain, diffID, err := s.snapshots.Apply(ctx, parent, "", io.TeeReader(r, zw))
	if err != nil {
		return Layer{}, err
	}
	if err := zw.Close(); err != nil {
		return Layer{}, err
	}
	d, err := w.Commit("", -1)
	if err != nil {
		return Layer{}, err
	}
	return Layer{Digest: d, Size: w.Size(), MediaType: layer.MediaTypeOCIGzip, DiffID: diffID, ChainID: chain}, nil
}
