package registry

import (
	"net/http"
	"strconv"
	"time"

	"github.com/berth/berth/pkg/registry/storage"
)

func (r *Registry) getBlob(w http.ResponseWriter, req *http.Request, name, arg string) {
	d, err := storage.ParseDigest(arg)
	if err != nil {
		writeError(w, errDigestInvalid(err.Error()))
		return
	}
	f, size, err := r.store.OpenBlob(name, d)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Etag", `"`+d.String()+`"`)
	h.Set("Cache-Control", "max-age=31536000")
	if req.Method == http.MethodHead {
		h.Set("Accept-Ranges", "bytes")
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	if b, ok := f.(interface{ Bytes() []byte }); ok && req.Header.Get("Range") == "" {
		// Small and cached: headers and body leave in one write.
		h.Set("Content-Length", strconv.Itoa(len(b.Bytes())))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b.Bytes())
		return
	}
	// ServeContent answers Range requests (206, 416) and uses sendfile.
	http.ServeContent(w, req, "", time.Time{}, f)
}

func (r *Registry) deleteBlob(w http.ResponseWriter, _ *http.Request, name, arg string) {
	d, err := storage.ParseDigest(arg)
	if err != nil {
		writeError(w, errDigestInvalid(err.Error()))
		return
	}
	if err := r.store.DeleteBlob(name, d); err != nil {
		writeError(w, storeError(err))
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}
