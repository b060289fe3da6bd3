package registry

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth/berth/pkg/registry/storage"
)

func (r *Registry) getManifest(w http.ResponseWriter, req *http.Request, name, ref string) {
	if aerr := checkRef(ref); aerr != nil {
		writeError(w, *aerr)
		return
	}
	h := w.Header()
	if req.Method == http.MethodHead {
		d, mt, size, err := r.store.StatManifest(name, ref)
		if err != nil {
			writeError(w, storeError(err))
			return
		}
		h.Set("Content-Type", mt)
		h.Set("Docker-Content-Digest", d.String())
		h.Set("Etag", `"`+d.String()+`"`)
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	d, mt, data, err := r.store.GetManifest(name, ref)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	h.Set("Content-Type", mt)
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Etag", `"`+d.String()+`"`)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// checkRef validates a manifest reference: a tag or a digest.
func checkRef(ref string) *apiError {
	if strings.Contains(ref, ":") {
		if _, err := storage.ParseDigest(ref); err != nil {
			e := errDigestInvalid(err.Error())
			return &e
		}
		return nil
	}
	if !storage.ValidTag(ref) {
		e := errManifestInvalid(fmt.Sprintf("invalid tag %q", ref))
		e.Code = "TAG_INVALID"
		return &e
	}
	return nil
}

func (r *Registry) putManifest(w http.ResponseWriter, req *http.Request, name, ref string) {
	if aerr := checkRef(ref); aerr != nil {
		writeError(w, *aerr)
		return
	}
	if req.ContentLength > MaxManifestSize {
		writeError(w, errTooLarge(fmt.Sprintf("manifest is larger than %d bytes", MaxManifestSize)))
		return
	}
	data, err := io.ReadAll(io.LimitReader(req.Body, MaxManifestSize+1))
	if err != nil {
		writeError(w, errManifestInvalid("reading manifest: "+err.Error()))
		return
	}
	if len(data) > MaxManifestSize {
		writeError(w, errTooLarge(fmt.Sprintf("manifest is larger than %d bytes", MaxManifestSize)))
		return
	}
	var tags []string
	var d storage.Digest
	if strings.Contains(ref, ":") {
		want, _ := storage.ParseDigest(ref)
		d = storage.FromBytes(want.Algorithm(), data)
		if d != want {
			writeError(w, errDigestInvalid(fmt.Sprintf("manifest hashes to %s, not %s", d, want)))
			return
		}
	} else {
		d = storage.FromBytes("sha256", data)
		tags = append(tags, ref)
	}
	for _, t := range req.URL.Query()["tag"] {
		if !storage.ValidTag(t) {
			e := errManifestInvalid(fmt.Sprintf("invalid tag %q", t))
			e.Code = "TAG_INVALID"
			writeError(w, e)
			return
		}
		tags = append(tags, t)
	}
	ct := req.Header.Get("Content-Type")
	if ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			ct = mt
		}
	}
	m, mt, err := storage.ParseManifest(data, ct)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	err = r.store.PutManifest(name, d, mt, data, m, storage.PutManifestOptions{Tags: tags, AllowMissing: r.opts.AllowSparse})
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/manifests/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	if m.Subject != nil {
		h.Set("OCI-Subject", m.Subject.Digest)
	}
	if q := req.URL.Query()["tag"]; len(q) > 0 {
		h.Set("OCI-Tag", strings.Join(q, ","))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

func (r *Registry) deleteManifest(w http.ResponseWriter, _ *http.Request, name, ref string) {
	if aerr := checkRef(ref); aerr != nil {
		writeError(w, *aerr)
		return
	}
	var err error
	if strings.Contains(ref, ":") {
		err = r.store.DeleteManifest(name, storage.Digest(ref))
	} else {
		err = r.store.DeleteTag(name, ref)
	}
	if err != nil {
		if errors.Is(err, storage.ErrManifestUnknown) {
			writeError(w, errManifestUnknown(err.Error()))
			return
		}
		writeError(w, storeError(err))
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}
