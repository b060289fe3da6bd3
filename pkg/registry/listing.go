package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/berth/berth/pkg/registry/storage"
)

// maxPage bounds one page of a listing when the client asks for none or more.
const maxPage = 1000

// paginate applies the spec's n and last parameters to a sorted list. It
// returns the page and whether more entries follow.
func paginate(all []string, q url.Values) ([]string, int, bool, *apiError) {
	n := -1
	if v := q.Get("n"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		if err != nil || n < 0 {
			e := errPagination(fmt.Sprintf("invalid n %q", v))
			return nil, 0, false, &e
		}
	}
	if last := q.Get("last"); last != "" {
		i := sort.SearchStrings(all, last)
		if i < len(all) && all[i] == last {
			i++
		}
		all = all[i:]
	}
	if n == 0 {
		return []string{}, 0, false, nil
	}
	limit := n
	if limit < 0 || limit > maxPage {
		limit = maxPage
		if n < 0 {
			n = maxPage
		}
	}
	if len(all) > limit {
		return all[:limit], limit, true, nil
	}
	return all, limit, false, nil
}

func writeJSON(w http.ResponseWriter, ct string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, apiError{http.StatusInternalServerError, "UNKNOWN", err.Error(), nil})
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func nextLink(path string, n int, last string) string {
	q := url.Values{"n": {strconv.Itoa(n)}, "last": {last}}
	return fmt.Sprintf(`<%s?%s>; rel="next"`, path, q.Encode())
}

func (r *Registry) catalog(w http.ResponseWriter, req *http.Request) {
	all, err := r.store.Repositories()
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	page, n, more, aerr := paginate(all, req.URL.Query())
	if aerr != nil {
		writeError(w, *aerr)
		return
	}
	if more {
		w.Header().Set("Link", nextLink("/v2/_catalog", n, page[len(page)-1]))
	}
	writeJSON(w, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{page})
}

func (r *Registry) tagsList(w http.ResponseWriter, req *http.Request, name string) {
	all, err := r.store.Tags(name)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	page, n, more, aerr := paginate(all, req.URL.Query())
	if aerr != nil {
		writeError(w, *aerr)
		return
	}
	if more {
		w.Header().Set("Link", nextLink("/v2/"+name+"/tags/list", n, page[len(page)-1]))
	}
	writeJSON(w, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, page})
}

func (r *Registry) referrers(w http.ResponseWriter, req *http.Request, name, arg string) {
	d, err := storage.ParseDigest(arg)
	if err != nil {
		writeError(w, errDigestInvalid(err.Error()))
		return
	}
	descs, err := r.store.Referrers(name, d)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	if at := req.URL.Query().Get("artifactType"); at != "" {
		kept := descs[:0]
		for _, desc := range descs {
			if desc.ArtifactType == at {
				kept = append(kept, desc)
			}
		}
		descs = kept
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	writeJSON(w, storage.MediaTypeOCIIndex, struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType"`
		Manifests     []storage.Descriptor `json:"manifests"`
	}{2, storage.MediaTypeOCIIndex, descs})
}
