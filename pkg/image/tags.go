package image

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth/berth/pkg/errdefs"
)

// ParseRepository parses a repository name with no tag or digest
// ("busybox" is docker.io/library/busybox), as `pull --all-tags` takes it.
func ParseRepository(s string) (name.Repository, error) {
	if s == "" {
		return name.Repository{}, fmt.Errorf("empty repository name: %w", errdefs.ErrInvalidArgument)
	}
	if _, tag, dgst := splitRef(s); tag != "" || dgst != "" {
		return name.Repository{}, fmt.Errorf("%q: %w: tag can't be used with --all-tags/-a", s, errdefs.ErrInvalidArgument)
	}
	ref, err := ParseReference(s)
	if err != nil {
		return name.Repository{}, err
	}
	return ref.Context(), nil
}

// RepoName returns the canonical name of repository r
// (docker.io/library/busybox).
func RepoName(r name.Repository) string { return repoName(r) }

// ListTags returns the tags of repository repo in the registry, sorted;
// Docker Hub repositories are listed through the configured mirrors first.
func (s *Store) ListTags(ctx context.Context, repo string, opts RemoteOptions) ([]string, error) {
	r, err := ParseRepository(repo)
	if err != nil {
		return nil, err
	}
	list := func(o RemoteOptions) ([]string, error) {
		tags, err := remote.List(r, o.remote(ctx)...)
		if err != nil {
			return nil, registryError("listing tags of "+repoName(r), err)
		}
		sort.Strings(tags)
		return tags, nil
	}
	if r.RegistryStr() == name.DefaultRegistry {
		if c, err := Registries(); err == nil {
			for _, m := range c.MirrorURLs() {
				o := opts
				o.Transport = &mirrorTransport{mirror: m, inner: opts.Transport}
				tags, err := list(o)
				if err == nil {
					return tags, nil
				}
				if ctx.Err() != nil {
					return nil, err
				}
				slog.Info("listing tags: mirror failed, trying the next source", "repo", repo, "mirror", m.String(), "err", err)
			}
		}
	}
	return list(opts)
}
