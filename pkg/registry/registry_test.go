package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth/berth/pkg/registry"
	"github.com/berth/berth/pkg/registry/storage"
)

func sha(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// testRegistry is a registry over a fresh store, called in-process.
type testRegistry struct {
	t     *testing.T
	root  string
	store *storage.Store
	reg   *registry.Registry
}

func newTestRegistry(t *testing.T, opts registry.Options) *testRegistry {
	t.Helper()
	root := t.TempDir()
	return openTestRegistry(t, root, opts)
}

func openTestRegistry(t *testing.T, root string, opts registry.Options) *testRegistry {
	t.Helper()
	st, err := storage.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	opts.Store = st
	reg, err := registry.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &testRegistry{t: t, root: root, store: st, reg: reg}
}

// do sends a request straight to the handler (no path cleaning on the way).
func (r *testRegistry) do(method, target string, body []byte, hdr ...string) *http.Response {
	r.t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if body == nil {
		req.ContentLength = 0
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	r.reg.ServeHTTP(rec, req)
	return rec.Result()
}

func errCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	var env struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	b, _ := io.ReadAll(resp.Body)
	if json.Unmarshal(b, &env) != nil || len(env.Errors) == 0 {
		return ""
	}
	return env.Errors[0].Code
}

// pushBlob uploads content monolithically and fails the test otherwise.
func (r *testRegistry) pushBlob(repo string, content []byte) string {
	r.t.Helper()
	d := sha(content)
	resp := r.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d, content)
	if resp.StatusCode != http.StatusCreated {
		r.t.Fatalf("push blob: %d %s", resp.StatusCode, errCode(r.t, resp))
	}
	return d
}

// image builds and pushes a one-layer image, returning the manifest bytes.
func (r *testRegistry) pushImage(repo, ref string, layer []byte) ([]byte, string) {
	r.t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	cd := r.pushBlob(repo, cfg)
	ld := r.pushBlob(repo, layer)
	m := manifest(cd, len(cfg), ld, len(layer))
	resp := r.do("PUT", "/v2/"+repo+"/manifests/"+ref, m, "Content-Type", storage.MediaTypeOCIManifest)
	if resp.StatusCode != http.StatusCreated {
		r.t.Fatalf("push manifest: %d %s", resp.StatusCode, errCode(r.t, resp))
	}
	return m, sha(m)
}

func manifest(cd string, cl int, ld string, ll int) []byte {
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		storage.MediaTypeOCIManifest, cd, cl, ld, ll))
}

func TestBadInput(t *testing.T) {
	r := newTestRegistry(t, registry.Options{})
	cfg := r.pushBlob("ok/repo", []byte("{}"))
	upload := func() string {
		resp := r.do("POST", "/v2/ok/repo/blobs/uploads/", nil)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("start upload: %d", resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	big := bytes.Repeat([]byte("a"), registry.MaxManifestSize+1)
	missing := sha([]byte("not pushed"))
	for _, tc := range []struct {
		name, method, target string
		body                 []byte
		hdr                  []string
		status               int
		code                 string
	}{
		{"upper-case name", "GET", "/v2/Repo/tags/list", nil, nil, 400, "NAME_INVALID"},
		{"dot-dot name", "GET", "/v2/a/../b/tags/list", nil, nil, 400, "NAME_INVALID"},
		{"escaped dot-dot", "GET", "/v2/a/%2e%2e/b/tags/list", nil, nil, 400, "NAME_INVALID"},
		{"absolute-ish name", "GET", "/v2//etc/manifests/latest", nil, nil, 400, "NAME_INVALID"},
		{"underscore component", "GET", "/v2/a/_tags/tags/list", nil, nil, 400, "NAME_INVALID"},
		{"bad tag", "GET", "/v2/ok/repo/manifests/-bad", nil, nil, 400, "TAG_INVALID"},
		{"bad digest", "GET", "/v2/ok/repo/blobs/sha256:xyz", nil, nil, 400, "DIGEST_INVALID"},
		{"md5 digest", "GET", "/v2/ok/repo/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", nil, nil, 400, "DIGEST_INVALID"},
		{"upper hex digest", "HEAD", "/v2/ok/repo/blobs/" + strings.ToUpper(cfg), nil, nil, 400, ""},
		{"digest path trick", "GET", "/v2/ok/repo/blobs/sha256:..%2f..%2f..%2fetc", nil, nil, 404, "NOT_FOUND"},
		{"unknown blob", "GET", "/v2/ok/repo/blobs/" + missing, nil, nil, 404, "BLOB_UNKNOWN"},
		{"blob of another repo", "GET", "/v2/other/repo/blobs/" + cfg, nil, nil, 404, "BLOB_UNKNOWN"},
		{"unknown manifest", "GET", "/v2/ok/repo/manifests/nope", nil, nil, 404, "MANIFEST_UNKNOWN"},
		{"unknown repo tags", "GET", "/v2/no/such/tags/list", nil, nil, 404, "NAME_UNKNOWN"},
		{"malformed manifest", "PUT", "/v2/ok/repo/manifests/x", []byte(`{"schemaVersion":2,`), []string{"Content-Type", storage.MediaTypeOCIManifest}, 400, "MANIFEST_INVALID"},
		{"schema 1", "PUT", "/v2/ok/repo/manifests/x", []byte(`{"schemaVersion":1}`), []string{"Content-Type", storage.MediaTypeOCIManifest}, 400, "MANIFEST_INVALID"},
		{"index and manifest", "PUT", "/v2/ok/repo/manifests/x", []byte(fmt.Sprintf(`{"schemaVersion":2,"config":{"mediaType":"a","digest":%q,"size":2},"layers":[],"manifests":[]}`, cfg)), []string{"Content-Type", storage.MediaTypeOCIManifest}, 400, "MANIFEST_INVALID"},
		{"media type mismatch", "PUT", "/v2/ok/repo/manifests/x", manifest(cfg, 2, cfg, 2), []string{"Content-Type", storage.MediaTypeOCIIndex}, 400, "MANIFEST_INVALID"},
		{"missing layer", "PUT", "/v2/ok/repo/manifests/x", manifest(cfg, 2, missing, 10), []string{"Content-Type", storage.MediaTypeOCIManifest}, 400, "MANIFEST_BLOB_UNKNOWN"},
		{"wrong layer size", "PUT", "/v2/ok/repo/manifests/x", manifest(cfg, 3, cfg, 2), []string{"Content-Type", storage.MediaTypeOCIManifest}, 400, "MANIFEST_INVALID"},
		{"descriptor bad digest", "PUT", "/v2/ok/repo/manifests/x", manifest("sha256:../../x", 2, cfg, 2), []string{"Content-Type", storage.MediaTypeOCIManifest}, 400, "MANIFEST_INVALID"},
		{"manifest digest mismatch", "PUT", "/v2/ok/repo/manifests/" + missing, manifest(cfg, 2, cfg, 2), []string{"Content-Type", storage.MediaTypeOCIManifest}, 400, "DIGEST_INVALID"},
		{"manifest too large", "PUT", "/v2/ok/repo/manifests/x", big, []string{"Content-Type", storage.MediaTypeOCIManifest}, 413, "MANIFEST_INVALID"},
		{"blob wrong digest", "POST", "/v2/ok/repo/blobs/uploads/?digest=" + missing, []byte("other"), nil, 400, "DIGEST_INVALID"},
		{"unknown upload", "PATCH", "/v2/ok/repo/blobs/uploads/0123456789abcdef0123456789abcdef", []byte("x"), nil, 404, "BLOB_UPLOAD_UNKNOWN"},
		{"upload id path trick", "PATCH", "/v2/ok/repo/blobs/uploads/..%2f..%2frepos", []byte("x"), nil, 404, ""},
		{"upload of another repo", "GET", strings.Replace(upload(), "ok/repo", "ok/other", 1), nil, nil, 404, "BLOB_UPLOAD_UNKNOWN"},
		{"absurd content-range", "PATCH", upload(), []byte("abc"), []string{"Content-Range", "5-3"}, 416, "BLOB_UPLOAD_INVALID"},
		{"garbage content-range", "PATCH", upload(), []byte("abc"), []string{"Content-Range", "zz"}, 416, "BLOB_UPLOAD_INVALID"},
		{"out of order chunk", "PATCH", upload(), []byte("abc"), []string{"Content-Range", "10-12"}, 416, "BLOB_UPLOAD_INVALID"},
		{"range disagrees with length", "PATCH", upload(), []byte("abc"), []string{"Content-Range", "0-9"}, 400, "SIZE_INVALID"},
		{"put without digest", "PUT", upload(), nil, nil, 400, "DIGEST_INVALID"},
		{"bad page size", "GET", "/v2/_catalog?n=-1", nil, nil, 400, "PAGINATION_NUMBER_INVALID"},
		{"bad mount digest", "POST", "/v2/ok/repo/blobs/uploads/?mount=sha256:zz&from=ok/repo", nil, nil, 400, "DIGEST_INVALID"},
		{"bad mount source", "POST", "/v2/ok/repo/blobs/uploads/?mount=" + cfg + "&from=../x", nil, nil, 400, "NAME_INVALID"},
		{"unknown endpoint", "GET", "/v2/ok/repo/nothing/here", nil, nil, 404, "NOT_FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := r.do(tc.method, tc.target, tc.body, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.code != "" && tc.method != "HEAD" {
				if got := errCode(t, resp); got != tc.code {
					t.Errorf("code %q, want %q", got, tc.code)
				}
			}
		})
	}
	// Nothing of the bad pushes is visible.
	if resp := r.do("GET", "/v2/ok/repo/manifests/x", nil); resp.StatusCode != 404 {
		t.Errorf("a refused manifest is visible: %d", resp.StatusCode)
	}
	if resp := r.do("HEAD", "/v2/ok/repo/blobs/"+sha([]byte("other")), nil); resp.StatusCode != 404 {
		t.Errorf("a blob with a wrong digest is visible: %d", resp.StatusCode)
	}
	tags, _ := r.store.Tags("ok/repo")
	if len(tags) != 0 {
		t.Errorf("tags after refused pushes: %v", tags)
	}
}

func TestLargeManifest(t *testing.T) {
	r := newTestRegistry(t, registry.Options{})
	cfg := r.pushBlob("big", []byte("{}"))
	base := manifest(cfg, 2, cfg, 2)
	pad := registry.MaxManifestSize - len(base) - len(`,"annotations":{"pad":""}`)
	m := append(base[:len(base)-1:len(base)-1], []byte(`,"annotations":{"pad":"`+strings.Repeat("x", pad)+`"}}`)...)
	if len(m) != registry.MaxManifestSize {
		t.Fatalf("built %d bytes", len(m))
	}
	resp := r.do("PUT", "/v2/big/manifests/v1", m, "Content-Type", storage.MediaTypeOCIManifest)
	if resp.StatusCode != 201 {
		t.Fatalf("4 MiB manifest: %d %s", resp.StatusCode, errCode(t, resp))
	}
	resp = r.do("GET", "/v2/big/manifests/v1", nil)
	b, _ := io.ReadAll(resp.Body)
	if !bytes.Equal(b, m) || resp.Header.Get("Docker-Content-Digest") != sha(m) {
		t.Errorf("4 MiB manifest did not round-trip")
	}
}

func TestPagination(t *testing.T) {
	r := newTestRegistry(t, registry.Options{})
	var want []string
	for i := range 5 {
		tag := fmt.Sprintf("t%d", i)
		want = append(want, tag)
		r.pushImage("pages", tag, []byte("layer"))
		r.pushBlob(fmt.Sprintf("cat/r%d", i), []byte("x"))
	}
	walk := func(first, key string) []string {
		var got []string
		next := first
		for next != "" {
			resp := r.do("GET", next, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d", next, resp.StatusCode)
			}
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			items, _ := body[key].([]any)
			if len(items) > 2 {
				t.Fatalf("page of %d with n=2", len(items))
			}
			for _, it := range items {
				got = append(got, it.(string))
			}
			next = ""
			if l := resp.Header.Get("Link"); l != "" {
				next = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
			}
		}
		return got
	}
	if got := walk("/v2/pages/tags/list?n=2", "tags"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tags %v, want %v", got, want)
	}
	got := walk("/v2/_catalog?n=2", "repositories")
	if fmt.Sprint(got) != "[cat/r0 cat/r1 cat/r2 cat/r3 cat/r4 pages]" {
		t.Errorf("catalog %v", got)
	}
	resp := r.do("GET", "/v2/pages/tags/list?n=0", nil)
	var body struct{ Tags []string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if len(body.Tags) != 0 {
		t.Errorf("n=0 returned %v", body.Tags)
	}
}

func TestBlobStoredOnce(t *testing.T) {
	r := newTestRegistry(t, registry.Options{})
	content := []byte("shared layer")
	r.pushBlob("one", content)
	r.pushBlob("two", content)
	resp := r.do("POST", "/v2/three/blobs/uploads/?mount="+sha(content)+"&from=one", nil)
	if resp.StatusCode != 201 {
		t.Fatalf("mount: %d", resp.StatusCode)
	}
	resp = r.do("POST", "/v2/four/blobs/uploads/?mount="+sha(content), nil)
	if resp.StatusCode != 201 {
		t.Fatalf("mount without from: %d", resp.StatusCode)
	}
	n := 0
	_ = filepath.Walk(filepath.Join(r.root, "blobs"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
		}
		return nil
	})
	if n != 1 {
		t.Errorf("%d copies of one blob stored", n)
	}
	for _, repo := range []string{"one", "two", "three", "four"} {
		resp := r.do("GET", "/v2/"+repo+"/blobs/"+sha(content), nil)
		b, _ := io.ReadAll(resp.Body)
		if !bytes.Equal(b, content) {
			t.Errorf("%s: read %q", repo, b)
		}
	}
	// Deleting from one repository leaves the others whole.
	if resp := r.do("DELETE", "/v2/one/blobs/"+sha(content), nil); resp.StatusCode != 202 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp := r.do("HEAD", "/v2/one/blobs/"+sha(content), nil); resp.StatusCode != 404 {
		t.Errorf("deleted blob still there: %d", resp.StatusCode)
	}
	if resp := r.do("HEAD", "/v2/two/blobs/"+sha(content), nil); resp.StatusCode != 200 {
		t.Errorf("other repository lost the blob: %d", resp.StatusCode)
	}
}

func TestUploadResumesAfterRestart(t *testing.T) {
	root := t.TempDir()
	r := openTestRegistry(t, root, registry.Options{})
	content := bytes.Repeat([]byte("0123456789"), 1000)
	resp := r.do("POST", "/v2/resume/blobs/uploads/", nil)
	loc := resp.Header.Get("Location")
	resp = r.do("PATCH", loc, content[:4000], "Content-Range", "0-3999")
	if resp.StatusCode != 202 {
		t.Fatalf("patch: %d", resp.StatusCode)
	}
	// A new server on the same directory: the in-memory state is gone.
	r2 := openTestRegistry(t, root, registry.Options{})
	resp = r2.do("GET", loc, nil)
	if resp.StatusCode != 204 || resp.Header.Get("Range") != "0-3999" {
		t.Fatalf("status after restart: %d Range %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	resp = r2.do("PATCH", loc, content[4000:], "Content-Range", fmt.Sprintf("4000-%d", len(content)-1))
	if resp.StatusCode != 202 {
		t.Fatalf("patch after restart: %d", resp.StatusCode)
	}
	resp = r2.do("PUT", loc+"?digest="+sha(content), nil)
	if resp.StatusCode != 201 {
		t.Fatalf("commit after restart: %d %s", resp.StatusCode, errCode(t, resp))
	}
	resp = r2.do("GET", "/v2/resume/blobs/"+sha(content), nil)
	b, _ := io.ReadAll(resp.Body)
	if !bytes.Equal(b, content) {
		t.Errorf("resumed blob differs")
	}
}

func TestAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte("# users\nalice:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := registry.LoadHtpasswd(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, anon := range []bool{false, true} {
		r := newTestRegistry(t, registry.Options{Auth: h, AnonymousPull: anon})
		for _, tc := range []struct {
			name, method, path, user, pass string
			want                           int
		}{
			{"no credentials", "GET", "/v2/", "", "", map[bool]int{false: 401, true: 200}[anon]},
			{"wrong password", "GET", "/v2/", "alice", "nope", 401},
			{"unknown user", "GET", "/v2/", "bob", "s3cret", 401},
			{"right password", "GET", "/v2/", "alice", "s3cret", 200},
			{"anonymous push", "POST", "/v2/x/blobs/uploads/", "", "", 401},
			{"push", "POST", "/v2/x/blobs/uploads/", "alice", "s3cret", 202},
			{"health is open", "GET", "/healthz", "", "", 200},
		} {
			t.Run(fmt.Sprintf("anon=%v/%s", anon, tc.name), func(t *testing.T) {
				req := httptest.NewRequest(tc.method, tc.path, nil)
				if tc.user != "" {
					req.SetBasicAuth(tc.user, tc.pass)
				}
				rec := httptest.NewRecorder()
				r.reg.ServeHTTP(rec, req)
				if rec.Code != tc.want {
					t.Errorf("status %d, want %d", rec.Code, tc.want)
				}
				if rec.Code == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic ") {
					t.Errorf("401 without a Basic challenge")
				}
			})
		}
	}
	if _, err := registry.LoadHtpasswd(writeTemp(t, "carol:{SHA}abc\n")); err == nil {
		t.Errorf("a non-bcrypt htpasswd entry was accepted")
	}
}

func writeTemp(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadOnlyMetricsHealth(t *testing.T) {
	r := newTestRegistry(t, registry.Options{ReadOnly: true})
	resp := r.do("POST", "/v2/x/blobs/uploads/", nil)
	if resp.StatusCode != 405 || errCode(t, resp) != "UNSUPPORTED" {
		t.Errorf("push to a read-only registry: %d", resp.StatusCode)
	}
	if resp := r.do("GET", "/v2/", nil); resp.StatusCode != 200 {
		t.Errorf("ping: %d", resp.StatusCode)
	}
	resp = r.do("GET", "/metrics", nil)
	b, _ := io.ReadAll(resp.Body)
	if !bytes.Contains(b, []byte(`berth_registry_http_requests_total{code="405",method="POST",route="readonly"} 1`)) {
		t.Errorf("metrics lack the request counter:\n%.2000s", b)
	}
	if resp := r.do("GET", "/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("health: %d", resp.StatusCode)
	}
	if err := os.RemoveAll(filepath.Join(r.root, "blobs")); err != nil {
		t.Fatal(err)
	}
	if resp := r.do("GET", "/healthz", nil); resp.StatusCode != 503 {
		t.Errorf("health with its storage gone: %d", resp.StatusCode)
	}
}

func TestRangeAndHeaders(t *testing.T) {
	r := newTestRegistry(t, registry.Options{})
	content := []byte("0123456789abcdef")
	d := r.pushBlob("rng", content)
	resp := r.do("GET", "/v2/rng/blobs/"+d, nil, "Range", "bytes=4-7")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 206 || string(b) != "4567" || resp.Header.Get("Content-Range") != "bytes 4-7/16" {
		t.Errorf("range: %d %q %q", resp.StatusCode, b, resp.Header.Get("Content-Range"))
	}
	if resp := r.do("GET", "/v2/rng/blobs/"+d, nil, "Range", "bytes=40-70"); resp.StatusCode != 416 {
		t.Errorf("unsatisfiable range: %d", resp.StatusCode)
	}
	resp = r.do("HEAD", "/v2/rng/blobs/"+d, nil)
	if resp.Header.Get("Content-Length") != "16" || resp.Header.Get("Docker-Content-Digest") != d {
		t.Errorf("blob HEAD headers: %v", resp.Header)
	}
	m, md := r.pushImage("rng", "v1", []byte("layer"))
	for _, method := range []string{"GET", "HEAD"} {
		resp := r.do(method, "/v2/rng/manifests/v1", nil)
		if resp.Header.Get("Content-Type") != storage.MediaTypeOCIManifest || resp.Header.Get("Docker-Content-Digest") != md ||
			resp.Header.Get("Content-Length") != fmt.Sprint(len(m)) {
			t.Errorf("manifest %s headers: %v", method, resp.Header)
		}
	}
}

func TestReferrersFilter(t *testing.T) {
	r := newTestRegistry(t, registry.Options{})
	_, subject := r.pushImage("refs", "v1", []byte("layer"))
	empty := r.pushBlob("refs", []byte("{}"))
	for _, at := range []string{"application/x.sig", "application/x.sbom"} {
		m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":%q,"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],"subject":{"mediaType":%q,"digest":%q,"size":1}}`,
			storage.MediaTypeOCIManifest, at, empty, storage.MediaTypeOCIManifest, subject))
		resp := r.do("PUT", "/v2/refs/manifests/"+sha(m), m, "Content-Type", storage.MediaTypeOCIManifest)
		if resp.StatusCode != 201 || resp.Header.Get("OCI-Subject") != subject {
			t.Fatalf("push referrer: %d subject %q", resp.StatusCode, resp.Header.Get("OCI-Subject"))
		}
	}
	list := func(q string) []storage.Descriptor {
		resp := r.do("GET", "/v2/refs/referrers/"+subject+q, nil)
		var idx struct{ Manifests []storage.Descriptor }
		_ = json.NewDecoder(resp.Body).Decode(&idx)
		return idx.Manifests
	}
	if got := list(""); len(got) != 2 {
		t.Errorf("referrers: %d, want 2", len(got))
	}
	got := list("?artifactType=application/x.sig")
	if len(got) != 1 || got[0].ArtifactType != "application/x.sig" {
		t.Errorf("filtered referrers: %+v", got)
	}
	r.do("DELETE", "/v2/refs/manifests/"+got[0].Digest, nil)
	if got := list(""); len(got) != 1 {
		t.Errorf("referrers after delete: %d, want 1", len(got))
	}
}

// TestGCWhileServing pushes images while collections run and checks that
// every image whose push succeeded stays complete.
func TestGCWhileServing(t *testing.T) {
	r := newTestRegistry(t, registry.Options{})
	// Old garbage: a blob no manifest references and an untagged image.
	orphan := r.pushBlob("gc", []byte("orphan"))
	_, untagged := r.pushImage("gc", "tmp", []byte("untagged layer"))
	r.do("DELETE", "/v2/gc/manifests/tmp", nil)
	_, kept := r.pushImage("gc", "keep", []byte("kept layer"))
	past := time.Now().Add(-2 * time.Hour)
	_ = filepath.Walk(r.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			_ = os.Chtimes(p, past, past)
		}
		return nil
	})
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		var err error
		for {
			select {
			case <-stop:
				done <- err
				return
			default:
			}
			if _, e := r.reg.Collect(context.Background(), storage.GCOptions{Grace: time.Hour}); e != nil {
				err = e
			}
		}
	}()
	// Concurrent pushes reuse the old, stale blobs of the kept image by
	// mount, and push new ones.
	var pushed []string
	for i := range 30 {
		repo := fmt.Sprintf("gc%d", i%3)
		layer := []byte(fmt.Sprintf("layer %d", i))
		cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
		r.do("POST", "/v2/"+repo+"/blobs/uploads/?mount="+sha(cfg)+"&from=gc", nil)
		if resp := r.do("HEAD", "/v2/"+repo+"/blobs/"+sha(cfg), nil); resp.StatusCode != 200 {
			r.pushBlob(repo, cfg)
		}
		ld := r.pushBlob(repo, layer)
		m := manifest(sha(cfg), len(cfg), ld, len(layer))
		resp := r.do("PUT", "/v2/"+repo+"/manifests/"+fmt.Sprintf("v%d", i), m, "Content-Type", storage.MediaTypeOCIManifest)
		if resp.StatusCode == 201 {
			pushed = append(pushed, repo+"@"+sha(m))
		} else if code := errCode(t, resp); code != "MANIFEST_BLOB_UNKNOWN" {
			t.Errorf("push during gc: %d %s", resp.StatusCode, code)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("gc: %v", err)
	}
	if _, err := r.reg.Collect(context.Background(), storage.GCOptions{Grace: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if len(pushed) == 0 {
		t.Fatal("no push succeeded")
	}
	for _, ref := range append(pushed, "gc@"+kept) {
		repo, d, _ := strings.Cut(ref, "@")
		resp := r.do("GET", "/v2/"+repo+"/manifests/"+d, nil)
		if resp.StatusCode != 200 {
			t.Errorf("%s: manifest gone after gc: %d", ref, resp.StatusCode)
			continue
		}
		var m storage.Manifest
		_ = json.NewDecoder(resp.Body).Decode(&m)
		for _, desc := range append(m.Layers, *m.Config) {
			if resp := r.do("GET", "/v2/"+repo+"/blobs/"+desc.Digest, nil); resp.StatusCode != 200 {
				t.Errorf("%s: blob %s gone after gc: %d", ref, desc.Digest, resp.StatusCode)
			}
		}
	}
	if resp := r.do("HEAD", "/v2/gc/blobs/"+orphan, nil); resp.StatusCode != 404 {
		t.Errorf("orphan blob survived gc: %d", resp.StatusCode)
	}
	if resp := r.do("HEAD", "/v2/gc/manifests/"+untagged, nil); resp.StatusCode != 404 {
		t.Errorf("untagged manifest survived gc: %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(r.root, "blobs", "sha256", strings.TrimPrefix(orphan, "sha256:")[:2], strings.TrimPrefix(orphan, "sha256:"))); err == nil {
		t.Errorf("orphan content still on disk")
	}
}
