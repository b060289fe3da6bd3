package build

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/build/cache"
	"github.com/berth/berth/pkg/buildcontext"
	"github.com/berth/berth/pkg/errdefs"
)

// env is a builder over a dirStore with a context directory.
type env struct {
	t     *testing.T
	store *dirStore
	b     *Builder
	ctx   string
}

func newEnv(t *testing.T) *env {
	testutil.RequireRoot(t) // COPY sets owners
	s := newDirStore(t)
	c, err := cache.Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: s, ctx: t.TempDir(), b: &Builder{Images: s, Snapshots: s, Cache: c, TmpDir: t.TempDir()}}
}

func (e *env) write(files map[string]string) {
	for name, data := range files {
		p := filepath.Join(e.ctx, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) build(df string, o Options) (*Result, string, error) {
	e.t.Helper()
	c, err := buildcontext.Open(e.ctx, "Dockerfile")
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	var out bytes.Buffer
	o.Context, o.Dockerfile, o.Out = c, []byte(df), &out
	res, err := e.b.Build(context.Background(), o)
	return res, out.String(), err
}

func (e *env) mustBuild(df string, o Options) (*Result, string) {
	e.t.Helper()
	res, out, err := e.build(df, o)
	if err != nil {
		e.t.Fatalf("build: %v\n%s", err, out)
	}
	return res, out
}

func TestMetadataInstructions(t *testing.T) {
	e := newEnv(t)
	df := `FROM scratch
ARG V=1
ENV A=a B="b c" PATHX=${V}
LABEL org.test=${A} other="x y"
EXPOSE 80 53/udp 8000-8001
VOLUME ["/data", "/logs"]
USER 1000:1000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --retries=2 CMD ["true"]
ONBUILD RUN echo hi
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
CMD echo $A
ENTRYPOINT ["/bin/x"]
MAINTAINER me
`
	res, _ := e.mustBuild(df, Options{Tags: []string{"meta:1"}, Labels: map[string]string{"cli": "yes"}})
	img, err := e.store.Resolve(context.Background(), "meta:1")
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != res.ID {
		t.Errorf("tag points at %s, build said %s", img.ID, res.ID)
	}
	c := img.Config.Config
	for _, want := range []string{"A=a", "B=b c", "PATHX=1", "PATH=" + "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"} {
		if !contains(c.Env, want) {
			t.Errorf("Env %v lacks %q", c.Env, want)
		}
	}
	if c.Labels["org.test"] != "a" || c.Labels["other"] != "x y" || c.Labels["cli"] != "yes" {
		t.Errorf("Labels %v", c.Labels)
	}
	for _, p := range []string{"80/tcp", "53/udp", "8000/tcp", "8001/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("ExposedPorts %v lacks %s", c.ExposedPorts, p)
		}
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("Volumes %v", c.Volumes)
	}
	if _, ok := c.Volumes["/logs"]; !ok {
		t.Errorf("Volumes %v", c.Volumes)
	}
	if c.User != "1000:1000" || c.StopSignal != "SIGTERM" {
		t.Errorf("User %q StopSignal %q", c.User, c.StopSignal)
	}
	if c.Healthcheck == nil || c.Healthcheck.Retries != 2 || strings.Join(c.Healthcheck.Test, " ") != "CMD true" {
		t.Errorf("Healthcheck %+v", c.Healthcheck)
	}
	if len(c.OnBuild) != 1 || c.OnBuild[0] != "RUN echo hi" {
		t.Errorf("OnBuild %q", c.OnBuild)
	}
	if strings.Join(c.Cmd, "|") != "/bin/ash|-eo|pipefail|-c|echo $A" {
		t.Errorf("Cmd %q (CMD before ENTRYPOINT in the same stage is kept)", c.Cmd)
	}
	if strings.Join(c.Entrypoint, "|") != "/bin/x" {
		t.Errorf("Entrypoint %q", c.Entrypoint)
	}
	if img.Config.Author != "me" {
		t.Errorf("Author %q", img.Config.Author)
	}
	if len(img.Layers) != 0 || len(img.Config.RootFS.DiffIDs) != 0 {
		t.Errorf("metadata-only build has layers %v", img.Layers)
	}
	for _, h := range img.Config.History {
		if !h.EmptyLayer {
			t.Errorf("history %q not empty_layer", h.CreatedBy)
		}
	}
	if len(img.Config.History) != 12 {
		t.Errorf("%d history entries, want 12", len(img.Config.History))
	}
}

func TestCopyAndCache(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{
		"a.txt": "A", "dir/b.txt": "B", "dir/sub/c.txt": "C", "ignored.log": "x", "dir/skip.log": "y",
		".dockerignore": "*.log\n**/*.log\n",
	})
	os.Symlink("a.txt", filepath.Join(e.ctx, "link"))
	os.Symlink("/../../a.txt", filepath.Join(e.ctx, "escape"))
	df := `FROM scratch
COPY a.txt /a
COPY dir /d/
COPY --chmod=0600 --chown=7:8 a.txt dir/sub/c.txt /multi/
COPY link escape /links/
COPY *.txt /glob/
WORKDIR /w
COPY <<EOF rel.txt
hello
EOF
`
	res, out := e.mustBuild(df, Options{Tags: []string{"copy"}})
	if res.Cached != 0 {
		t.Errorf("first build had %d cache hits:\n%s", res.Cached, out)
	}
	img, _ := e.store.Resolve(context.Background(), "copy")
	root := e.store.rootfs(img)
	check := func(p, data string, mode os.FileMode, uid int) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return
		}
		if b, _ := os.ReadFile(filepath.Join(root, p)); string(b) != data {
			t.Errorf("%s = %q, want %q", p, b, data)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", p, fi.Mode().Perm(), mode)
		}
		if u, _ := ownerOf(fi); u != uid {
			t.Errorf("%s uid %d, want %d", p, u, uid)
		}
	}
	check("a", "A", 0o644, 0)
	check("d/b.txt", "B", 0o644, 0)
	check("d/sub/c.txt", "C", 0o644, 0)
	check("multi/a.txt", "A", 0o600, 7)
	check("multi/c.txt", "C", 0o600, 7)
	check("links/link", "A", 0o644, 0)   // a top-level symlink source is followed
	check("links/escape", "A", 0o644, 0) // ... inside the context
	check("glob/a.txt", "A", 0o644, 0)
	check("w/rel.txt", "hello\n", 0o644, 0)
	for _, gone := range []string{"d/skip.log", "glob/ignored.log"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); err == nil {
			t.Errorf("%s was copied despite .dockerignore", gone)
		}
	}
	if len(img.Layers) != 6 {
		t.Errorf("%d layers, want 6", len(img.Layers))
	}

	// Unchanged: every step is a cache hit and the image is the same.
	res2, out2 := e.mustBuild(df, Options{Tags: []string{"copy"}})
	if res2.Built != 0 || res2.ID != res.ID {
		t.Errorf("rebuild: %d/%d cached, id %s vs %s\n%s", res2.Cached, res2.Steps, res2.ID, res.ID, out2)
	}
	// Touching a file (mtime only) keeps the cache.
	os.Chtimes(filepath.Join(e.ctx, "dir/b.txt"), timeNow(), timeNow())
	if res3, out3 := e.mustBuild(df, Options{}); res3.Built != 0 {
		t.Errorf("touch invalidated the cache:\n%s", out3)
	}
	// Changing dir/b.txt rebuilds from COPY dir on.
	e.write(map[string]string{"dir/b.txt": "B2"})
	_, out4 := e.mustBuild(df, Options{})
	if !strings.Contains(out4, "COPY a.txt /a CACHED") || strings.Contains(out4, "COPY dir /d/ CACHED") {
		t.Errorf("change in dir/b.txt: wrong cache use:\n%s", out4)
	}
	// --no-cache uses nothing.
	if res5, _ := e.mustBuild(df, Options{NoCache: true}); res5.Cached != 0 {
		t.Errorf("--no-cache had %d hits", res5.Cached)
	}
	// A changed mode misses too.
	os.Chmod(filepath.Join(e.ctx, "a.txt"), 0o755)
	_, out6 := e.mustBuild(df, Options{})
	if strings.Contains(out6, "COPY a.txt /a CACHED") {
		t.Errorf("mode change kept the cache:\n%s", out6)
	}
}

func TestCopyErrors(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"a": "A", "b": "B", "secret.log": "s", ".dockerignore": "*.log"})
	for _, tc := range []struct{ name, df, want string }{
		{"missing", "FROM scratch\nCOPY nope /x\n", "nope not found in build context"},
		{"ignored", "FROM scratch\nCOPY secret.log /x\n", "not found in build context"},
		{"outside", "FROM scratch\nCOPY ../../etc/passwd /x\n", "not found in build context"},
		{"multi no slash", "FROM scratch\nCOPY a b /x\n", "must be a directory and end with a /"},
		{"remote add", "FROM scratch\nADD https://example.com/x /x\n", "remote sources are not supported"},
		{"from unknown image", "FROM nosuchimage:1\n", `image "nosuchimage:1" not found`},
		{"copy from unknown", "FROM scratch\nCOPY --from=nosuch /a /b\n", `"nosuch" not found`},
		{"bad chmod", "FROM scratch\nCOPY --chmod=9z a /x\n", "octal"},
		{"syntax", "FROM scratch\nCOPY a\n", "Dockerfile:2:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := "bad:" + strings.ReplaceAll(tc.name, " ", "-")
			_, out, err := e.build(tc.df, Options{Tags: []string{tag}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q\n%s", err, tc.want, out)
			}
			if _, err := e.store.Resolve(context.Background(), tag); !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("failed build tagged an image")
			}
		})
	}
}

func TestMultiStageTarget(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"a": "A", "b": "B"})
	df := `FROM scratch AS one
COPY a /a
FROM scratch AS two
COPY b /b
FROM one AS three
COPY --from=two /b /from-two
FROM scratch AS unused
COPY a /never
`
	_, out := e.mustBuild(df, Options{Target: "three", Tags: []string{"ms"}})
	if strings.Contains(out, "/never") {
		t.Errorf("built a stage the target does not need:\n%s", out)
	}
	img, _ := e.store.Resolve(context.Background(), "ms")
	root := e.store.rootfs(img)
	for _, p := range []string{"a", "from-two"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s missing: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "b")); err == nil {
		t.Errorf("stage two's /b leaked into three")
	}
	if len(img.Layers) != 2 {
		t.Errorf("%d layers, want 2 (one's COPY and three's COPY)", len(img.Layers))
	}
}

func TestAddArchive(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "x/y"), 0o755)
	os.WriteFile(filepath.Join(src, "x/y/f"), []byte("F"), 0o640)
	if out, err := execOut("tar", "-C", src, "-czf", filepath.Join(e.ctx, "a.tar.gz"), "x"); err != nil {
		t.Fatal(err, out)
	}
	e.write(map[string]string{"plain.txt": "P"})
	_, out := e.mustBuild("FROM scratch\nADD a.tar.gz /opt/\nADD plain.txt /p\n", Options{Tags: []string{"add"}})
	img, _ := e.store.Resolve(context.Background(), "add")
	root := e.store.rootfs(img)
	if b, err := os.ReadFile(filepath.Join(root, "opt/x/y/f")); err != nil || string(b) != "F" {
		t.Errorf("archive not extracted: %v %q\n%s", err, b, out)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "p")); string(b) != "P" {
		t.Errorf("plain ADD: %q", b)
	}
}

func TestOnbuildAndArgs(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"f": "F"})
	e.mustBuild("FROM scratch\nONBUILD COPY f /onbuilt\nONBUILD ENV X=1\n", Options{Tags: []string{"parent"}})
	df := "ARG N=default\nFROM parent\nARG N\nENV GOT=$N\n"
	_, out := e.mustBuild(df, Options{Tags: []string{"child"}})
	img, _ := e.store.Resolve(context.Background(), "child")
	root := e.store.rootfs(img)
	if _, err := os.Stat(filepath.Join(root, "onbuilt")); err != nil {
		t.Errorf("ONBUILD COPY did not run: %v\n%s", err, out)
	}
	if !contains(img.Config.Config.Env, "X=1") || !contains(img.Config.Config.Env, "GOT=default") {
		t.Errorf("Env %v", img.Config.Config.Env)
	}
	if len(img.Config.Config.OnBuild) != 0 {
		t.Errorf("triggers inherited: %v", img.Config.Config.OnBuild)
	}
	e.mustBuild(df, Options{Tags: []string{"child"}, BuildArgs: map[string]string{"N": "cli"}})
	img, _ = e.store.Resolve(context.Background(), "child")
	if !contains(img.Config.Config.Env, "GOT=cli") {
		t.Errorf("--build-arg ignored: %v", img.Config.Config.Env)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A build killed mid-step leaves a lock nobody holds, a mounted snapshot
// and a bundle; the next build removes them.
func TestRecoverDeadBuild(t *testing.T) {
	e := newEnv(t)
	key := idPrefix + "dead-1"
	target := filepath.Join(e.b.TmpDir, key)
	os.MkdirAll(target, 0o755)
	if err := e.store.Start(context.Background(), key, "", target); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(target, "half-written"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(e.b.TmpDir, idPrefix+"dead-2-bundle"), 0o700)
	os.WriteFile(filepath.Join(e.b.TmpDir, "dead.lock"), nil, 0o600)
	e.mustBuild("FROM scratch\nENV A=1\n", Options{})
	if _, ok := e.store.active[key]; ok {
		t.Errorf("the dead build's snapshot is still there")
	}
	if ents, _ := os.ReadDir(e.b.TmpDir); len(ents) != 0 {
		var names []string
		for _, d := range ents {
			names = append(names, d.Name())
		}
		t.Errorf("left in tmp: %v", names)
	}
}

func TestWorkdirAndCopyFromImage(t *testing.T) {
	e := newEnv(t)
	base := t.TempDir()
	os.MkdirAll(filepath.Join(base, "exists"), 0o755)
	os.WriteFile(filepath.Join(base, "tool"), []byte("TOOL"), 0o755)
	e.store.importDir("base:1", base)
	// WORKDIR of an existing directory adds no layer; a new one adds one.
	e.mustBuild("FROM base:1\nWORKDIR /exists\n", Options{Tags: []string{"w1"}})
	img, _ := e.store.Resolve(context.Background(), "w1")
	if len(img.Layers) != 1 {
		t.Errorf("WORKDIR of an existing dir: %d layers, want 1", len(img.Layers))
	}
	e.mustBuild("FROM base:1\nWORKDIR /new/dir\n", Options{Tags: []string{"w2"}})
	img, _ = e.store.Resolve(context.Background(), "w2")
	if len(img.Layers) != 2 {
		t.Errorf("WORKDIR of a new dir: %d layers, want 2", len(img.Layers))
	}
	if _, err := os.Stat(filepath.Join(e.store.rootfs(img), "new/dir")); err != nil {
		t.Errorf("WORKDIR not created: %v", err)
	}
	// COPY --from an image that is not a stage.
	e.mustBuild("FROM scratch\nCOPY --from=base:1 /tool /bin/tool\n", Options{Tags: []string{"cf"}})
	img, _ = e.store.Resolve(context.Background(), "cf")
	if b, err := os.ReadFile(filepath.Join(e.store.rootfs(img), "bin/tool")); err != nil || string(b) != "TOOL" {
		t.Errorf("COPY --from=image: %q %v", b, err)
	}
}
