package credentials

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/berth/berth/pkg/errdefs"
)

// staticKeychain answers every registry with one username and password.
type staticKeychain struct{ auth authn.Authenticator }

var _ authn.Keychain = staticKeychain{}

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.auth, nil }

// ParseCreds turns podman's --creds USERNAME:PASSWORD into a keychain for
// one command, with nothing stored.
func ParseCreds(s string) (authn.Keychain, error) {
	u, p, ok := strings.Cut(s, ":")
	if !ok || u == "" || p == "" {
		return nil, fmt.Errorf("--creds: want USERNAME:PASSWORD: %w", errdefs.ErrInvalidArgument)
	}
	return staticKeychain{authn.FromConfig(authn.AuthConfig{Username: u, Password: p})}, nil
}
