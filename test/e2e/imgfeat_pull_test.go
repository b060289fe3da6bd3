package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// imgfeatEnv is an environment isolated from the machine's registry
// settings: its own config.json, registry config file and certs.d.
type imgfeatEnv struct {
	t   *testing.T
	env []string
	// Config is the registry config file (BERTH_CONFIG); CertsD the
	// certs.d directory (BERTH_CERTS_D); Docker the DOCKER_CONFIG dir.
	Config, CertsD, Docker string
}

func newImgfeatEnv(t *testing.T) *imgfeatEnv {
	dir := t.TempDir()
	e := &imgfeatEnv{t: t, Config: filepath.Join(dir, "daemon.json"), CertsD: filepath.Join(dir, "certs.d"), Docker: filepath.Join(dir, "docker")}
	os.WriteFile(e.Config, []byte("{}\n"), 0o644)
	os.MkdirAll(e.CertsD, 0o755)
	os.MkdirAll(e.Docker, 0o700)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BERTH_INSECURE_REGISTRIES=") {
			e.env = append(e.env, kv)
		}
	}
	e.env = append(e.env, "BERTH_CONFIG="+e.Config, "BERTH_CERTS_D="+e.CertsD, "DOCKER_CONFIG="+e.Docker)
	return e
}

// setConfig writes the registry config file.
func (e *imgfeatEnv) setConfig(doc string) {
	if err := os.WriteFile(e.Config, []byte(doc), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// run runs berth with stdin and returns stdout, stderr and the exit code.
func (e *imgfeatEnv) run(stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(testutil.BerthBinary(e.t), args...)
	cmd.Env = e.env
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("berth %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// ok runs berth and fails the test unless it exits 0.
func (e *imgfeatEnv) ok(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run("", args...)
	if code != 0 {
		e.t.Fatalf("berth %s: exit %d: %s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fails runs berth, wants a non-zero exit and want in its stderr.
func (e *imgfeatEnv) fails(want string, args ...string) string {
	e.t.Helper()
	_, errOut, code := e.run("", args...)
	if code == 0 || !strings.Contains(errOut, want) {
		e.t.Fatalf("berth %s: exit %d, stderr %q; want a failure saying %q", strings.Join(args, " "), code, errOut, want)
	}
	return errOut
}

func imgfeatUniq(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// imgfeatSeed imports busybox into a fresh store as each of refs and pushes
// them; it returns the store's root.
func imgfeatSeed(e *imgfeatEnv, refs ...string) string {
	e.t.Helper()
	root := e.t.TempDir()
	e.ok("--root", root, "import", testutil.RootfsTar(e.t), refs[0])
	for _, r := range refs[1:] {
		e.ok("--root", root, "tag", refs[0], r)
	}
	for _, r := range refs {
		e.ok("--root", root, "push", "-q", r)
	}
	return root
}

func TestImgfeatPullAllTags(t *testing.T) {
	testutil.RequireRoot(t)
	e := newImgfeatEnv(t)
	reg := testutil.StartRegistry(t, "")
	repo := reg.Addr + "/" + imgfeatUniq("alltags")
	imgfeatSeed(e, repo+":v1", repo+":v2", repo+":latest")

	root := t.TempDir()
	out := e.ok("--root", root, "pull", "-a", repo)
	for _, tag := range []string{"latest", "v1", "v2"} {
		if !strings.Contains(out, tag+": Pulling from "+repo) {
			t.Errorf("pull -a output lacks tag %s: %q", tag, out)
		}
	}
	if !strings.HasSuffix(out, "\n"+repo+"\n") || !strings.Contains(out, "Status: Downloaded newer image for "+repo) {
		t.Errorf("pull -a output = %q", out)
	}
	got := e.ok("--root", root, "images", "--format", "{{.Repository}}:{{.Tag}}", repo)
	for _, tag := range []string{"latest", "v1", "v2"} {
		if !strings.Contains(got, repo+":"+tag+"\n") {
			t.Errorf("images after pull -a lacks %s: %q", tag, got)
		}
	}
	if out := e.ok("--root", root, "pull", "--all-tags", "-q", repo); strings.TrimSpace(out) != repo {
		t.Errorf("pull -a -q = %q", out)
	}
	if out := e.ok("--root", root, "pull", "-a", repo); !strings.Contains(out, "Status: Image is up to date for "+repo) {
		t.Errorf("second pull -a = %q", out)
	}
	for _, bad := range []string{repo + ":v1", repo + "@sha256:" + strings.Repeat("a", 64)} {
		_, errOut, code := e.run("", "--root", root, "pull", "-a", bad)
		if code != 125 || !strings.Contains(errOut, "tag can't be used with --all-tags/-a") {
			t.Errorf("pull -a %s: exit %d, %q", bad, code, errOut)
		}
	}
	e.fails("not found", "--root", root, "pull", "-a", reg.Addr+"/"+imgfeatUniq("absent"))
}
