package e2e

import (
	"archive/tar"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

// berthIn runs berth with --root root and fails t unless it exits 0.
func berthIn(t *testing.T, root string, args ...string) string {
	t.Helper()
	stdout, stderr, code := run(t, "berth", append([]string{"--root", root}, args...)...)
	if code != 0 {
		t.Fatalf("berth %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestImageLifecycle(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	id := strings.TrimSpace(berthIn(t, root, "import", "--change", `CMD ["/bin/sh"]`, testutil.RootfsTar(t), "busybox"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("import printed %q", id)
	}
	if out := berthIn(t, root, "images", "-q"); strings.TrimSpace(out) != id[7:19] {
		t.Errorf("images -q = %q", out)
	}
	berthIn(t, root, "tag", "busybox", "localhost/mine:v1")
	out := berthIn(t, root, "images", "--format", "{{.Repository}}:{{.Tag}}")
	if !strings.Contains(out, "busybox:latest") || !strings.Contains(out, "localhost/mine:v1") {
		t.Errorf("images --format = %q", out)
	}
	out = berthIn(t, root, "image", "inspect", "--format", "{{.Id}} {{index .Config.Cmd 0}}", "busybox")
	if strings.TrimSpace(out) != id+" /bin/sh" {
		t.Errorf("inspect = %q", out)
	}
	var docs []map[string]any
	if err := json.Unmarshal([]byte(berthIn(t, root, "image", "inspect", "localhost/mine:v1")), &docs); err != nil || len(docs) != 1 {
		t.Fatalf("inspect json: %v", err)
	}
	if out := berthIn(t, root, "history", "busybox"); !strings.Contains(out, "berth import") {
		t.Errorf("history = %q", out)
	}
	var row map[string]string
	out = berthIn(t, root, "images", "--format", "json", "--filter", "reference=busybox")
	if err := json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &row); err != nil || row["Repository"] != "busybox" || row["Tag"] != "latest" || row["ID"] != id[7:19] {
		t.Errorf("images --format json --filter reference=busybox = %q (%v)", out, err)
	}
	if out := berthIn(t, root, "images", "-q", "--filter", "dangling=true"); out != "" {
		t.Errorf("dangling images: %q", out)
	}
	if out := berthIn(t, root, "system", "df"); !strings.Contains(strings.Join(strings.Fields(out), " "), "Images 1 ") {
		t.Errorf("system df = %q", out)
	}
	// An untagged copy is dangling, and image prune removes it.
	berthIn(t, root, "import", testutil.RootfsTar(t))
	if out := berthIn(t, root, "images", "-q", "--filter", "dangling=true"); strings.TrimSpace(out) == "" {
		t.Error("untagged import is not listed as dangling")
	}
	if out := berthIn(t, root, "image", "prune"); !strings.Contains(out, "deleted: sha256:") {
		t.Errorf("image prune = %q", out)
	}
	if out := berthIn(t, root, "images", "-q", "--filter", "dangling=true"); out != "" {
		t.Errorf("dangling images after prune: %q", out)
	}
	archive := filepath.Join(t.TempDir(), "img.tar")
	berthIn(t, root, "save", "-o", archive, "busybox")
	other := t.TempDir()
	if out := berthIn(t, other, "load", "-i", archive); !strings.Contains(out, "Loaded image: busybox:latest") {
		t.Errorf("load = %q", out)
	}
	if _, stderr, code := run(t, "berth", "--root", root, "image", "inspect", "nosuch"); code == 0 || !strings.Contains(stderr, "no such image") {
		t.Errorf("inspect nosuch: %d %q", code, stderr)
	}
	if _, stderr, code := run(t, "berth", "--root", root, "rmi", id); code == 0 || !strings.Contains(stderr, "multiple repositories") {
		t.Errorf("rmi of a twice-named ID: %d %q", code, stderr)
	}
	berthIn(t, root, "rmi", "localhost/mine:v1", "busybox")
	if out := berthIn(t, root, "images", "-q"); out != "" {
		t.Errorf("images after rmi: %q", out)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "snapshots", "layers")); len(ents) != 0 {
		t.Errorf("layers left after rmi: %d", len(ents))
	}
}

func TestImageRegistryInterop(t *testing.T) {
	testutil.RequireRoot(t)
	host := testutil.DistributionRegistry(t)
	skopeo := testutil.RequireCommand(t, "skopeo")
	root := t.TempDir()
	berthIn(t, root, "import", testutil.RootfsTar(t), "busybox")

	// berth push; skopeo and crane read it.
	ref := host + "/berth/busybox:1"
	berthIn(t, root, "tag", "busybox", ref)
	out := berthIn(t, root, "push", ref)
	if !strings.Contains(out, "digest: sha256:") {
		t.Fatalf("push printed %q", out)
	}
	pushed := strings.Fields(out[strings.Index(out, "digest: ")+8:])[0]
	mustRun(t, skopeo, "copy", "--src-tls-verify=false", "docker://"+ref, "oci:"+filepath.Join(t.TempDir(), "oci")+":x")
	if crane, err := exec.LookPath("crane"); err == nil {
		if d := strings.TrimSpace(mustRun(t, crane, "digest", "--insecure", ref)); d != pushed {
			t.Errorf("crane digest %s, berth pushed %s", d, pushed)
		}
		// crane builds and pushes an image; berth pulls it.
		cref := host + "/crane/busybox:3"
		mustRun(t, crane, "append", "--insecure", "-f", testutil.RootfsTar(t), "-t", cref)
		fresh := t.TempDir()
		berthIn(t, fresh, "pull", "-q", cref)
		checkRootfs(t, fresh, cref)
	} else if testutil.InCI() {
		t.Fatal("crane is not installed (scripts/deps.d/go-tools)")
	}

	// skopeo pushes an image; berth pulls it, by tag and by digest.
	sref := host + "/skopeo/busybox:2"
	mustRun(t, skopeo, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+ref, "docker://"+sref)
	fresh := t.TempDir()
	out = berthIn(t, fresh, "pull", sref)
	if !strings.Contains(out, "Downloaded newer image") {
		t.Errorf("pull printed %q", out)
	}
	checkRootfs(t, fresh, sref)
	if out := berthIn(t, fresh, "pull", sref); !strings.Contains(out, "Image is up to date") {
		t.Errorf("second pull printed %q", out)
	}
	berthIn(t, fresh, "pull", "-q", host+"/berth/busybox@"+pushed)

	// Errors: unknown image, registry down.
	if _, stderr, code := run(t, "berth", "--root", fresh, "pull", host+"/nope:1"); code == 0 || !strings.Contains(stderr, "not found") {
		t.Errorf("pull of a missing image: %d %q", code, stderr)
	}
	if _, stderr, code := run(t, "berth", "--root", fresh, "pull", "127.0.0.1:1/x:1"); code == 0 || !strings.Contains(stderr, "unreachable") {
		t.Errorf("pull from a registry that is down: %d %q", code, stderr)
	}
}

// checkRootfs checks that ref's layers are unpacked with busybox in them.
func checkRootfs(t *testing.T, root, ref string) {
	t.Helper()
	lower := strings.TrimSpace(berthIn(t, root, "image", "inspect", "--format", "{{.GraphDriver.Data.LowerDir}}", ref))
	found := false
	for _, d := range strings.Split(lower, ":") {
		if _, err := os.Stat(filepath.Join(d, "bin", "busybox")); err == nil {
			found = true
		}
	}
	if !found {
		t.Errorf("%s: no bin/busybox in its layers %q", ref, lower)
	}
}

func TestImagePodmanInterop(t *testing.T) {
	testutil.RequireRoot(t)
	podman := testutil.RequireCommand(t, "podman")
	root := t.TempDir()
	berthIn(t, root, "import", testutil.RootfsTar(t), "localhost/berthbox:1")
	pdir := t.TempDir()
	p := func(args ...string) string {
		return mustRun(t, podman, append([]string{"--root", filepath.Join(pdir, "root"), "--runroot", filepath.Join(pdir, "run"), "--storage-driver", "vfs"}, args...)...)
	}
	for _, format := range []string{"docker-archive", "oci-archive"} {
		archive := filepath.Join(t.TempDir(), "b.tar")
		berthIn(t, root, "save", "--format", format, "-o", archive, "localhost/berthbox:1")
		out := p("load", "-i", archive)
		if !strings.Contains(out, "berthbox") && format == "docker-archive" {
			t.Errorf("podman load of berth's %s: %q", format, out)
		}
	}
	if out := p("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "localhost/berthbox:1") {
		t.Errorf("podman images: %q", out)
	}
	for _, format := range []string{"docker-archive", "oci-archive"} {
		archive := filepath.Join(t.TempDir(), "p.tar")
		p("save", "--format", format, "-o", archive, "localhost/berthbox:1")
		fresh := t.TempDir()
		berthIn(t, fresh, "load", "-i", archive)
		if format == "docker-archive" {
			checkRootfs(t, fresh, "localhost/berthbox:1")
		}
	}
}

// bigTar writes a tar with one incompressible file of size bytes.
func bigTar(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: size})
	if _, err := io.CopyN(tw, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	return p
}

// killDuring starts berth args and kill -9s it once its work shows on disk.
func killDuring(t *testing.T, root string, args ...string) {
	t.Helper()
	bin := testutil.BerthBinary(t)
	cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if busy(filepath.Join(root, "content", "ingest")) || busy(filepath.Join(root, "snapshots", "tmp")) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("berth never started writing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	if err == nil {
		t.Skip("berth finished before it could be killed")
	}
}

func busy(dir string) bool {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && (fi.Size() > 1<<20 || fi.IsDir()) {
			return true
		}
	}
	return false
}

// checkConsistent: no image is visible, and the next command cleared the
// killed process's debris.
func checkConsistent(t *testing.T, root string) {
	t.Helper()
	if out := berthIn(t, root, "images", "-q"); out != "" {
		t.Errorf("a half-done image is visible: %q", out)
	}
	for _, d := range []string{"content/ingest", "snapshots/tmp", "snapshots/layers"} {
		if ents, _ := os.ReadDir(filepath.Join(root, d)); len(ents) != 0 {
			t.Errorf("%s not clean after the next command: %d entries", d, len(ents))
		}
	}
	// And the store still works.
	berthIn(t, root, "import", testutil.RootfsTar(t), "busybox")
	berthIn(t, root, "rmi", "busybox")
}

func TestImageCrashSafety(t *testing.T) {
	testutil.RequireRoot(t)
	big := bigTar(t, 256<<20)
	t.Run("import", func(t *testing.T) {
		root := t.TempDir()
		killDuring(t, root, "import", big, "big")
		checkConsistent(t, root)
	})
	t.Run("load", func(t *testing.T) {
		src := t.TempDir()
		berthIn(t, src, "import", big, "big")
		archive := filepath.Join(t.TempDir(), "big-archive.tar")
		berthIn(t, src, "save", "-o", archive, "big")
		root := t.TempDir()
		killDuring(t, root, "load", "-i", archive)
		checkConsistent(t, root)
	})
	t.Run("pull", func(t *testing.T) {
		if _, err := exec.LookPath("docker-registry"); err != nil && !testutil.InCI() {
			t.Skip("docker-registry is not installed")
		}
		host := testutil.DistributionRegistry(t)
		src := t.TempDir()
		berthIn(t, src, "import", big, host+"/big:1")
		berthIn(t, src, "push", "-q", host+"/big:1")
		root := t.TempDir()
		killDuring(t, root, "pull", host+"/big:1")
		checkConsistent(t, root)
		berthIn(t, root, "pull", "-q", host+"/big:1")
	})
}
