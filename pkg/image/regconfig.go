package image

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/berth/berth/pkg/errdefs"
)

// Where berth's registry settings come from.
const (
	// DefaultConfigFile is the JSON file (shaped like docker's daemon.json)
	// with registry mirrors and insecure registries.
	DefaultConfigFile = "/etc/berth/daemon.json"
	// ConfigFileEnv names another file to read instead.
	ConfigFileEnv = "BERTH_CONFIG"
	// CertsDirsEnv lists certs.d directories (colon-separated) to read
	// instead of the default ones.
	CertsDirsEnv = "BERTH_CERTS_D"
)

// DefaultCertsDirs are where podman and docker keep per-registry TLS
// material: <dir>/<host[:port]>/*.crt (CAs), *.cert with *.key (client
// certificate). The first directory that has one for a host is used; a
// user other than root looks in ~/.config/containers/certs.d first.
var DefaultCertsDirs = []string{"/etc/containers/certs.d", "/etc/docker/certs.d"}

// RegistryConfig is how berth reaches registries: the keys of docker's
// daemon.json that concern pulling, plus where certs.d lives.
type RegistryConfig struct {
	// Mirrors are tried in order for Docker Hub images before Docker Hub
	// itself ("registry-mirrors": ["https://mirror.example"]).
	Mirrors []string `json:"registry-mirrors,omitempty"`
	// Insecure registries (host, host:port or CIDR) are reached over plain
	// HTTP, or over TLS without verifying the certificate.
	Insecure []string `json:"insecure-registries,omitempty"`
	// CertsDirs replace DefaultCertsDirs (berth's own key).
	CertsDirs []string `json:"certs-dirs,omitempty"`

	mirrors []*url.URL
	hosts   map[string]bool
	nets    []*net.IPNet
	// certDirs are certs directories given for one registry (--cert-dir).
	certDirs map[string]string

	mu  sync.Mutex
	tls map[string]*tls.Config
}

// ConfigFile returns the registry config file berth reads: $BERTH_CONFIG
// or DefaultConfigFile.
func ConfigFile() string {
	if p := os.Getenv(ConfigFileEnv); p != "" {
		return p
	}
	return DefaultConfigFile
}

// LoadRegistryConfig reads the registry config at path. A missing file at
// the default path is an empty config; a missing file named on purpose is
// an error. $BERTH_INSECURE_REGISTRIES adds insecure registries and
// $BERTH_CERTS_D replaces the certs.d directories.
func LoadRegistryConfig(path string) (*RegistryConfig, error) {
	c := &RegistryConfig{}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, c); err != nil {
			return nil, fmt.Errorf("registry config %s: %w: %v", path, errdefs.ErrInvalidArgument, err)
		}
	case errors.Is(err, fs.ErrNotExist) && path == DefaultConfigFile:
	default:
		return nil, fmt.Errorf("registry config: %w", err)
	}
	for _, h := range strings.Split(os.Getenv(InsecureRegistriesEnv), ",") {
		if h = strings.TrimSpace(h); h != "" {
			c.Insecure = append(c.Insecure, h)
		}
	}
	if env := os.Getenv(CertsDirsEnv); env != "" {
		c.CertsDirs = nil
		for _, d := range filepath.SplitList(env) {
			if d != "" {
				c.CertsDirs = append(c.CertsDirs, d)
			}
		}
	}
	if err := c.init(); err != nil {
		return nil, fmt.Errorf("registry config %s: %w", path, err)
	}
	return c, nil
}

// init validates the config and builds its lookup tables.
func (c *RegistryConfig) init() error {
	c.hosts = map[string]bool{}
	for _, h := range c.Insecure {
		h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(h, "http://"), "https://"), "/")
		if _, n, err := net.ParseCIDR(h); err == nil {
			c.nets = append(c.nets, n)
			continue
		}
		if h == "" || strings.ContainsAny(h, "/ ?#@") {
			return fmt.Errorf("insecure registry %q: want host, host:port or a CIDR: %w", h, errdefs.ErrInvalidArgument)
		}
		c.hosts[strings.ToLower(h)] = true
	}
	for _, m := range c.Mirrors {
		u, err := url.Parse(strings.TrimSpace(m))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("registry mirror %q: want http(s)://host[:port] with no path: %w", m, errdefs.ErrInvalidArgument)
		}
		c.mirrors = append(c.mirrors, &url.URL{Scheme: u.Scheme, Host: strings.ToLower(u.Host)})
	}
	if c.CertsDirs == nil {
		c.CertsDirs = DefaultCertsDirs
		// Rootless podman's per-user directory comes first, as there.
		if home, err := os.UserHomeDir(); err == nil && os.Geteuid() != 0 {
			c.CertsDirs = append([]string{filepath.Join(home, ".config", "containers", "certs.d")}, DefaultCertsDirs...)
		}
	}
	c.tls = map[string]*tls.Config{}
	return nil
}

// IsInsecure reports whether registry host[:port] may be reached over
// plain HTTP or unverified TLS: it is listed (with this port, or without
// one), or it is an IP address inside a listed CIDR.
func (c *RegistryConfig) IsInsecure(hostport string) bool {
	if c == nil {
		return false
	}
	hostport = strings.ToLower(hostport)
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if c.hosts[hostport] || c.hosts[host] {
		return true
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		for _, n := range c.nets {
			if n.Contains(ip) {
				return true
			}
		}
	}
	return false
}

// MirrorURLs returns the Docker Hub mirrors, in the order to try them.
func (c *RegistryConfig) MirrorURLs() []*url.URL {
	if c == nil {
		return nil
	}
	return c.mirrors
}

// TLSConfig returns the TLS client settings for registry host[:port], or
// nil when the defaults (system roots, no client certificate) apply.
func (c *RegistryConfig) TLSConfig(hostport string) (*tls.Config, error) {
	if c == nil {
		return nil, nil
	}
	hostport = strings.ToLower(hostport)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg, ok := c.tls[hostport]; ok {
		return cfg, nil
	}
	cfg, err := c.loadTLS(hostport)
	if err != nil {
		return nil, err
	}
	c.tls[hostport] = cfg
	return cfg, nil
}

func (c *RegistryConfig) loadTLS(hostport string) (*tls.Config, error) {
	var cfg *tls.Config
	if c.IsInsecure(hostport) {
		cfg = &tls.Config{InsecureSkipVerify: true}
	}
	dir := c.certsDir(hostport)
	if dir == "" {
		return cfg, nil
	}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.MinVersion = tls.VersionTLS12
	if err := loadCertsDir(cfg, dir); err != nil {
		return nil, fmt.Errorf("TLS settings for %s: %w", hostport, err)
	}
	return cfg, nil
}

// ForRegistry returns a copy of c in which registry hostport uses the CA
// and client certificate files directly in certDir (podman's --cert-dir;
// "" keeps certs.d) and, with skipVerify, is insecure (podman's
// --tls-verify=false).
func (c *RegistryConfig) ForRegistry(hostport, certDir string, skipVerify bool) (*RegistryConfig, error) {
	n := &RegistryConfig{}
	if c != nil {
		n.Mirrors = append(n.Mirrors, c.Mirrors...)
		n.Insecure = append(n.Insecure, c.Insecure...)
		n.CertsDirs = append(n.CertsDirs, c.CertsDirs...)
	}
	hostport = strings.ToLower(hostport)
	if skipVerify {
		n.Insecure = append(n.Insecure, hostport)
	}
	if err := n.init(); err != nil {
		return nil, err
	}
	n.certDirs = map[string]string{}
	if c != nil {
		for k, v := range c.certDirs {
			n.certDirs[k] = v
		}
	}
	if certDir != "" {
		fi, err := os.Stat(certDir)
		if err != nil {
			return nil, fmt.Errorf("certificate directory: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("certificate directory %s: not a directory: %w", certDir, errdefs.ErrInvalidArgument)
		}
		n.certDirs[hostport] = certDir
	}
	return n, nil
}

// certsDir returns the directory with hostport's TLS files: one given for
// it, else the first <certs dir>/<host[:port]> that exists.
func (c *RegistryConfig) certsDir(hostport string) string {
	if d, ok := c.certDirs[hostport]; ok {
		return d
	}
	if hostport == "" || hostport == "." || hostport == ".." || strings.ContainsAny(hostport, `/\`) {
		return ""
	}
	for _, d := range c.CertsDirs {
		p := filepath.Join(d, hostport)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p
		}
	}
	return ""
}

// loadCertsDir adds dir's CAs (*.crt, on top of the system roots) and
// client key pairs (X.cert with X.key) to cfg, as docker and podman do.
func loadCertsDir(cfg *tls.Config, dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	has := map[string]bool{}
	for _, n := range names {
		has[n] = true
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		switch {
		case strings.HasSuffix(n, ".crt"):
			pem, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if cfg.RootCAs == nil {
				if cfg.RootCAs, err = x509.SystemCertPool(); err != nil || cfg.RootCAs == nil {
					cfg.RootCAs = x509.NewCertPool()
				}
			}
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("%s: no PEM certificate: %w", p, errdefs.ErrInvalidArgument)
			}
		case strings.HasSuffix(n, ".cert"):
			key := strings.TrimSuffix(n, ".cert") + ".key"
			if !has[key] {
				return fmt.Errorf("%s: client certificate without its key %s: %w", p, key, errdefs.ErrInvalidArgument)
			}
			pair, err := tls.LoadX509KeyPair(p, filepath.Join(dir, key))
			if err != nil {
				return fmt.Errorf("%s: %w: %v", p, errdefs.ErrInvalidArgument, err)
			}
			cfg.Certificates = append(cfg.Certificates, pair)
		case strings.HasSuffix(n, ".key"):
			if !has[strings.TrimSuffix(n, ".key")+".cert"] {
				return fmt.Errorf("%s: client key without its certificate %s.cert: %w", p, strings.TrimSuffix(n, ".key"), errdefs.ErrInvalidArgument)
			}
		}
	}
	return nil
}

var (
	defaultConfigMu  sync.Mutex
	defaultConfig    *RegistryConfig
	defaultConfigErr error
	defaultConfigSet bool
)

// Registries returns the process-wide registry config: the one given to
// SetRegistries, else ConfigFile() loaded on first use.
func Registries() (*RegistryConfig, error) {
	defaultConfigMu.Lock()
	defer defaultConfigMu.Unlock()
	if !defaultConfigSet {
		defaultConfig, defaultConfigErr = LoadRegistryConfig(ConfigFile())
		defaultConfigSet = true
	}
	return defaultConfig, defaultConfigErr
}

// SetRegistries makes c the process-wide registry config (nil: load it
// again from ConfigFile() on next use).
func SetRegistries(c *RegistryConfig) error {
	if c != nil && c.hosts == nil {
		if err := c.init(); err != nil {
			return err
		}
	}
	defaultConfigMu.Lock()
	defer defaultConfigMu.Unlock()
	defaultConfig, defaultConfigErr, defaultConfigSet = c, nil, c != nil
	return nil
}
