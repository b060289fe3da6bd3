package storage

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// Digest is a validated content digest, "algorithm:hex". Only sha256 and
// sha512 are accepted, in lower-case hex of the exact length, so a Digest is
// always safe to use as a path component.
type Digest string

// Algorithm names the hash function: "sha256" or "sha512".
func (d Digest) Algorithm() string { a, _, _ := strings.Cut(string(d), ":"); return a }

// Hex is the encoded hash without the algorithm.
func (d Digest) Hex() string { _, h, _ := strings.Cut(string(d), ":"); return h }

// String returns "algorithm:hex".
func (d Digest) String() string { return string(d) }

// NewHash returns a fresh hash for the digest's algorithm.
func (d Digest) NewHash() hash.Hash { return NewHash(d.Algorithm()) }

// NewHash returns a fresh hash of a supported algorithm, or nil.
func NewHash(alg string) hash.Hash {
	switch alg {
	case "sha256":
		return sha256.New()
	case "sha512":
		return sha512.New()
	}
	return nil
}

// FromBytes is the digest of b under alg ("sha256" or "sha512").
func FromBytes(alg string, b []byte) Digest {
	h := NewHash(alg)
	h.Write(b)
	return Digest(fmt.Sprintf("%s:%x", alg, h.Sum(nil)))
}

// ParseDigest validates s as a sha256 or sha512 digest.
func ParseDigest(s string) (Digest, error) {
	alg, hx, ok := strings.Cut(s, ":")
	want := 0
	switch alg {
	case "sha256":
		want = 64
	case "sha512":
		want = 128
	}
	if !ok || want == 0 {
		return "", fmt.Errorf("digest %q: unsupported algorithm: %w", s, errdefs.ErrInvalidArgument)
	}
	if len(hx) != want || !isLowerHex(hx) {
		return "", fmt.Errorf("digest %q: malformed: %w", s, errdefs.ErrInvalidArgument)
	}
	return Digest(s), nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// MaxNameLength bounds a repository name, as the distribution spec suggests.
const MaxNameLength = 255

// ValidName reports whether name is a repository name per the distribution
// spec: components of [a-z0-9]+ joined by '.', '_', '__' or runs of '-',
// separated by '/'. Such a name never holds "..", empty or '_'-led components,
// so it is safe as a relative path under the store.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for comp := range strings.SplitSeq(name, "/") {
		if !validComponent(comp) {
			return false
		}
	}
	return true
}

func validComponent(c string) bool {
	if c == "" || !isAlnum(c[0]) || !isAlnum(c[len(c)-1]) {
		return false
	}
	for i := 1; i < len(c)-1; i++ {
		ch := c[i]
		if isAlnum(ch) {
			continue
		}
		switch ch {
		case '.':
			if !isAlnum(c[i-1]) || !isAlnum(c[i+1]) {
				return false
			}
		case '_':
			// '_' or '__' between alphanumerics.
			if c[i-1] == '_' {
				if !isAlnum(c[i+1]) || i < 2 || !isAlnum(c[i-2]) {
					return false
				}
			} else if !isAlnum(c[i-1]) || !(isAlnum(c[i+1]) || c[i+1] == '_') {
				return false
			}
		case '-':
			// runs of '-' between alphanumerics.
			if !(isAlnum(c[i-1]) || c[i-1] == '-') || !(isAlnum(c[i+1]) || c[i+1] == '-') {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// ValidTag reports whether tag matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func ValidTag(tag string) bool {
	if tag == "" || len(tag) > 128 {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || (i > 0 && (c == '.' || c == '-'))
		if !ok {
			return false
		}
	}
	return true
}
