package image

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth/berth/pkg/errdefs"
)

// registryError wraps a registry client error onto berth's error kinds:
// unknown names are ErrNotFound, bad credentials ErrInvalidArgument with a
// hint to log in, unreachable registries ErrUnavailable.
func registryError(what string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("%s: not found in the registry: %w", what, errdefs.ErrNotFound)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s: access denied (berth login may help): %v: %w", what, te, errdefs.ErrInvalidArgument)
		}
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
				return fmt.Errorf("%s: %v: %w", what, te, errdefs.ErrNotFound)
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return fmt.Errorf("%s: access denied (berth login may help): %v: %w", what, te, errdefs.ErrInvalidArgument)
			}
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return fmt.Errorf("%s: registry unreachable: %v: %w", what, err, errdefs.ErrUnavailable)
	}
	return fmt.Errorf("%s: %w", what, err)
}
