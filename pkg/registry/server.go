package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/registry/storage"
)

// Duration is a time.Duration that reads and writes as "90s", "1h".
type Duration time.Duration

// UnmarshalJSON accepts a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"1h\": %w", errdefs.ErrInvalidArgument)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %v: %w", s, err, errdefs.ErrInvalidArgument)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Config is everything `berth registry serve` can be told, from flags or a
// JSON file.
type Config struct {
	// Addr is the listen address, host:port.
	Addr string `json:"addr,omitempty"`
	// Root is the storage directory.
	Root string `json:"root,omitempty"`
	// Htpasswd is a file of bcrypt users; empty means no authentication.
	Htpasswd string `json:"htpasswd,omitempty"`
	// AnonymousPull lets unauthenticated clients pull when Htpasswd is set.
	AnonymousPull bool `json:"anonymousPull,omitempty"`
	// TLSCert and TLSKey serve HTTPS.
	TLSCert string `json:"tlsCert,omitempty"`
	TLSKey  string `json:"tlsKey,omitempty"`
	// ReadOnly refuses pushes and deletes.
	ReadOnly bool `json:"readOnly,omitempty"`
	// AllowSparse accepts manifests whose blobs are not in the repository.
	AllowSparse bool `json:"allowSparse,omitempty"`
	// NoAccessLog turns off the per-request log records.
	NoAccessLog bool `json:"noAccessLog,omitempty"`
	// GCInterval runs garbage collection this often while serving (0: never).
	GCInterval Duration `json:"gcInterval,omitempty"`
	// GCGrace is how recent a blob, manifest or upload may be and still be
	// spared by collection; it bounds how long a push may take between
	// checking for a blob and committing a manifest that references it.
	GCGrace Duration `json:"gcGrace,omitempty"`
	// UploadTTL is how long an idle upload session lives.
	UploadTTL Duration `json:"uploadTTL,omitempty"`
}

// Defaults for Config fields left empty.
const (
	DefaultAddr      = "127.0.0.1:5000"
	DefaultGCGrace   = time.Hour
	DefaultUploadTTL = 24 * time.Hour
)

// LoadConfig reads a JSON configuration file.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("reading registry config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("registry config %s: %v: %w", path, err, errdefs.ErrInvalidArgument)
	}
	return c, nil
}

func (c *Config) defaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.GCGrace <= 0 {
		c.GCGrace = Duration(DefaultGCGrace)
	}
	if c.UploadTTL <= 0 {
		c.UploadTTL = Duration(DefaultUploadTTL)
	}
}

// GCOptions are the collection settings the config implies.
func (c Config) GCOptions(dryRun bool) storage.GCOptions {
	c.defaults()
	return storage.GCOptions{DryRun: dryRun, Grace: time.Duration(c.GCGrace), UploadTTL: time.Duration(c.UploadTTL)}
}

// ServeOptions are the process-level parts of Serve: where logs go and who
// hears that the server is up.
type ServeOptions struct {
	// Log receives the server's own messages (start, gc, errors). Required.
	Log *slog.Logger
	// AccessLog receives one JSON record per request, unless
	// Config.NoAccessLog; nil means none.
	AccessLog io.Writer
	// Ready, if set, is called with the bound address once the server
	// accepts connections.
	Ready func(addr string)
}

// Serve runs a registry as configured until ctx ends.
func Serve(ctx context.Context, c Config, so ServeOptions) error {
	log := so.Log
	c.defaults()
	if c.Root == "" {
		return fmt.Errorf("registry: no storage root: %w", errdefs.ErrInvalidArgument)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("registry: --tls-cert and --tls-key go together: %w", errdefs.ErrInvalidArgument)
	}
	st, err := storage.Open(c.Root, storage.WithLeaseRefresh(time.Duration(c.GCGrace)/4))
	if err != nil {
		return err
	}
	opts := Options{Store: st, AnonymousPull: c.AnonymousPull, ReadOnly: c.ReadOnly, AllowSparse: c.AllowSparse}
	if c.Htpasswd != "" {
		h, err := LoadHtpasswd(c.Htpasswd)
		if err != nil {
			return err
		}
		opts.Auth = h
	}
	if !c.NoAccessLog && so.AccessLog != nil {
		access, closeAccess := NewAccessLog(so.AccessLog)
		defer closeAccess()
		opts.AccessLog = access
	}
	reg, err := New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("registry: listening on %s: %w", c.Addr, errors.Join(err, errdefs.ErrUnavailable))
	}
	srv := &http.Server{Handler: reg, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() {
		if c.TLSCert != "" {
			errc <- srv.ServeTLS(ln, c.TLSCert, c.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	log.Info("registry serving", "addr", ln.Addr().String(), "root", st.Root(), "tls", c.TLSCert != "", "auth", c.Htpasswd != "")
	if so.Ready != nil {
		so.Ready(ln.Addr().String())
	}
	if c.GCInterval > 0 && !c.ReadOnly {
		go reg.collectEvery(ctx, time.Duration(c.GCInterval), c.GCOptions(false), log)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("registry: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// Collect runs one garbage collection over the registry's store while it
// keeps serving, and records it in the metrics.
func (r *Registry) Collect(ctx context.Context, o storage.GCOptions) (storage.GCReport, error) {
	rep, err := r.store.GC(ctx, o)
	if err == nil && !o.DryRun {
		r.metrics.gcRuns.add(1)
		r.metrics.gcBlobs.add(float64(rep.BlobsRemoved))
		r.metrics.gcBytes.add(float64(rep.BytesRemoved))
	}
	return rep, err
}

func (r *Registry) collectEvery(ctx context.Context, every time.Duration, o storage.GCOptions, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := r.Collect(ctx, o)
		if err != nil {
			log.Warn("registry garbage collection failed", "err", err)
			continue
		}
		log.Info("registry garbage collection", "blobsRemoved", rep.BlobsRemoved, "bytesRemoved", rep.BytesRemoved,
			"manifestsRemoved", rep.ManifestsRemoved, "uploadsRemoved", rep.UploadsRemoved)
	}
}
