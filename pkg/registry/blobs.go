package registry

import (
	"fmt"
	"net/http"
	"time"

	"github.com/berth/berth/pkg/registry/storage"
)

func (r *Registry) getBlob(w http.ResponseWriter, req *http.Request, name, arg string) {
	d, err := storage.ParseDigest(arg)
	if err != nil {
		writeError(w, errDigestInvalid(err.Error()))
		return
	}
	f, fi, err := r.store.OpenBlob(name, d)
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
		h.Set("Content-Length", fmt.Sprint(fi.Size()))
		w.WriteHeader(http.StatusOK)
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
