package credentials

import (
	"context"
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
