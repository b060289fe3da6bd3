// Package credentials keeps registry logins in docker's config.json
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json), so docker,
// crane, skopeo (with --authfile) and berth share them; go-containerregistry's
// authn.DefaultKeychain reads them back for pulls and pushes.
//
// Login checks the credentials against the registry first: for a registry
// that answers /v2/ with a Bearer challenge a token is requested with them,
// for Basic the /v2/ request itself must succeed. Only then are they
// written, atomically and with mode 0600; other keys in the file are kept.
package credentials

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth/berth/pkg/errdefs"
)

// DockerHubServer is the key docker uses for Docker Hub's credentials.
const DockerHubServer = "https://index.docker.io/v1/"

// ConfigPath returns the config.json berth reads and writes.
func ConfigPath() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".docker", "config.json")
}

// ServerKey returns the config.json key for registry host (docker's
// spelling: Docker Hub has its legacy URL, others host[:port]).
func ServerKey(server string) (string, name.Registry, error) {
	s := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://"), "/")
	s = strings.TrimSuffix(s, "/v1")
	s = strings.TrimSuffix(s, "/v2")
	if s == "" || s == "docker.io" || s == "index.docker.io" || s == "registry-1.docker.io" {
		reg, _ := name.NewRegistry(name.DefaultRegistry)
		return DockerHubServer, reg, nil
	}
	opts := []name.Option{}
	if isLoopback(s) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(s, opts...)
	if err != nil {
		return "", name.Registry{}, fmt.Errorf("registry %q: %w", server, errdefs.ErrInvalidArgument)
	}
	return s, reg, nil
}

func isLoopback(s string) bool {
	host := s
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "]") {
		host = s[:i]
	}
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "[::1]"
}

// Login checks username/password against server and stores them.
func Login(ctx context.Context, server, username, password string, rt http.RoundTripper) error {
	if username == "" || password == "" {
		return fmt.Errorf("login: username and password are required: %w", errdefs.ErrInvalidArgument)
	}
	key, reg, err := ServerKey(server)
	if err != nil {
		return err
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: username, Password: password})
	t, err := transport.NewWithContext(ctx, reg, auth, rt, nil)
	if err != nil {
		return loginError(reg, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: t}).Do(req)
	if err != nil {
		return loginError(reg, err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("login to %s: unauthorized: incorrect username or password: %w", reg.RegistryStr(), errdefs.ErrInvalidArgument)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("login to %s: registry answered %s: %w", reg.RegistryStr(), resp.Status, errdefs.ErrUnavailable)
	}
	return update(func(auths map[string]json.RawMessage) {
		b, _ := json.Marshal(map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(username + ":" + password))})
		auths[key] = b
	})
}

func loginError(reg name.Registry, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("login to %s: unauthorized: incorrect username or password: %w", reg.RegistryStr(), errdefs.ErrInvalidArgument)
	}
	return fmt.Errorf("login to %s: %v: %w", reg.RegistryStr(), err, errdefs.ErrUnavailable)
}

// Logout forgets the credentials for server. It reports whether there
// were any.
func Logout(server string) (bool, error) {
	key, _, err := ServerKey(server)
	if err != nil {
		return false, err
	}
	found := false
	err = update(func(auths map[string]json.RawMessage) {
		for k := range auths {
			if k == key || strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://") == key {
				delete(auths, k)
				found = true
			}
		}
	})
	return found, err
}

// update rewrites config.json's "auths" with fn, keeping every other key.
func update(fn func(map[string]json.RawMessage)) error {
	p := ConfigPath()
	doc := map[string]json.RawMessage{}
	b, err := os.ReadFile(p)
	if err == nil {
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	auths := map[string]json.RawMessage{}
	if raw, ok := doc["auths"]; ok {
		if err := json.Unmarshal(raw, &auths); err != nil {
			return fmt.Errorf("%s auths: %w", p, err)
		}
	}
	fn(auths)
	doc["auths"], _ = json.Marshal(auths)
	out, err := json.MarshalIndent(doc, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".config.json.tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(out, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	tmp.Close()
	return os.Rename(tmp.Name(), p)
}
