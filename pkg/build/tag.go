package build

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/berth/berth/pkg/errdefs"
)

// nameRE is docker's reference grammar for NAME[:TAG] (no digest): lower-case
// path components separated by / with an optional registry host first.
var (
	componentRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`) })
	hostRE      = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$`)
	})
	tagRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\w][\w.-]{0,127}$`) })
)

// ValidateTag checks a -t value: NAME[:TAG].
func ValidateTag(t string) error {
	bad := func(why string) error {
		return fmt.Errorf("invalid tag %q: %s: %w", t, why, errdefs.ErrInvalidArgument)
	}
	if t == "" || len(t) > 255 {
		return bad("empty or too long")
	}
	if strings.Contains(t, "@") {
		return bad("a tag cannot carry a digest")
	}
	name, tag := t, ""
	if i := strings.LastIndex(t, ":"); i > strings.LastIndex(t, "/") {
		name, tag = t[:i], t[i+1:]
		if !tagRE().MatchString(tag) {
			return bad("the tag must be [A-Za-z0-9_.-], at most 128 characters")
		}
	}
	parts := strings.Split(name, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		if !hostRE().MatchString(parts[0]) {
			return bad("bad registry host")
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if !componentRE().MatchString(p) {
			return bad("repository names must be lower-case letters, digits and separators")
		}
	}
	return nil
}

// NormalizeTag adds the default tag "latest" to a name without one.
func NormalizeTag(t string) string {
	if i := strings.LastIndex(t, ":"); i > strings.LastIndex(t, "/") {
		return t
	}
	return t + ":latest"
}
