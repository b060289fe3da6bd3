package credentials

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth/berth/pkg/errdefs"
)

// authRegistry serves a registry that wants user:pass, by Basic auth or
// through a Bearer token service.
func authRegistry(t *testing.T, bearer bool) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			u, p, ok := r.BasicAuth()
			if !ok || u != "user" || p != "pass" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"token": "good-token"})
			return
		}
		if bearer {
			if r.Header.Get("Authorization") != "Bearer good-token" {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="test"`, srv.URL))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		} else if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "pass" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestLogin(t *testing.T) {
	for _, bearer := range []bool{false, true} {
		t.Run(fmt.Sprintf("bearer=%v", bearer), func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("DOCKER_CONFIG", dir)
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{},"psFormat":"keep me"}`), 0o600)
			host := authRegistry(t, bearer)
			ctx := context.Background()
			if err := Login(ctx, host, "user", "wrong", nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("login with a wrong password = %v", err)
			}
			if err := Login(ctx, host, "user", "pass", nil); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			if !strings.Contains(string(b), "keep me") || !strings.Contains(string(b), host) {
				t.Errorf("config.json = %s", b)
			}
			// The default keychain (what pull and push use) finds them.
			ref, _ := name.ParseReference(host+"/a/b:1", name.Insecure)
			img, _ := random.Image(100, 1)
			if err := remote.Write(ref, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
				t.Fatalf("push with stored credentials: %v", err)
			}
			if found, err := Logout(host); err != nil || !found {
				t.Fatalf("Logout = %v, %v", found, err)
			}
			if err := remote.Write(ref, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err == nil {
				t.Fatal("push succeeded after logout")
			}
		})
	}
}

// fakeHelper installs docker-credential-<name> on PATH: a shell script
// that keeps one credential per server in files under a directory.
func fakeHelper(t *testing.T, helper string) (store string) {
	t.Helper()
	bin, store := t.TempDir(), t.TempDir()
	script := `#!/bin/sh
set -e
dir=` + store + `
in=$(cat)
case "$1" in
store) key=$(printf '%s' "$in" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/' | tr '/:' '__'); printf '%s' "$in" > "$dir/$key" ;;
get) key=$(printf '%s' "$in" | tr '/:' '__'); if [ -f "$dir/$key" ]; then cat "$dir/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) key=$(printf '%s' "$in" | tr '/:' '__'); if [ -f "$dir/$key" ]; then rm "$dir/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
*) echo "unknown verb $1" >&2; exit 2 ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-"+helper), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return store
}

func TestCredentialHelpers(t *testing.T) {
	for _, cfg := range []string{`{"credsStore":"berthfake"}`, `{"credHelpers":{"HOST":"berthfake"}}`} {
		t.Run(cfg, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("DOCKER_CONFIG", dir)
			store := fakeHelper(t, "berthfake")
			host := authRegistry(t, true)
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.ReplaceAll(cfg, "HOST", host)), 0o600)
			ctx := context.Background()
			if err := Login(ctx, host, "user", "wrong", nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("login with a wrong password = %v", err)
			}
			if ents, _ := os.ReadDir(store); len(ents) != 0 {
				t.Fatalf("wrong credentials reached the helper: %v", ents)
			}
			if err := Login(ctx, host, "user", "pass", nil); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			if strings.Contains(string(b), base64.StdEncoding.EncodeToString([]byte("user:pass"))) || strings.Contains(string(b), "pass\"") {
				t.Errorf("the password is in config.json: %s", b)
			}
			if u, p, found, err := Get(host); err != nil || !found || u != "user" || p != "pass" {
				t.Fatalf("Get = %q %q %v %v", u, p, found, err)
			}
			// go-containerregistry's keychain (pull and push) asks the helper.
			ref, _ := name.ParseReference(host+"/a/b:1", name.Insecure)
			img, _ := random.Image(100, 1)
			if err := remote.Write(ref, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
				t.Fatalf("push with helper credentials: %v", err)
			}
			if found, err := Logout(host); err != nil || !found {
				t.Fatalf("Logout = %v, %v", found, err)
			}
			if ents, _ := os.ReadDir(store); len(ents) != 0 {
				t.Errorf("helper still holds %v after logout", ents)
			}
			if _, _, found, err := Get(host); err != nil || found {
				t.Errorf("Get after logout = %v, %v", found, err)
			}
			if found, err := Logout(host); err != nil || found {
				t.Errorf("second Logout = %v, %v", found, err)
			}
		})
	}
}

func TestHelperErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	for _, tc := range []struct{ cfg, want string }{
		{`{"credsStore":"no-such-helper-berth"}`, "not found in PATH"},
		{`{"credsStore":"../../bin/sh"}`, "not a helper name"},
	} {
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(tc.cfg), 0o600)
		if err := Store("reg.example:5000", "u", "p"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Store = %v, want %q", tc.cfg, err, tc.want)
		}
		if _, _, _, err := Get("reg.example:5000"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Get = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestGetFromFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	if _, _, found, err := Get("reg.example"); err != nil || found {
		t.Fatalf("Get with no config.json = %v %v", found, err)
	}
	if err := Store("https://reg.example/", "me", "se:cret"); err != nil {
		t.Fatal(err)
	}
	if u, p, found, err := Get("reg.example"); err != nil || !found || u != "me" || p != "se:cret" {
		t.Fatalf("Get = %q %q %v %v", u, p, found, err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"reg.example":{"auth":"%%%"}}}`), 0o600)
	if _, _, _, err := Get("reg.example"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Get with a corrupt auth = %v", err)
	}
}

func TestParseCreds(t *testing.T) {
	host := authRegistry(t, true)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ref, _ := name.ParseReference(host+"/c/d:1", name.Insecure)
	img, _ := random.Image(100, 1)
	for _, bad := range []string{"", "user", "user:", ":pass"} {
		if _, err := ParseCreds(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseCreds(%q) = %v", bad, err)
		}
	}
	kc, err := ParseCreds("user:wrong")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuthFromKeychain(kc)); err == nil {
		t.Fatal("push with wrong --creds succeeded")
	}
	kc, _ = ParseCreds("user:pass")
	if err := remote.Write(ref, img, remote.WithAuthFromKeychain(kc)); err != nil {
		t.Fatalf("push with --creds: %v", err)
	}
}
