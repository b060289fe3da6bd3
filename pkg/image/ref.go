package image

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/berth/berth/pkg/errdefs"
)

// DefaultRegistry is the registry a name without one refers to, as docker.
const DefaultRegistry = "docker.io"

// ParseReference parses s the way docker does ("busybox" is
// docker.io/library/busybox:latest) into a go-containerregistry reference.
// Loopback and insecure registries (Registries) are marked insecure so that they are reached over
// plain HTTP when they do not speak TLS.
func ParseReference(s string) (name.Reference, error) {
	if s == "" {
		return nil, fmt.Errorf("empty image reference: %w", errdefs.ErrInvalidArgument)
	}
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("invalid reference %q: %w", s, errdefs.ErrInvalidArgument)
	}
	if reg := ref.Context().RegistryStr(); IsLoopback(reg) || insecureRegistry(reg) {
		ref, err = name.ParseReference(s, name.Insecure)
		if err != nil {
			return nil, fmt.Errorf("invalid reference %q: %w", s, errdefs.ErrInvalidArgument)
		}
	}
	return ref, nil
}

var loopbackRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(localhost|127(\.[0-9]+){3}|\[::1\])(:[0-9]+)?$`) })

// IsLoopback reports whether registry host[:port] is on this machine.
func IsLoopback(registry string) bool { return loopbackRE().MatchString(registry) }

// Normalize returns the canonical form of reference s: registry/repository
// followed by :tag or @digest (docker.io/library/busybox:latest).
func Normalize(s string) (string, error) {
	ref, err := ParseReference(s)
	if err != nil {
		return "", err
	}
	return canonical(ref), nil
}

// NormalizeTag is Normalize for references that must be tags (Tag's and
// Import's target): a digest reference is refused.
func NormalizeTag(s string) (string, error) {
	ref, err := ParseReference(s)
	if err != nil {
		return "", err
	}
	if _, ok := ref.(name.Tag); !ok {
		return "", fmt.Errorf("reference %q: %w: a tag is needed, not a digest", s, errdefs.ErrInvalidArgument)
	}
	return canonical(ref), nil
}

func canonical(ref name.Reference) string {
	repo := repoName(ref.Context())
	switch r := ref.(type) {
	case name.Digest:
		return repo + "@" + r.DigestStr()
	case name.Tag:
		return repo + ":" + r.TagStr()
	}
	return repo + ":" + ref.Identifier()
}

func repoName(r name.Repository) string {
	reg := r.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = DefaultRegistry
	}
	return reg + "/" + r.RepositoryStr()
}

// Familiar shortens a canonical reference the way docker prints it:
// docker.io/library/busybox:latest is busybox:latest.
func Familiar(s string) string {
	if rest, ok := strings.CutPrefix(s, DefaultRegistry+"/"); ok {
		if short, ok := strings.CutPrefix(rest, "library/"); ok && !strings.Contains(strings.SplitN(short, "@", 2)[0], "/") {
			return short
		}
		return rest
	}
	return s
}

// splitRef splits a canonical reference into repository and tag or digest.
func splitRef(s string) (repo, tag, dgst string) {
	if i := strings.Index(s, "@"); i >= 0 {
		return s[:i], "", s[i+1:]
	}
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		return s[:i], s[i+1:], ""
	}
	return s, "", ""
}
