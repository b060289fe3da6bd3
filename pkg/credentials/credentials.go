// Package credentials keeps registry logins where docker keeps them:
// in docker's config.json ($DOCKER_CONFIG/config.json, else
// ~/.docker/config.json), or, when that file names one ("credsStore" for
// every registry, "credHelpers" per registry), in a credential helper
// (docker-credential-<name> get|store|erase). docker, crane, skopeo (with
// --authfile) and berth share them; go-containerregistry's
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

// PlainHTTPPolicy is an optional ability of the transport given to Login
// and Verify: it says which registries may be reached over plain HTTP
// (after TLS fails) besides loopback ones.
type PlainHTTPPolicy interface {
	AllowsPlainHTTP(hostport string) bool
}

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
	if err != nil || strings.ContainsAny(s, "/ ") {
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

// Login checks username/password against server (Verify) and stores them
// (Store).
func Login(ctx context.Context, server, username, password string, rt http.RoundTripper) error {
	if err := Verify(ctx, server, username, password, rt); err != nil {
		return err
	}
	return Store(server, username, password)
}

// Verify checks username/password against server's /v2/ endpoint through
// rt (nil: http.DefaultTransport). Wrong credentials are
// ErrInvalidArgument, an unreachable registry ErrUnavailable.
func Verify(ctx context.Context, server, username, password string, rt http.RoundTripper) error {
	if username == "" || password == "" {
		return fmt.Errorf("login: username and password are required: %w", errdefs.ErrInvalidArgument)
	}
	_, reg, err := ServerKey(server)
	if err != nil {
		return err
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	if p, ok := rt.(PlainHTTPPolicy); ok && p.AllowsPlainHTTP(reg.RegistryStr()) {
		if r, err := name.NewRegistry(reg.RegistryStr(), name.Insecure); err == nil {
			reg = r
		}
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
	return nil
}

func loginError(reg name.Registry, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("login to %s: unauthorized: incorrect username or password: %w", reg.RegistryStr(), errdefs.ErrInvalidArgument)
	}
	return fmt.Errorf("login to %s: %v: %w", reg.RegistryStr(), err, errdefs.ErrUnavailable)
}

// Store saves username/password for server without checking them: in the
// credential helper config.json names for it, else in config.json.
func Store(server, username, password string) error {
	key, _, err := ServerKey(server)
	if err != nil {
		return err
	}
	doc, err := readConfig()
	if err != nil {
		return err
	}
	if h := doc.helperFor(key); h != "" {
		if err := helperStore(h, key, username, password); err != nil {
			return err
		}
		// As docker does: an entry without secrets says where to look,
		// and no copy of an older password stays in the file.
		return update(func(auths map[string]json.RawMessage) {
			auths[key] = json.RawMessage("{}")
		})
	}
	return update(func(auths map[string]json.RawMessage) {
		b, _ := json.Marshal(map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(username + ":" + password))})
		auths[key] = b
	})
}

// Get returns the stored credentials for server; found is false when
// there are none.
func Get(server string) (username, password string, found bool, err error) {
	key, _, err := ServerKey(server)
	if err != nil {
		return "", "", false, err
	}
	doc, err := readConfig()
	if err != nil {
		return "", "", false, err
	}
	if h := doc.helperFor(key); h != "" {
		return helperGet(h, key)
	}
	raw, ok := doc.Auths[key]
	if !ok {
		for k, v := range doc.Auths {
			if strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://"), "/") == key {
				raw, ok = v, true
			}
		}
	}
	if !ok {
		return "", "", false, nil
	}
	var e struct {
		Auth     string `json:"auth"`
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return "", "", false, fmt.Errorf("%s: auths[%s]: %w: %v", ConfigPath(), key, errdefs.ErrInvalidArgument, err)
	}
	if e.Auth != "" {
		b, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			return "", "", false, fmt.Errorf("%s: auths[%s].auth: %w: %v", ConfigPath(), key, errdefs.ErrInvalidArgument, err)
		}
		u, p, ok := strings.Cut(string(b), ":")
		if !ok {
			return "", "", false, fmt.Errorf("%s: auths[%s].auth is not user:password: %w", ConfigPath(), key, errdefs.ErrInvalidArgument)
		}
		return u, p, true, nil
	}
	return e.Username, e.Password, e.Username != "" && e.Password != "", nil
}

// Logout forgets the credentials for server (in its credential helper
// and in config.json). It reports whether there were any.
func Logout(server string) (bool, error) {
	key, _, err := ServerKey(server)
	if err != nil {
		return false, err
	}
	doc, err := readConfig()
	if err != nil {
		return false, err
	}
	found := false
	if h := doc.helperFor(key); h != "" {
		if found, err = helperErase(h, key); err != nil {
			return false, err
		}
	}
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

// configDoc is the part of config.json that says where credentials are.
type configDoc struct {
	Auths       map[string]json.RawMessage `json:"auths"`
	CredsStore  string                     `json:"credsStore"`
	CredHelpers map[string]string          `json:"credHelpers"`
}

func readConfig() (*configDoc, error) {
	p := ConfigPath()
	doc := &configDoc{}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return doc, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, doc); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", p, errdefs.ErrInvalidArgument, err)
	}
	return doc, nil
}

// helperFor returns the credential helper for key: credHelpers names one
// per registry (by host[:port], or Docker Hub's key), credsStore one for
// all.
func (d *configDoc) helperFor(key string) string {
	if h, ok := d.CredHelpers[key]; ok {
		return h
	}
	if key == DockerHubServer {
		for _, k := range []string{"docker.io", "index.docker.io", "registry-1.docker.io"} {
			if h, ok := d.CredHelpers[k]; ok {
				return h
			}
		}
	}
	return d.CredsStore
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
