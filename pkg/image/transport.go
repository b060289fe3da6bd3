package image

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth/berth/pkg/errdefs"
)

// InsecureRegistriesEnv names the environment variable that lists
// registries (host[:port], comma-separated) berth may reach over plain
// HTTP although they are not on a loopback address.
const InsecureRegistriesEnv = "BERTH_INSECURE_REGISTRIES"

// RegistryTransport wraps rt (nil: go-containerregistry's default) so that
// plain HTTP is used only with loopback registries and those listed in
// BERTH_INSECURE_REGISTRIES. go-containerregistry by itself also falls back
// to HTTP for RFC 1918 and .local hosts, which docker does not: a network
// attacker there could strip TLS.
func RegistryTransport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = remote.DefaultTransport
	}
	if _, ok := rt.(*tlsOnly); ok {
		return rt
	}
	return &tlsOnly{inner: rt, insecure: insecureRegistries()}
}

func insecureRegistries() map[string]bool {
	m := map[string]bool{}
	for _, h := range strings.Split(os.Getenv(InsecureRegistriesEnv), ",") {
		if h = strings.TrimSpace(h); h != "" {
			m[h] = true
		}
	}
	return m
}

type tlsOnly struct {
	inner    http.RoundTripper
	insecure map[string]bool
}

func (t *tlsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !IsLoopback(req.URL.Host) && !t.insecure[req.URL.Host] && !t.insecure[req.URL.Hostname()] {
		return nil, fmt.Errorf("refusing plain HTTP to %s: only loopback registries are reached without TLS (list it in %s to allow it): %w",
			req.URL.Host, InsecureRegistriesEnv, errdefs.ErrUnavailable)
	}
	return t.inner.RoundTrip(req)
}
