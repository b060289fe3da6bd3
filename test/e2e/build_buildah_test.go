package e2e

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/image"
)

// layerNames lists the entry names of a gzip or plain layer tar.
func layerNames(t *testing.T, r io.Reader) []string {
	t.Helper()
	br := r
	if zr, err := gzip.NewReader(r); err == nil {
		br = zr
	}
	tr := tar.NewReader(br)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/"))
	}
}

// deletions applies layers in order and returns, for each layer, the paths
// it removed from the filesystem below it, however it says so (one whiteout
// per entry or an opaque directory).
func deletions(layers [][]string) []string {
	merged := map[string]bool{}
	var out []string
	for _, names := range layers {
		before := map[string]bool{}
		for p := range merged {
			before[p] = true
		}
		removeUnder := func(p string, self bool) {
			for q := range merged {
				if (self && q == p) || strings.HasPrefix(q, p+"/") || (p == "" && q != "") {
					delete(merged, q)
				}
			}
		}
		for _, n := range names {
			dir, base := path.Split(n)
			dir = strings.TrimSuffix(dir, "/")
			switch {
			case base == ".wh..wh..opq":
				removeUnder(dir, false)
			case strings.HasPrefix(base, ".wh."):
				removeUnder(path.Join(dir, strings.TrimPrefix(base, ".wh.")), true)
			}
		}
		for _, n := range names {
			if !strings.Contains(path.Base(n), ".wh.") && n != "" && n != "." {
				merged[n] = true
			}
		}
		var gone []string
		for p := range before {
			if !merged[p] {
				gone = append(gone, p)
			}
		}
		sort.Strings(gone)
		out = append(out, strings.Join(gone, " "))
	}
	return out
}

// TestBuildDeletionsMatchBuildah builds the corpus's "run" Dockerfile (which
// deletes files and replaces a directory) with berth and with
// `buildah bud --layers`, and checks that each layer deletes the same paths.
func TestBuildDeletionsMatchBuildah(t *testing.T) {
	e := newBuildEnv(t)
	testutil.RequireCommand(t, "buildah")
	dir := filepath.Join(e.corpus, "run")
	if _, stderr, code := e.build("-q", "-t", "del:1", dir); code != 0 {
		t.Fatalf("berth build: %s", stderr)
	}
	st, err := image.Open(e.root)
	if err != nil {
		t.Fatal(err)
	}
	img, err := st.Resolve(context.Background(), "del:1")
	if err != nil {
		t.Fatal(err)
	}
	var ours [][]string
	for _, l := range img.Layers {
		rc, err := st.Content().Open(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		ours = append(ours, layerNames(t, rc))
		rc.Close()
	}

	w, err := os.MkdirTemp("", "berth-buildah-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	bh := []string{"--root", filepath.Join(w, "root"), "--runroot", filepath.Join(w, "run"), "--storage-driver", "vfs"}
	t.Cleanup(func() {
		exec.Command("buildah", append(bh, "rm", "--all")...).Run()
		os.RemoveAll(w)
	})
	bhRun := func(args ...string) string {
		out, err := exec.Command("buildah", append(append([]string(nil), bh...), args...)...).Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("buildah %v: %v %s", args, err, msg)
		}
		return strings.TrimSpace(string(out))
	}
	ctr := bhRun("from", "scratch")
	bhRun("add", ctr, testutil.RootfsTar(t), "/")
	bhRun("commit", "-q", ctr, "busybox:latest")
	bhRun("bud", "-q", "--layers", "--runtime", "runc", "--network", "none", "--pull-never",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "-t", "del:1", dir)
	layout := filepath.Join(w, "oci")
	bhRun("push", "del:1", "oci:"+layout)
	var index struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	readJSON := func(p string, v any) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	blob := func(d string) string {
		return filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(d, "sha256:"))
	}
	readJSON(filepath.Join(layout, "index.json"), &index)
	var man struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	readJSON(blob(index.Manifests[0].Digest), &man)
	var theirs [][]string
	for _, l := range man.Layers {
		f, err := os.Open(blob(l.Digest))
		if err != nil {
			t.Fatal(err)
		}
		theirs = append(theirs, layerNames(t, f))
		f.Close()
	}
	if len(ours) != len(theirs) {
		t.Fatalf("berth made %d layers, buildah %d", len(ours), len(theirs))
	}
	a, b := deletions(ours), deletions(theirs)
	deleted := 0
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("layer %d deletes %q with berth, %q with buildah", i, a[i], b[i])
		}
		if a[i] != "" {
			deleted++
		}
	}
	if deleted < 2 {
		t.Errorf("the run Dockerfile should delete in two layers; deletions: %q", a)
	}
}
