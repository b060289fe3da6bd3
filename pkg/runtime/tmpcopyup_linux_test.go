package runtime_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
)

// tmpcopyup (podman --read-only) fills a writable tmpfs with the image's
// files at the destination: files, modes, owners, symlinks and subdirectories.
func TestTmpcopyup(t *testing.T) { forEachInit(t, testTmpcopyup) }

func testTmpcopyup(t *testing.T) {
	rt := newRuntime(t)
	spec := testSpec("sh", "-c", strings.Join([]string{
		"cat /data/hello",
		"stat -c '%a %u:%g' /data/hello /data/sub",
		"readlink /data/link",
		"cat /data/sub/deep",
		"echo new > /data/new && cat /data/new",
		"grep ' /data ' /proc/mounts | cut -d' ' -f3",
		"touch /x 2>/dev/null || echo root-ro",
	}, "; "))
	spec.Root = &specs.Root{Path: "rootfs", Readonly: true}
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs",
		Options: []string{"tmpcopyup", "nosuid", "nodev", "mode=755"}})
	bundle := testutil.Bundle(t, spec)
	data := filepath.Join(bundle, "rootfs", "data")
	copyupMust(t, os.MkdirAll(filepath.Join(data, "sub"), 0o750))
	copyupMust(t, os.WriteFile(filepath.Join(data, "hello"), []byte("from the image\n"), 0o604))
	copyupMust(t, os.Chown(filepath.Join(data, "hello"), 1, 2))
	copyupMust(t, os.WriteFile(filepath.Join(data, "sub", "deep"), []byte("deep file\n"), 0o644))
	copyupMust(t, os.Symlink("hello", filepath.Join(data, "link")))
	code, out, err := runBundle(t, rt, uniqueID(t), bundle)
	if err != nil || code != 0 {
		t.Fatalf("run: code %d, err %v, output %q", code, err, out)
	}
	want := "from the image\n604 1:2\n750 0:0\nhello\ndeep file\nnew\ntmpfs\nroot-ro\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if _, err := os.Stat(filepath.Join(data, "new")); !os.IsNotExist(err) {
		t.Errorf("a write to the tmpfs reached the image: %v", err)
	}
}

func TestTmpcopyupNeedsTmpfs(t *testing.T) { forEachInit(t, testTmpcopyupNeedsTmpfs) }

func testTmpcopyupNeedsTmpfs(t *testing.T) {
	rt := newRuntime(t)
	spec := testSpec("true")
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"rbind", "tmpcopyup"}})
	_, _, err := runOutput(t, rt, spec)
	if err == nil || !strings.Contains(err.Error(), "tmpcopyup") {
		t.Fatalf("tmpcopyup on a bind mount: err %v, want an error naming tmpcopyup", err)
	}
}

func copyupMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
