package image

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// insecureRegistry reports whether the process-wide config lists reg as
// insecure (a broken config lists nothing; the transport reports it).
func insecureRegistry(reg string) bool {
	c, err := Registries()
	return err == nil && c.IsInsecure(reg)
}

// mirrorsFor returns the mirrors to try for ref: the configured
// "registry-mirrors" for Docker Hub images, unless rt already picks a
// mirror (or Docker Hub itself) for this pull.
func mirrorsFor(ref name.Reference, rt http.RoundTripper) []*url.URL {
	if _, ok := rt.(*mirrorTransport); ok {
		return nil
	}
	if ref.Context().RegistryStr() != name.DefaultRegistry {
		return nil
	}
	c, err := Registries()
	if err != nil {
		return nil
	}
	return c.MirrorURLs()
}

// pullMirrored pulls ref from each mirror in turn and, when none has it
// (or none answers), from Docker Hub; as docker does, the image keeps its
// Docker Hub name whichever served it.
func (s *Store) pullMirrored(ctx context.Context, refStr string, opts PullOptions, mirrors []*url.URL) (*PullResult, error) {
	var tried []string
	for _, m := range mirrors {
		o := opts
		o.Transport = &mirrorTransport{mirror: m, inner: opts.Transport}
		res, err := s.Pull(ctx, refStr, o)
		if err == nil {
			slog.Debug("pull: served by mirror", "ref", refStr, "mirror", m.String())
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		slog.Info("pull: mirror failed, trying the next source", "ref", refStr, "mirror", m.String(), "err", err)
		tried = append(tried, m.String()+": "+err.Error())
	}
	opts.Transport = &mirrorTransport{inner: opts.Transport}
	res, err := s.Pull(ctx, refStr, opts)
	if err != nil {
		return nil, fmt.Errorf("%w (after the mirrors failed: %s)", err, strings.Join(tried, "; "))
	}
	return res, nil
}
