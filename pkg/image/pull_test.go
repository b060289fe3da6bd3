package image

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/errdefs"
)

// blobPuts counts blob uploads (PUT /v2/.../blobs/uploads/...) on every
// test registry.
var blobPuts atomic.Int64

// testRegistry serves an in-process registry and counts blob GETs.
func testRegistry(t *testing.T) (host string, blobGets *atomic.Int64) {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	blobGets = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			blobGets.Add(1)
		}
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads") {
			blobPuts.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), blobGets
}

func TestPullPush(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	host, gets := testRegistry(t)
	src, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	srcRef := host + "/test/app:v1"
	r, _ := name.ParseReference(srcRef)
	if err := remote.Write(r, src); err != nil {
		t.Fatal(err)
	}
	wantDigest, _ := src.Digest()
	wantID, _ := src.ConfigName()

	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var events atomic.Int64
	opts := PullOptions{RemoteOptions: RemoteOptions{Progress: func(id, status string, cur, total int64) { events.Add(1) }}}
	res, err := s.Pull(ctx, srcRef, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.ID.String() != wantID.String() || res.Digest.String() != wantDigest.String() || !res.Downloaded {
		t.Fatalf("pull result %+v, want ID %s digest %s", res, wantID, wantDigest)
	}
	if events.Load() == 0 {
		t.Error("no progress events")
	}
	if len(res.Image.Layers) != 3 {
		t.Fatalf("%d layers", len(res.Image.Layers))
	}
	for _, l := range res.Image.Layers {
		if !s.Snapshots().Has(l.ChainID) || !s.Content().Has(l.Digest) {
			t.Errorf("layer %s not stored", l.Digest)
		}
	}
	// By tag and by digest.
	for _, ref := range []string{srcRef, host + "/test/app@" + wantDigest.String()} {
		if img, err := s.Resolve(ctx, ref); err != nil || img.ID != res.Image.ID {
			t.Errorf("Resolve(%s) = %v", ref, err)
		}
	}
	// A second pull downloads no blob.
	before := gets.Load()
	res2, err := s.Pull(ctx, srcRef, opts)
	if err != nil {
		t.Fatal(err)
	}
	if gets.Load() != before || res2.Downloaded {
		t.Errorf("re-pull fetched %d blobs (downloaded=%v)", gets.Load()-before, res2.Downloaded)
	}

	// Push to another repository: same digest there, and the blobs are
	// mounted from the repository the image came from, not uploaded.
	if err := s.Tag(ctx, srcRef, host+"/other/app:v2"); err != nil {
		t.Fatal(err)
	}
	puts := blobPuts.Load()
	pres, err := s.Push(ctx, host+"/other/app:v2", RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := blobPuts.Load() - puts; n != 0 {
		t.Errorf("push to a sibling repository uploaded %d blobs, want all mounted", n)
	}
	if pres.Digest.String() != wantDigest.String() {
		t.Errorf("pushed digest %s, want %s", pres.Digest, wantDigest)
	}
	r2, _ := name.ParseReference(host + "/other/app:v2")
	got, err := remote.Image(r2)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d != wantDigest {
		t.Errorf("registry has %s", d)
	}
}

func TestPullIndexPlatform(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	host, _ := testRegistry(t)
	amd, _ := random.Image(512, 1)
	arm, _ := random.Image(512, 1)
	plat := DefaultPlatform()
	other := v1.Platform{OS: "linux", Architecture: "s390x"}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &other}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &plat}},
	)
	ref := host + "/multi:latest"
	r, _ := name.ParseReference(ref)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	s, _ := Open(t.TempDir())
	res, err := s.Pull(ctx, ref, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := amd.ConfigName()
	if res.Image.ID.String() != want.String() {
		t.Errorf("pulled %s, want the %s image %s", res.Image.ID, plat.String(), want)
	}
	res, err = s.Pull(ctx, ref, PullOptions{Platform: &other})
	if err != nil {
		t.Fatal(err)
	}
	want, _ = arm.ConfigName()
	if res.Image.ID.String() != want.String() {
		t.Errorf("pulled %s, want the s390x image %s", res.Image.ID, want)
	}
	mips := v1.Platform{OS: "linux", Architecture: "mips"}
	if _, err := s.Pull(ctx, ref, PullOptions{Platform: &mips}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("pull for a missing platform = %v", err)
	}
}

func TestPullErrors(t *testing.T) {
	ctx := context.Background()
	host, _ := testRegistry(t)
	s, _ := Open(t.TempDir())
	if _, err := s.Pull(ctx, host+"/nope:latest", PullOptions{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("unknown image: %v", err)
	}
	if _, err := s.Pull(ctx, "127.0.0.1:1/down:latest", PullOptions{}); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("registry down: %v", err)
	}
	if _, err := s.Pull(ctx, host+"/x@sha256:"+strings.Repeat("0", 64), PullOptions{}); err == nil {
		t.Error("pull of a missing digest succeeded")
	}
}

// TestPullCorruptBlob: a registry serving a layer or a config whose bytes
// do not match its digest leaves no image, no layer and no blob behind.
func TestPullCorruptBlob(t *testing.T) {
	testutil.RequireRoot(t)
	img, _ := random.Image(4096, 1)
	ls, _ := img.Layers()
	layerDigest, _ := ls[0].Digest()
	cfgDigest, _ := img.ConfigName()
	mDigest, _ := img.Digest()
	for _, tt := range []struct {
		name    string
		bad     v1.Hash
		wantMsg string
	}{
		// A flipped byte breaks the gzip stream before the digest is known.
		{"layer", layerDigest, ""},
		{"config", cfgDigest, "digest mismatch"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+tt.bad.String()) {
					reg.ServeHTTP(&corruptWriter{ResponseWriter: w}, r)
					return
				}
				reg.ServeHTTP(w, r)
			}))
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			r, _ := name.ParseReference(host + "/c:1")
			if err := remote.Write(r, img); err != nil {
				t.Fatal(err)
			}
			s, _ := Open(t.TempDir())
			_, err := s.Pull(ctx, host+"/c:1", PullOptions{})
			if err == nil {
				t.Fatal("pull of a corrupt blob succeeded")
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %v: want ErrInvalidArgument %q", err, tt.wantMsg)
			}
			if imgs, _ := s.List(ctx); len(imgs) != 0 {
				t.Errorf("images after a failed pull: %d", len(imgs))
			}
			if infos, _ := s.Snapshots().List(); len(infos) != 0 {
				t.Errorf("layers after a failed pull: %v", infos)
			}
			for _, d := range []v1.Hash{tt.bad, mDigest} {
				if s.Content().Has(digest.Digest(d.String())) {
					t.Errorf("blob %s stored after a failed pull", d)
				}
			}
		})
	}
}

type corruptWriter struct {
	http.ResponseWriter
	done bool
}

func (c *corruptWriter) Write(b []byte) (int, error) {
	if !c.done && len(b) > 100 {
		b = append([]byte{}, b...)
		b[len(b)-50] ^= 0xff
		c.done = true
	}
	return c.ResponseWriter.Write(b)
}

func TestConcurrentPulls(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	host, _ := testRegistry(t)
	img, _ := random.Image(1<<20, 4)
	ref := host + "/same:1"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			// Separate Store values, as separate berth processes would have.
			s, err := Open(root)
			if err == nil {
				_, err = s.Pull(ctx, ref, PullOptions{})
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	s, _ := Open(root)
	got, err := s.Resolve(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if infos, _ := s.Snapshots().List(); len(infos) != 4 {
		t.Errorf("%d layer snapshots, want 4 (each layer once)", len(infos))
	}
	for _, l := range got.Layers {
		if !s.Snapshots().Has(l.ChainID) {
			t.Errorf("layer %s missing", l.ChainID)
		}
	}
}
