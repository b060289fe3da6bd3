// Package tarpath validates the names inside tar archives (image layers,
// archives, `cp` streams). It is a leaf: callers that only need names — the
// lean monitor among them — do not link the layer codecs.
package tarpath

import (
	"fmt"
	"path"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// Clean turns a tar entry name into a slash-separated path relative to the
// archive root ("." for the root itself). Leading slashes and "./" are
// dropped; a ".." component or a NUL byte is an error.
func Clean(name string) (string, error) {
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("NUL in name: %w", errdefs.ErrInvalidArgument)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("name escapes the archive root with \"..\": %w", errdefs.ErrInvalidArgument)
		}
	}
	p := path.Clean("/" + name)
	if p == "/" {
		return ".", nil
	}
	return p[1:], nil
}
