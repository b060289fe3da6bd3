package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// dfRow finds a summary row of `system df` and returns its columns after
// the type.
func dfRow(t *testing.T, out, typ string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, typ+"  "); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatalf("system df has no %s row: %q", typ, out)
	return nil
}

func TestImgfeatSystemDf(t *testing.T) {
	testutil.RequireRoot(t)
	e := newImgfeatEnv(t)
	root := t.TempDir()
	out := e.ok("--root", root, "system", "df")
	if !regexp.MustCompile(`^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\n`).MatchString(out) {
		t.Fatalf("system df header: %q", out)
	}
	for _, typ := range []string{"Images", "Containers", "Local Volumes", "Build Cache"} {
		if got := dfRow(t, out, typ); strings.Join(got, " ") != "0 0 0B 0B" {
			t.Errorf("empty store: %s row %v", typ, got)
		}
	}

	e.ok("--root", root, "import", testutil.RootfsTar(t), "dfbase")
	vol := imgfeatUniq("dfvol")
	e.ok("--root", root, "volume", "create", vol)
	e.ok("--root", root, "volume", "create", imgfeatUniq("dfidle"))
	mp := strings.TrimSpace(e.ok("--root", root, "volume", "inspect", "--format", "{{.Mountpoint}}", vol))
	if err := os.WriteFile(filepath.Join(mp, "data"), make([]byte, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("--root", root, "create", "--name", imgfeatUniq("dfctr"), "-v", vol+":/data", "dfbase", "true")
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM dfbase\nCOPY f /f\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "f"), make([]byte, 1<<20), 0o644)
	e.ok("--root", root, "build", "-q", "-t", "dfbuilt", ctx)

	out = e.ok("--root", root, "system", "df")
	if got := dfRow(t, out, "Images"); got[0] != "2" || got[1] != "1" || got[2] == "0B" {
		t.Errorf("Images row %v: %q", got, out)
	}
	if got := dfRow(t, out, "Containers"); got[0] != "1" || got[1] != "0" {
		t.Errorf("Containers row %v: %q", got, out)
	}
	if got := dfRow(t, out, "Local Volumes"); got[0] != "2" || got[1] != "1" || !strings.HasPrefix(got[2], "3.") || got[3] != "0B" {
		t.Errorf("Local Volumes row %v: %q", got, out)
	}
	if got := dfRow(t, out, "Build Cache"); got[0] == "0" || got[1] != "0" || got[2] == "0B" {
		t.Errorf("Build Cache row %v: %q", got, out)
	}

	out = e.ok("--root", root, "system", "df", "-v")
	for _, want := range []string{"Images space usage:", "dfbase", "dfbuilt", "Containers space usage:", "Local Volumes space usage:", vol + " ", "Build cache usage: ", "CACHE ID"} {
		if !strings.Contains(out, want) {
			t.Errorf("system df -v lacks %q: %q", want, out)
		}
	}
	if out := e.ok("--root", root, "system", "df", "--format", "{{.Type}}={{.TotalCount}}"); !strings.Contains(out, "Local Volumes=2") {
		t.Errorf("system df --format = %q", out)
	}
	e.ok("--root", root, "builder", "prune", "-f")
	if got := dfRow(t, e.ok("--root", root, "system", "df"), "Build Cache"); got[0] != "0" {
		t.Errorf("after builder prune: Build Cache row %v", got)
	}
	if _, errOut, code := e.run("", "--root", root, "system", "df", "-v", "--format", "json"); code != 125 {
		t.Errorf("-v with --format: exit %d %q", code, errOut)
	}
}
