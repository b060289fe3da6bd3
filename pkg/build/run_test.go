package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// runEnv is an env with the busybox image and an OCI runtime for RUN.
func runEnv(t *testing.T) *env {
	e := newEnv(t)
	rt := os.Getenv("BERTH_RUNTIME")
	if rt == "" {
		rt = testutil.RequireCommand(t, "runc")
	}
	r, err := FindRuntime(rt, filepath.Join(t.TempDir(), "runtime"))
	if err != nil {
		t.Fatal(err)
	}
	e.b.Runtime = r
	e.store.importDir("busybox", testutil.BusyboxRootfs(t))
	return e
}

func TestRun(t *testing.T) {
	e := runEnv(t)
	e.write(map[string]string{"script.sh": "echo from-script > /script-ran\n"})
	df := `FROM busybox
ARG GREETING=hello
ENV WHO=world
WORKDIR /work/dir
RUN echo "$GREETING $WHO" > out.txt && id -u > uid.txt
RUN ["/bin/sh", "-c", "pwd > /pwd.txt"]
RUN rm /bin/vi && mkdir -p /opt/x && touch /opt/x/y
COPY script.sh /
RUN sh /script.sh
USER nobody
RUN id -u > /tmp/nobody-uid
SHELL ["/bin/sh", "-ec"]
RUN <<EOT
echo heredoc > /tmp/heredoc
EOT
RUN cat /proc/self/status | grep -q CapBnd && ! ip link show eth0 2>/dev/null
`
	res, out := e.mustBuild(df, Options{Tags: []string{"run"}})
	img, _ := e.store.Resolve(context.Background(), "run")
	root := e.store.rootfs(img)
	for p, want := range map[string]string{
		"work/dir/out.txt": "hello world\n",
		"work/dir/uid.txt": "0\n",
		"pwd.txt":          "/work/dir\n",
		"script-ran":       "from-script\n",
		"tmp/nobody-uid":   "65534\n",
		"tmp/heredoc":      "heredoc\n",
	} {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q (%v), want %q\n%s", p, b, err, want, out)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "bin/vi")); err == nil {
		t.Errorf("RUN rm did not remove /bin/vi")
	}
	// The build's changes are layers on top of the base's one.
	if n := len(img.Layers); n != 1+8 {
		t.Errorf("%d layers, want 9", n)
	}
	if img.Config.Config.User != "nobody" || img.Config.Config.WorkingDir != "/work/dir" {
		t.Errorf("config user %q workdir %q", img.Config.Config.User, img.Config.Config.WorkingDir)
	}
	res2, out2 := e.mustBuild(df, Options{Tags: []string{"run"}})
	if res2.Built != 0 || res2.ID != res.ID {
		t.Errorf("rebuild not fully cached (%d/%d):\n%s", res2.Cached, res2.Steps, out2)
	}
	// A different build arg is a different RUN.
	_, out3 := e.mustBuild(df, Options{BuildArgs: map[string]string{"GREETING": "bye"}})
	if strings.Contains(out3, "RUN echo \"$GREETING $WHO\" > out.txt && id -u > uid.txt CACHED") {
		t.Errorf("changed build arg reused the RUN cache:\n%s", out3)
	}
}

func TestRunFails(t *testing.T) {
	e := runEnv(t)
	before, _ := os.ReadDir(e.b.TmpDir)
	_, out, err := e.build("FROM busybox\nRUN echo line-one; echo line-two >&2; exit 3\n", Options{Tags: []string{"fails"}})
	if err == nil {
		t.Fatalf("failing RUN succeeded:\n%s", out)
	}
	for _, want := range []string{"exit code 3", "line-one", "line-two", "Dockerfile:2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := e.store.Resolve(context.Background(), "fails"); err == nil {
		t.Errorf("failed build was tagged")
	}
	after, _ := os.ReadDir(e.b.TmpDir)
	if len(after) != len(before) {
		t.Errorf("build left %d entries in its tmp dir", len(after)-len(before))
	}
	if len(e.store.active) != 0 {
		t.Errorf("build left %d snapshots", len(e.store.active))
	}
	if ents, _ := os.ReadDir(e.b.Runtime.(*OCIRuntime).Root); len(ents) != 0 {
		t.Errorf("build left %d containers in the runtime's state", len(ents))
	}
}
