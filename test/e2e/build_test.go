package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/image"
)

// buildEnv is a private berth root with the busybox image imported.
type buildEnv struct {
	t           *testing.T
	root, run   string
	corpus      string
	runtimeRoot string
}

func newBuildEnv(t *testing.T) *buildEnv {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	e := &buildEnv{t: t, root: filepath.Join(dir, "root"), run: filepath.Join(dir, "run"),
		corpus: filepath.Join(testutil.RepoRoot(), "pkg", "build", "testdata", "corpus")}
	if os.Getenv("BERTH_RUNTIME") == "" {
		testutil.RequireCommand(t, "runc")
	}
	if _, stderr, code := e.berth("import", testutil.RootfsTar(t), "busybox:latest"); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	return e
}

func (e *buildEnv) berth(args ...string) (string, string, int) {
	e.t.Helper()
	return run(e.t, "berth", append([]string{"--root", e.root, "--runroot", e.run}, args...)...)
}

func (e *buildEnv) build(args ...string) (string, string, int) {
	e.t.Helper()
	return e.berth(append([]string{"build"}, args...)...)
}

// layerEntries lists the entries of a stored layer blob.
func layerEntries(t *testing.T, st *image.Store, l image.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := st.Content().Open(l.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	tr := tar.NewReader(io.TeeReader(zr, h))
	out := map[string]*tar.Header{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(hdr.Name, "./")] = hdr
	}
	io.Copy(io.Discard, zr)
	if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); got != l.DiffID.String() {
		t.Errorf("layer %s: diff ID %s, content hashes to %s", l.Digest, l.DiffID, got)
	}
	return out
}

func TestBuildImageFormat(t *testing.T) {
	e := newBuildEnv(t)
	_, stderr, code := e.build("-q", "-t", "fmt:run", filepath.Join(e.corpus, "run"))
	if code != 0 {
		t.Fatalf("build: %s", stderr)
	}
	st, err := image.Open(e.root)
	if err != nil {
		t.Fatal(err)
	}
	img, err := st.Resolve(context.Background(), "fmt:run")
	if err != nil {
		t.Fatal(err)
	}
	// History: one non-empty entry per layer, in order; diff IDs match.
	nonEmpty := 0
	for _, h := range img.Config.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if nonEmpty != len(img.Layers) || len(img.Config.RootFS.DiffIDs) != len(img.Layers) {
		t.Errorf("%d non-empty history entries, %d diff IDs, %d layers", nonEmpty, len(img.Config.RootFS.DiffIDs), len(img.Layers))
	}
	for i, l := range img.Layers {
		if img.Config.RootFS.DiffIDs[i].String() != l.DiffID.String() {
			t.Errorf("layer %d diff ID %s, config says %s", i, l.DiffID, img.Config.RootFS.DiffIDs[i])
		}
	}
	// The deletions are whiteouts; a directory replaced wholesale is opaque.
	all := map[string]*tar.Header{}
	for _, l := range img.Layers[1:] {
		for k, v := range layerEntries(t, st, l) {
			all[k] = v
		}
	}
	for _, want := range []string{"bin/.wh.vi", "etc/.wh.group", ".wh.home", "opaque/.wh..wh..opq", "opaque/c", "app/link"} {
		if _, ok := all[want]; !ok {
			t.Errorf("layers lack %s", want)
		}
	}
	if h := all["app/link"]; h != nil && (h.Typeflag != tar.TypeSymlink || h.Linkname != "/app/built.txt") {
		t.Errorf("app/link: %+v", h)
	}
	if h := all["app/bin/"]; h != nil && h.Mode&0o4000 == 0 {
		t.Errorf("app/bin lost its setuid bit: %o", h.Mode)
	} else if h == nil {
		if h = all["app/bin"]; h == nil || h.Mode&0o4000 == 0 {
			t.Errorf("app/bin: %+v", h)
		}
	}
	if h := all["app/built.txt"]; h == nil || h.Uid != 1 || h.Gid != 1 {
		t.Errorf("app/built.txt owner: %+v", h)
	}
}

func TestBuildCLI(t *testing.T) {
	e := newBuildEnv(t)
	ms := filepath.Join(e.corpus, "multistage")

	stdout, stderr, code := e.build("-t", "ms:1", "--label", "from=cli", ms)
	if code != 0 {
		t.Fatalf("build: %s\n%s", stdout, stderr)
	}
	for _, want := range []string{"STEP 1/11: FROM busybox AS build", "Successfully tagged ms:1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "never-built") {
		t.Errorf("built the unused stage:\n%s", stdout)
	}
	// Unchanged rebuild: every step after FROM is CACHED; same image ID.
	id1, _, _ := e.build("-q", "-t", "ms:1", ms)
	stdout, _, _ = e.build("--progress", "plain", ms)
	for _, line := range strings.Split(stdout, "\n") {
		if strings.Contains(line, "STEP") && !strings.Contains(line, "FROM") && !strings.HasSuffix(line, "CACHED") {
			t.Errorf("rebuild ran %q", line)
		}
	}
	id2, _, _ := e.build("-q", "-t", "ms:1", ms)
	if strings.TrimSpace(id1) == "" || id1 != id2 {
		t.Errorf("image ID changed on a cached rebuild: %q vs %q", id1, id2)
	}
	// builder prune empties the cache: the next build runs every step.
	if stdout, _, code := e.berth("builder", "prune", "-f"); code != 0 || !strings.Contains(stdout, "Deleted") {
		t.Errorf("builder prune: %d %s", code, stdout)
	}
	stdout, _, _ = e.build(ms)
	if strings.Contains(stdout, "CACHED") {
		t.Errorf("build after prune used the cache:\n%s", stdout)
	}
	// --target builds only what the target needs.
	stdout, _, code = e.build("-t", "ms:second", "--target", "second", ms)
	if code != 0 || strings.Contains(stdout, "AS build") {
		t.Errorf("--target second: %d\n%s", code, stdout)
	}

	// A context on stdin as a tar stream.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	df := "FROM busybox\nCOPY hello.txt /\nRUN cat /hello.txt\n"
	for name, data := range map[string]string{"Dockerfile": df, "hello.txt": "hi from stdin\n"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write([]byte(data))
	}
	tw.Close()
	cmd := exec.Command(testutil.BerthBinary(t), "--root", e.root, "--runroot", e.run, "build", "-t", "stdin:1", "-")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hi from stdin") {
		t.Errorf("build from stdin: %v\n%s", err, out)
	}
}

func TestBuildErrors(t *testing.T) {
	e := newBuildEnv(t)
	write := func(df string, files map[string]string) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
		for k, v := range files {
			os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644)
		}
		return dir
	}
	for _, tc := range []struct {
		name, df string
		want     []string
		code     int
	}{
		{"syntax", "FROM busybox\nCOPY onlyone\n", []string{"Dockerfile:2:", "COPY onlyone"}, 1},
		{"unknown instruction", "FROM busybox\nFETCH x\n", []string{"Dockerfile:2:", "unknown instruction: FETCH"}, 1},
		{"missing source", "FROM busybox\nCOPY nothere /x\n", []string{"nothere not found in build context"}, 1},
		{"outside context", "FROM busybox\nCOPY ../../../etc/shadow /x\n", []string{"not found in build context"}, 1},
		{"unknown image", "FROM nosuch/image:9\n", []string{`image "nosuch/image:9" not found`}, 1},
		{"failing run", "FROM busybox\nRUN echo about-to-fail; exit 7\n", []string{"exit code 7", "about-to-fail"}, 1},
		{"remote add", "FROM busybox\nADD https://example.invalid/x /x\n", []string{"remote sources are not supported"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(tc.df, nil)
			_, stderr, code := e.build("-t", "broken:1", dir)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
	// No failed build tagged anything, left a mount or an active snapshot.
	st, err := image.Open(e.root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Resolve(context.Background(), "broken:1"); err == nil {
		t.Errorf("a failed build tagged broken:1")
	}
	if act, _ := st.Snapshots().ListActive(); len(act) != 0 {
		t.Errorf("active snapshots left: %v", act)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), e.root) {
		t.Errorf("mounts left under %s", e.root)
	}
	// Whichever runtime ran the steps, its state directory holds no
	// container (names starting with @, such as its compiled seccomp
	// cache, are not container ids).
	ents, _ := os.ReadDir(filepath.Join(e.run, "build-runtime"))
	for _, ent := range ents {
		if !strings.HasPrefix(ent.Name(), "@") {
			t.Errorf("runtime state left: %s", ent.Name())
		}
	}
}
