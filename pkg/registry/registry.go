// Package registry is an OCI distribution-spec v1.1 registry server: an
// http.Handler over a storage.Store, with Basic auth, access logs, Prometheus
// metrics and garbage collection while serving.
package registry

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/berth/berth/pkg/registry/storage"
)

// MaxManifestSize is the largest manifest accepted (the spec asks for at least 4 MiB).
const MaxManifestSize = 4 << 20

// Authenticator checks a user's password.
type Authenticator interface {
	Authenticate(user, password string) bool
}

// Options configure a Registry.
type Options struct {
	// Store holds the content. Required.
	Store *storage.Store
	// Auth, when set, requires HTTP Basic credentials on every /v2/ request.
	Auth Authenticator
	// AnonymousPull lets requests without credentials read (GET, HEAD)
	// when Auth is set.
	AnonymousPull bool
	// ReadOnly refuses every request that would change the store.
	ReadOnly bool
	// AllowSparse accepts manifests that reference blobs or manifests the
	// repository does not hold. By default such manifests are refused with
	// MANIFEST_BLOB_UNKNOWN.
	AllowSparse bool
	// AccessLog receives one structured record per request; nil logs nothing.
	AccessLog *slog.Logger
}

// Registry serves the distribution API. It implements http.Handler.
type Registry struct {
	opts    Options
	store   *storage.Store
	metrics *metrics
	mux     *http.ServeMux
}

var _ http.Handler = (*Registry)(nil)

// New builds a registry over opts.Store.
func New(opts Options) (*Registry, error) {
	if opts.Store == nil {
		return nil, fmt.Errorf("registry: no store")
	}
	r := &Registry{opts: opts, store: opts.Store, metrics: newMetrics()}
	r.mux = http.NewServeMux()
	r.mux.Handle("/metrics", r.metrics)
	r.mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if err := r.store.Check(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("storage unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return r, nil
}

// ServeHTTP routes a request.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	route := r.serve(sw, req)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	r.metrics.observe(req.Method, route, sw.status, sw.bytes, time.Since(start))
	if r.opts.AccessLog != nil {
		h := r.opts.AccessLog.Handler()
		if h.Enabled(req.Context(), slog.LevelInfo) {
			// A record without a caller PC: slog's Logger methods walk the
			// stack for one, which showed in the profile of small requests.
			rec := slog.NewRecord(start, slog.LevelInfo, "request", 0)
			rec.AddAttrs(
				slog.String("method", req.Method),
				slog.String("path", req.URL.Path),
				slog.String("route", route),
				slog.Int("status", sw.status),
				slog.Int64("bytes", sw.bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("remote", req.RemoteAddr),
				slog.String("user", sw.user),
			)
			_ = h.Handle(req.Context(), rec)
		}
	}
}

// serve handles the request and returns its route name (for metrics and logs).
func (r *Registry) serve(w *statusWriter, req *http.Request) string {
	p := req.URL.Path
	if p != "/v2" && !strings.HasPrefix(p, "/v2/") {
		r.mux.ServeHTTP(w, req)
		return "other"
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if !r.authorize(w, req) {
		return "auth"
	}
	write := req.Method != http.MethodGet && req.Method != http.MethodHead
	if write && r.opts.ReadOnly {
		writeError(w, errUnsupported("the registry is read-only"))
		return "readonly"
	}
	rt := parseRoute(strings.TrimPrefix(p, "/v2"))
	if rt.kind != routeBase && rt.kind != routeCatalog && rt.kind != routeUnknown && !storage.ValidName(rt.name) {
		writeError(w, errNameInvalid(fmt.Sprintf("invalid repository name %q", rt.name)))
		return rt.kind.String()
	}
	switch rt.kind {
	case routeBase:
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			break
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
		return "base"
	case routeCatalog:
		if req.Method == http.MethodGet {
			r.catalog(w, req)
			return "catalog"
		}
	case routeTags:
		if req.Method == http.MethodGet {
			r.tagsList(w, req, rt.name)
			return "tags"
		}
	case routeManifest:
		switch req.Method {
		case http.MethodGet, http.MethodHead:
			r.getManifest(w, req, rt.name, rt.arg)
		case http.MethodPut:
			r.putManifest(w, req, rt.name, rt.arg)
		case http.MethodDelete:
			r.deleteManifest(w, req, rt.name, rt.arg)
		default:
			writeError(w, errUnsupported("method not allowed"))
		}
		return "manifest"
	case routeBlob:
		switch req.Method {
		case http.MethodGet, http.MethodHead:
			r.getBlob(w, req, rt.name, rt.arg)
			return "blob"
		case http.MethodDelete:
			r.deleteBlob(w, req, rt.name, rt.arg)
			return "blob"
		}
	case routeUploadStart:
		if req.Method == http.MethodPost {
			r.startUpload(w, req, rt.name)
			return "upload"
		}
	case routeUpload:
		switch req.Method {
		case http.MethodGet:
			r.uploadStatus(w, req, rt.name, rt.arg)
		case http.MethodPatch:
			r.patchUpload(w, req, rt.name, rt.arg)
		case http.MethodPut:
			r.putUpload(w, req, rt.name, rt.arg)
		case http.MethodDelete:
			r.cancelUpload(w, req, rt.name, rt.arg)
		default:
			writeError(w, errUnsupported("method not allowed"))
		}
		return "upload"
	case routeReferrers:
		if req.Method == http.MethodGet {
			r.referrers(w, req, rt.name, rt.arg)
			return "referrers"
		}
	default:
		writeError(w, errNotFound("no such endpoint"))
		return "unknown"
	}
	writeError(w, errUnsupported("method not allowed"))
	return rt.kind.String()
}

type routeKind int

const (
	routeUnknown routeKind = iota
	routeBase
	routeCatalog
	routeTags
	routeManifest
	routeBlob
	routeUploadStart
	routeUpload
	routeReferrers
)

func (k routeKind) String() string {
	return [...]string{"unknown", "base", "catalog", "tags", "manifest", "blob", "upload", "upload", "referrers"}[k]
}

type route struct {
	kind routeKind
	name string
	arg  string
}

// parseRoute splits the path after /v2 into endpoint, repository name and
// argument. Names may hold '/', so the endpoint is found from the right.
func parseRoute(p string) route {
	if p == "" || p == "/" {
		return route{kind: routeBase}
	}
	if p == "/_catalog" {
		return route{kind: routeCatalog}
	}
	p = strings.TrimPrefix(p, "/")
	if name, ok := strings.CutSuffix(p, "/tags/list"); ok {
		return route{kind: routeTags, name: name}
	}
	if name, ok := strings.CutSuffix(p, "/blobs/uploads/"); ok {
		return route{kind: routeUploadStart, name: name}
	}
	if name, ok := strings.CutSuffix(p, "/blobs/uploads"); ok {
		return route{kind: routeUploadStart, name: name}
	}
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return route{}
	}
	head, arg := p[:i], p[i+1:]
	j := strings.LastIndexByte(head, '/')
	if j < 0 {
		return route{}
	}
	name, verb := head[:j], head[j+1:]
	switch verb {
	case "manifests":
		return route{kind: routeManifest, name: name, arg: arg}
	case "blobs":
		return route{kind: routeBlob, name: name, arg: arg}
	case "referrers":
		return route{kind: routeReferrers, name: name, arg: arg}
	case "uploads":
		if n, ok := strings.CutSuffix(name, "/blobs"); ok {
			return route{kind: routeUpload, name: n, arg: arg}
		}
	}
	return route{}
}

// statusWriter records the status and size of a response. It forwards
// ReadFrom so large blobs still go out with sendfile.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	user   string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(w.ResponseWriter, r)
	}
	w.bytes += n
	return n, err
}

var _ io.ReaderFrom = (*statusWriter)(nil)

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
