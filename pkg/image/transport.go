package image

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth/berth/pkg/credentials"
	"github.com/berth/berth/pkg/errdefs"
)

// InsecureRegistriesEnv names the environment variable that lists
// registries (host[:port], comma-separated) berth may reach over plain
// HTTP although they are not on a loopback address. They add to the
// config file's "insecure-registries".
const InsecureRegistriesEnv = "BERTH_INSECURE_REGISTRIES"

// RegistryTransport wraps rt (nil: go-containerregistry's default) with
// the process-wide registry config (Registries): plain HTTP is used only
// with loopback registries and insecure ones (go-containerregistry by
// itself also falls back to HTTP for RFC 1918 and .local hosts, which
// docker does not: a network attacker there could strip TLS); TLS to a
// registry uses its certs.d CAs and client certificate, or skips
// verification when the registry is insecure.
func RegistryTransport(rt http.RoundTripper) http.RoundTripper {
	if _, ok := rt.(*registryTransport); ok {
		return rt
	}
	t := &registryTransport{}
	if m, ok := rt.(*mirrorTransport); ok {
		t.mirror, rt = m.mirror, m.inner
	}
	if rt == nil {
		rt = remote.DefaultTransport
	}
	t.inner = rt
	t.cfg, t.err = Registries()
	return t
}

// registryTransport applies a RegistryConfig to each request.
type registryTransport struct {
	inner  http.RoundTripper
	cfg    *RegistryConfig
	err    error
	mirror *url.URL
}

func (t *registryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.err != nil {
		return nil, t.err
	}
	if t.mirror != nil && isDockerHubHost(req.URL.Host) {
		r := req.Clone(req.Context())
		r.URL.Scheme, r.URL.Host, r.Host = t.mirror.Scheme, t.mirror.Host, ""
		req = r
	}
	host := req.URL.Host
	if req.URL.Scheme == "http" && !IsLoopback(host) && !t.cfg.IsInsecure(host) && !(t.mirror != nil && host == t.mirror.Host) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: only loopback registries are reached without TLS (list it in \"insecure-registries\" in %s or in %s to allow it): %w",
			host, ConfigFile(), InsecureRegistriesEnv, errdefs.ErrUnavailable)
	}
	inner := t.inner
	if req.URL.Scheme == "https" {
		cfg, err := t.cfg.TLSConfig(host)
		if err != nil {
			return nil, err
		}
		if cfg != nil {
			if inner, err = tlsTransport(t.inner, cfg); err != nil {
				return nil, fmt.Errorf("%s: %w", host, err)
			}
		}
	}
	resp, err := inner.RoundTrip(req)
	if err != nil {
		err = t.hint(host, err)
	}
	return resp, err
}

// hint adds what the user can do about a TLS failure with host.
func (t *registryTransport) hint(host string, err error) error {
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var invalid x509.CertificateInvalidError
	dirs := "<certs.d>"
	if t.cfg != nil && len(t.cfg.CertsDirs) > 0 {
		dirs = t.cfg.CertsDirs[0]
	}
	switch {
	case errors.Is(err, http.ErrSchemeMismatch):
		return fmt.Errorf("%w (the registry speaks plain HTTP: list %s in \"insecure-registries\" in %s to allow it)", err, host, ConfigFile())
	case errors.As(err, &unknownCA), errors.As(err, &badHost), errors.As(err, &invalid):
		return fmt.Errorf("%w (put the registry's CA certificate in %s, or list %s in \"insecure-registries\" in %s)",
			err, filepath.Join(dirs, host, "ca.crt"), host, ConfigFile())
	}
	return err
}

// AllowsPlainHTTP reports whether registry hostport may be reached over
// plain HTTP: a loopback or insecure registry.
func (t *registryTransport) AllowsPlainHTTP(hostport string) bool {
	return IsLoopback(hostport) || t.cfg.IsInsecure(hostport)
}

var (
	_ http.RoundTripper           = (*registryTransport)(nil)
	_ http.RoundTripper           = (*mirrorTransport)(nil)
	_ credentials.PlainHTTPPolicy = (*registryTransport)(nil)
)

// isDockerHubHost reports whether host is one of Docker Hub's registry
// names (what go-containerregistry calls docker.io).
func isDockerHubHost(host string) bool {
	return host == "index.docker.io" || host == "registry-1.docker.io" || host == "docker.io"
}

var tlsTransports sync.Map // tlsKey -> *http.Transport

type tlsKey struct {
	base *http.Transport
	cfg  *tls.Config
}

// tlsTransport returns base with TLS settings cfg, one per (base, cfg)
// so that connections are reused.
func tlsTransport(base http.RoundTripper, cfg *tls.Config) (http.RoundTripper, error) {
	ht, ok := base.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("custom TLS settings need an *http.Transport, have %T: %w", base, errdefs.ErrNotImplemented)
	}
	k := tlsKey{ht, cfg}
	if v, ok := tlsTransports.Load(k); ok {
		return v.(*http.Transport), nil
	}
	c := ht.Clone()
	tc := cfg.Clone()
	if c.TLSClientConfig != nil && c.TLSClientConfig.ServerName != "" {
		tc.ServerName = c.TLSClientConfig.ServerName
	}
	c.TLSClientConfig = tc
	v, _ := tlsTransports.LoadOrStore(k, c)
	return v.(*http.Transport), nil
}

// mirrorTransport marks a transport that sends Docker Hub requests to a
// mirror (nil mirror: to Docker Hub itself, no more mirrors).
type mirrorTransport struct {
	mirror *url.URL
	inner  http.RoundTripper
}

func (m *mirrorTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return RegistryTransport(m).RoundTrip(req)
}
