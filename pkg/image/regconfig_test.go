package image

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/errdefs"
)

func TestLoadRegistryConfig(t *testing.T) {
	t.Setenv(InsecureRegistriesEnv, "")
	t.Setenv(CertsDirsEnv, "")
	dir := t.TempDir()
	for _, tc := range []struct {
		name, doc string
		wantErr   bool
	}{
		{"empty", `{}`, false},
		{"full", `{"registry-mirrors":["https://m.example","http://127.0.0.1:5000/"],"insecure-registries":["reg.lan:5000","10.0.0.0/8"],"certs-dirs":["/x"],"debug":true}`, false},
		{"mirror path", `{"registry-mirrors":["https://m.example/v2"]}`, true},
		{"mirror scheme", `{"registry-mirrors":["ftp://m.example"]}`, true},
		{"mirror no scheme", `{"registry-mirrors":["m.example"]}`, true},
		{"mirror user", `{"registry-mirrors":["https://u:p@m.example"]}`, true},
		{"insecure path", `{"insecure-registries":["reg.lan/x"]}`, true},
		{"insecure empty", `{"insecure-registries":[""]}`, true},
		{"not json", `{`, true},
		{"wrong type", `{"registry-mirrors":"https://m.example"}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".json")
			os.WriteFile(p, []byte(tc.doc), 0o644)
			_, err := LoadRegistryConfig(p)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("err %v is not ErrInvalidArgument", err)
			}
		})
	}
	if _, err := LoadRegistryConfig(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file named on purpose loaded")
	}
}

func TestRegistryConfigInsecure(t *testing.T) {
	t.Setenv(InsecureRegistriesEnv, "env.lan")
	t.Setenv(CertsDirsEnv, "")
	p := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(p, []byte(`{"insecure-registries":["reg.lan:5000","any.lan","10.1.0.0/16","http://[fd00::1]:5000"]}`), 0o644)
	c, err := LoadRegistryConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"reg.lan:5000": true, "reg.lan:5001": false, "reg.lan": false, "REG.lan:5000": true,
		"any.lan": true, "any.lan:443": true, "10.1.2.3:5000": true, "10.2.0.1": false,
		"env.lan:5000": true, "[fd00::1]:5000": true, "other.example": false,
	} {
		if got := c.IsInsecure(host); got != want {
			t.Errorf("IsInsecure(%s) = %v, want %v", host, got, want)
		}
	}
	if c.CertsDirs[len(c.CertsDirs)-1] != DefaultCertsDirs[len(DefaultCertsDirs)-1] {
		t.Errorf("certs dirs %v, want the defaults", c.CertsDirs)
	}
	t.Setenv(CertsDirsEnv, "/a:/b")
	if c, _ := LoadRegistryConfig(p); strings.Join(c.CertsDirs, ",") != "/a,/b" {
		t.Errorf("%s=/a:/b gives %v", CertsDirsEnv, c.CertsDirs)
	}
}

// useRegistries makes c the process-wide config for the test.
func useRegistries(t *testing.T, c *RegistryConfig) {
	t.Helper()
	if err := SetRegistries(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { SetRegistries(nil) })
}

// tlsRegistry serves an in-process registry over TLS with a certificate
// from ca; with clientCA set it requires a client certificate from it.
func tlsRegistry(t *testing.T, ca, clientCA *testutil.CA) string {
	t.Helper()
	_, _, pair := ca.Issue(t, t.TempDir(), "server", false)
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	if clientCA != nil {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = clientCA.Pool()
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	// Seed it with an image, trusting its CA directly.
	img, _ := random.Image(512, 1)
	ref, _ := ParseReference(host + "/seed/img:v1")
	rt := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	if clientCA != nil {
		_, _, cpair := clientCA.Issue(t, t.TempDir(), "seeder", true)
		rt.TLSClientConfig.Certificates = []tls.Certificate{cpair}
	}
	if err := remote.Write(ref, img, remote.WithTransport(rt)); err != nil {
		t.Fatal(err)
	}
	return host
}

func headVia(host string) error {
	ref, err := ParseReference(host + "/seed/img:v1")
	if err != nil {
		return err
	}
	_, err = remote.Head(ref, remote.WithTransport(RegistryTransport(nil)))
	return err
}

func TestCertsDir(t *testing.T) {
	ca, clientCA := testutil.NewCA(t), testutil.NewCA(t)
	host := tlsRegistry(t, ca, nil)
	mtlsHost := tlsRegistry(t, ca, clientCA)
	certs := t.TempDir()

	useRegistries(t, &RegistryConfig{CertsDirs: []string{filepath.Join(t.TempDir(), "absent"), certs}})
	if err := headVia(host); err == nil || !strings.Contains(err.Error(), filepath.Join(host, "ca.crt")) {
		t.Fatalf("unknown CA: %v, want a failure that says where the CA goes", err)
	}
	os.MkdirAll(filepath.Join(certs, host), 0o755)
	os.WriteFile(filepath.Join(certs, host, "ca.crt"), ca.Cert, 0o644)
	useRegistries(t, &RegistryConfig{CertsDirs: []string{filepath.Join(t.TempDir(), "absent"), certs}})
	if err := headVia(host); err != nil {
		t.Fatalf("with ca.crt in certs.d: %v", err)
	}

	// mTLS: the CA alone is not enough; client.cert + client.key are.
	os.MkdirAll(filepath.Join(certs, mtlsHost), 0o755)
	os.WriteFile(filepath.Join(certs, mtlsHost, "ca.crt"), ca.Cert, 0o644)
	useRegistries(t, &RegistryConfig{CertsDirs: []string{certs}})
	if err := headVia(mtlsHost); err == nil {
		t.Fatal("mTLS registry answered without a client certificate")
	}
	clientCA.Issue(t, filepath.Join(certs, mtlsHost), "client", true)
	useRegistries(t, &RegistryConfig{CertsDirs: []string{certs}})
	if err := headVia(mtlsHost); err != nil {
		t.Fatalf("with client.cert/client.key: %v", err)
	}

	// A key without its certificate is an error, not silently ignored.
	os.Remove(filepath.Join(certs, mtlsHost, "client.cert"))
	useRegistries(t, &RegistryConfig{CertsDirs: []string{certs}})
	if err := headVia(mtlsHost); err == nil || !strings.Contains(err.Error(), "without its certificate") {
		t.Errorf("client.key alone: %v", err)
	}
}

func TestInsecureSkipsVerify(t *testing.T) {
	ca := testutil.NewCA(t)
	host := tlsRegistry(t, ca, nil)
	useRegistries(t, &RegistryConfig{CertsDirs: []string{t.TempDir()}})
	if err := headVia(host); err == nil {
		t.Fatal("an unknown CA was trusted")
	}
	useRegistries(t, &RegistryConfig{CertsDirs: []string{t.TempDir()}, Insecure: []string{host}})
	if err := headVia(host); err != nil {
		t.Fatalf("insecure registry: %v", err)
	}
}

func TestRegistryTransport(t *testing.T) {
	t.Setenv(InsecureRegistriesEnv, "")
	useRegistries(t, &RegistryConfig{Insecure: []string{"myreg.lan:5000", "10.9.9.9"}})
	inner := &okTransport{}
	rt := RegistryTransport(inner)
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://10.0.0.1:5000/v2/", true},
		{"http://127.0.0.1:5000/v2/", true},
		{"http://localhost:5000/v2/", true},
		{"http://[::1]:5000/v2/", true},
		{"http://10.0.0.1:5000/v2/", false},
		{"http://192.168.1.10/v2/", false},
		{"http://registry.example.com/v2/", false},
		{"http://myreg.lan:5000/v2/", true},
		{"http://10.9.9.9:5000/v2/", true},
	} {
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		before := inner.calls
		_, err := rt.RoundTrip(req)
		if tc.ok && (err != nil || inner.calls != before+1) {
			t.Errorf("%s: %v, want it sent", tc.url, err)
		}
		if !tc.ok && (!errors.Is(err, errdefs.ErrUnavailable) || inner.calls != before) {
			t.Errorf("%s: %v, want it refused", tc.url, err)
		}
	}
}

func TestMirrorTransport(t *testing.T) {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, _ := random.Image(512, 1)
	seed, _ := ParseReference(host + "/library/mirrored:v1")
	if err := remote.Write(seed, img); err != nil {
		t.Fatal(err)
	}
	useRegistries(t, &RegistryConfig{Mirrors: []string{srv.URL}})
	c, _ := Registries()
	ref, _ := ParseReference("mirrored:v1")
	if m := mirrorsFor(ref, nil); len(m) != 1 || m[0].Host != host {
		t.Fatalf("mirrorsFor(docker.io ref) = %v", m)
	}
	other, _ := ParseReference("quay.io/x/y:1")
	if m := mirrorsFor(other, nil); m != nil {
		t.Errorf("mirrors for quay.io: %v", m)
	}
	rt := RegistryTransport(&mirrorTransport{mirror: c.MirrorURLs()[0]})
	desc, err := remote.Head(ref, remote.WithTransport(rt))
	if err != nil {
		t.Fatalf("head through the mirror: %v", err)
	}
	want, _ := img.Digest()
	if desc.Digest != want || hits.Load() == 0 {
		t.Errorf("digest %s (want %s), mirror hits %d", desc.Digest, want, hits.Load())
	}
	if m := mirrorsFor(ref, &mirrorTransport{}); m != nil {
		t.Errorf("mirrors chosen again inside a mirrored pull: %v", m)
	}
}

func TestForRegistry(t *testing.T) {
	ca := testutil.NewCA(t)
	host := tlsRegistry(t, ca, nil)
	base := &RegistryConfig{CertsDirs: []string{t.TempDir()}, Mirrors: []string{"https://m.example"}}
	useRegistries(t, base)
	if err := headVia(host); err == nil {
		t.Fatal("an unknown CA was trusted")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.crt"), ca.Cert, 0o644)
	c, err := base.ForRegistry(host, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.MirrorURLs()) != 1 || c.IsInsecure(host) {
		t.Errorf("copy lost the mirrors or became insecure: %+v", c)
	}
	useRegistries(t, c)
	if err := headVia(host); err != nil {
		t.Fatalf("--cert-dir with the CA: %v", err)
	}
	c, err = base.ForRegistry(host, "", true)
	if err != nil {
		t.Fatal(err)
	}
	useRegistries(t, c)
	if err := headVia(host); err != nil || !c.IsInsecure(host) {
		t.Fatalf("--tls-verify=false: %v", err)
	}
	if _, err := base.ForRegistry(host, filepath.Join(dir, "ca.crt"), false); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("a file as --cert-dir: %v", err)
	}
}
