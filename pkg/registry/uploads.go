package registry

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth/berth/pkg/registry/storage"
)

func uploadLocation(name, id string) string { return "/v2/" + name + "/blobs/uploads/" + id }

func blobLocation(name string, d storage.Digest) string {
	return "/v2/" + name + "/blobs/" + d.String()
}

// contentLength is the request's declared body length, or -1.
func contentLength(req *http.Request) int64 {
	if req.ContentLength < 0 {
		return -1
	}
	return req.ContentLength
}

// parseContentRange reads a chunk's "start-end" (or "bytes start-end")
// Content-Range. It returns start -1 when the header is absent.
func parseContentRange(v string) (start, end int64, err error) {
	if v == "" {
		return -1, -1, nil
	}
	v = strings.TrimPrefix(strings.TrimSpace(v), "bytes ")
	v, _, _ = strings.Cut(v, "/")
	a, b, ok := strings.Cut(v, "-")
	if !ok {
		return 0, 0, fmt.Errorf("malformed Content-Range %q", v)
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, fmt.Errorf("malformed Content-Range %q", v)
	}
	return start, end, nil
}

// chunkBounds validates Content-Range against Content-Length and returns the
// start offset (-1: append) and the expected length (-1: unknown).
func chunkBounds(req *http.Request) (int64, int64, *apiError) {
	start, end, err := parseContentRange(req.Header.Get("Content-Range"))
	if err != nil {
		e := errRangeInvalid(err.Error())
		return 0, 0, &e
	}
	length := contentLength(req)
	if start >= 0 {
		if length >= 0 && length != end-start+1 {
			e := errSizeInvalid(fmt.Sprintf("Content-Range %d-%d does not match Content-Length %d", start, end, length))
			return 0, 0, &e
		}
		length = end - start + 1
	}
	return start, length, nil
}

func setUploadHeaders(w http.ResponseWriter, name, id string, size int64) {
	h := w.Header()
	h.Set("Location", uploadLocation(name, id))
	h.Set("Docker-Upload-UUID", id)
	end := size - 1
	if end < 0 {
		end = 0
	}
	h.Set("Range", fmt.Sprintf("0-%d", end))
	h.Set("Content-Length", "0")
}

func (r *Registry) startUpload(w http.ResponseWriter, req *http.Request, name string) {
	q := req.URL.Query()
	if m := q.Get("mount"); m != "" {
		d, err := storage.ParseDigest(m)
		if err != nil {
			writeError(w, errDigestInvalid(err.Error()))
			return
		}
		from := q.Get("from")
		if from != "" && !storage.ValidName(from) {
			writeError(w, errNameInvalid(fmt.Sprintf("invalid repository name %q", from)))
			return
		}
		if _, err := r.store.MountBlob(name, from, d); err == nil {
			w.Header().Set("Location", blobLocation(name, d))
			w.Header().Set("Docker-Content-Digest", d.String())
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusCreated)
			return
		}
		// Nothing to mount: fall back to a regular upload session, as the spec says.
	}
	if dg := q.Get("digest"); dg != "" {
		d, err := storage.ParseDigest(dg)
		if err != nil {
			writeError(w, errDigestInvalid(err.Error()))
			return
		}
		if err := r.store.PutBlob(name, d, contentLength(req), req.Body); err != nil {
			writeError(w, storeError(err))
			return
		}
		r.metrics.blobPushed()
		w.Header().Set("Location", blobLocation(name, d))
		w.Header().Set("Docker-Content-Digest", d.String())
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusCreated)
		return
	}
	id, err := r.store.NewUpload(name)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	setUploadHeaders(w, name, id, 0)
	w.WriteHeader(http.StatusAccepted)
}

func (r *Registry) uploadStatus(w http.ResponseWriter, _ *http.Request, name, id string) {
	size, err := r.store.UploadSize(name, id)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	setUploadHeaders(w, name, id, size)
	w.WriteHeader(http.StatusNoContent)
}

func (r *Registry) patchUpload(w http.ResponseWriter, req *http.Request, name, id string) {
	start, length, aerr := chunkBounds(req)
	if aerr != nil {
		writeError(w, *aerr)
		return
	}
	size, err := r.store.AppendUpload(name, id, start, length, req.Body)
	if err != nil {
		if e := storeError(err); e.status == http.StatusRequestedRangeNotSatisfiable {
			setUploadHeaders(w, name, id, size)
			writeError(w, e)
			return
		}
		writeError(w, storeError(err))
		return
	}
	setUploadHeaders(w, name, id, size)
	w.WriteHeader(http.StatusAccepted)
}

func (r *Registry) putUpload(w http.ResponseWriter, req *http.Request, name, id string) {
	d, err := storage.ParseDigest(req.URL.Query().Get("digest"))
	if err != nil {
		writeError(w, errDigestInvalid(err.Error()))
		return
	}
	start, length, aerr := chunkBounds(req)
	if aerr != nil {
		writeError(w, *aerr)
		return
	}
	var body = req.Body
	if length == 0 || req.ContentLength == 0 && start < 0 {
		body = nil
	}
	if body == nil {
		err = r.store.CommitUpload(name, id, d, -1, -1, nil)
	} else {
		err = r.store.CommitUpload(name, id, d, start, length, body)
	}
	if err != nil {
		e := storeError(err)
		if e.status == http.StatusRequestedRangeNotSatisfiable {
			if size, serr := r.store.UploadSize(name, id); serr == nil {
				setUploadHeaders(w, name, id, size)
			}
		}
		writeError(w, e)
		return
	}
	r.metrics.blobPushed()
	w.Header().Set("Location", blobLocation(name, d))
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

func (r *Registry) cancelUpload(w http.ResponseWriter, _ *http.Request, name, id string) {
	if err := r.store.CancelUpload(name, id); err != nil {
		writeError(w, storeError(err))
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}
