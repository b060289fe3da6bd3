package fscopy

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

func mkTree(t *testing.T) (*Tree, string) {
	t.Helper()
	dir := t.TempDir()
	tr, err := OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, dir
}

func TestResolve(t *testing.T) {
	tr, dir := mkTree(t)
	os.MkdirAll(filepath.Join(dir, "real/sub"), 0o755)
	os.Symlink("/real", filepath.Join(dir, "abs"))
	os.Symlink("../../../real/sub", filepath.Join(dir, "real/up"))
	os.Symlink("loop", filepath.Join(dir, "loop"))
	os.Symlink("/etc/passwd", filepath.Join(dir, "passwd"))
	for _, tc := range []struct {
		in, want   string
		followLast bool
	}{
		{"abs/sub", "real/sub", true},
		{"/abs/sub/x", "real/sub/x", true},
		{"real/up/f", "real/sub/f", true},
		{"../../../etc", "etc", true},
		{"passwd", "etc/passwd", true},
		{"abs", "abs", false},
		{"missing/a/b", "missing/a/b", true},
	} {
		got, err := tr.Resolve(tc.in, tc.followLast)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := tr.Resolve("loop/x", true); err == nil || !strings.Contains(err.Error(), "too many levels") {
		t.Errorf("loop: %v", err)
	}
}

func TestGlob(t *testing.T) {
	tr, dir := mkTree(t)
	for _, f := range []string{"a.txt", "b.txt", "c.log", "d/e.txt", "d/f.txt"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	got, err := tr.Glob("*.txt", func(p string) bool { return p == "b.txt" })
	if err != nil || strings.Join(got, ",") != "a.txt" {
		t.Errorf("*.txt = %v, %v", got, err)
	}
	got, _ = tr.Glob("d/*.txt", nil)
	if strings.Join(got, ",") != "d/e.txt,d/f.txt" {
		t.Errorf("d/*.txt = %v", got)
	}
	if got, _ := tr.Glob("nothing*", nil); len(got) != 0 {
		t.Errorf("nothing* = %v", got)
	}
	if _, err := tr.Glob("[", nil); err == nil {
		t.Errorf("bad pattern accepted")
	}
}

// Symlinks planted in the destination image cannot send a copy outside it.
func TestCopyConfined(t *testing.T) {
	testutil.RequireRoot(t)
	src, sdir := mkTree(t)
	dst, ddir := mkTree(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(sdir, "f"), []byte("data"), 0o644)
	os.Symlink(outside, filepath.Join(ddir, "etc"))            // absolute, to a host dir
	os.Symlink("../../../"+outside, filepath.Join(ddir, "up")) // relative, climbing
	for _, dest := range []string{"/etc/", "/up/"} {
		if err := src.Copy("f", dst, dest, true, Options{}); err != nil {
			t.Fatalf("copy to %s: %v", dest, err)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("copy wrote outside the tree: %v", ents)
	}
	if b, err := os.ReadFile(filepath.Join(ddir, outside, "f")); err != nil || string(b) != "data" {
		t.Errorf("copy through /etc did not land inside the tree: %v", err)
	}
}

func TestExtractConfined(t *testing.T) {
	testutil.RequireRoot(t)
	src, sdir := mkTree(t)
	dst, ddir := mkTree(t)
	outside := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, data string) {
		h.Size = int64(len(data))
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		tw.WriteHeader(h)
		tw.Write([]byte(data))
	}
	add(&tar.Header{Name: "../../escape", Typeflag: tar.TypeReg}, "x")
	add(&tar.Header{Name: "/abs", Typeflag: tar.TypeReg}, "x")
	add(&tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: outside}, "")
	add(&tar.Header{Name: "link/through", Typeflag: tar.TypeReg}, "x")
	add(&tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "../../../../etc/hostname"}, "")
	add(&tar.Header{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}, "")
	tw.Close()
	os.WriteFile(filepath.Join(sdir, "a.tar"), buf.Bytes(), 0o644)
	ok, err := src.IsArchive("a.tar")
	if err != nil || !ok {
		t.Fatalf("IsArchive: %v %v", ok, err)
	}
	err = src.Extract("a.tar", dst, "/x", nil, nil)
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("extract wrote outside the tree: %v", ents)
	}
	if err != nil && !strings.Contains(err.Error(), "hard link") {
		t.Fatalf("extract: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(ddir, "x/dev")); err == nil {
		t.Errorf("device node created")
	}
	for _, p := range []string{"x/escape", "x/abs"} {
		if _, err := os.Stat(filepath.Join(ddir, p)); err != nil {
			t.Errorf("%s not confined to the destination: %v", p, err)
		}
	}
}

func TestChecksumIgnoresMtime(t *testing.T) {
	tr, dir := mkTree(t)
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d/f"), []byte("1"), 0o644)
	sum := func() string {
		var b bytes.Buffer
		h := &hashBuf{&b}
		if err := tr.Checksum(h, "d", false, nil); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a := sum()
	os.Chtimes(filepath.Join(dir, "d/f"), timeZero, timeZero)
	if b := sum(); a != b {
		t.Errorf("mtime changed the checksum")
	}
	os.WriteFile(filepath.Join(dir, "d/f"), []byte("2"), 0o644)
	if c := sum(); c == a {
		t.Errorf("content change kept the checksum")
	}
	os.Chmod(filepath.Join(dir, "d/f"), 0o600)
	os.WriteFile(filepath.Join(dir, "d/f"), []byte("1"), 0o600)
	if c := sum(); c == a {
		t.Errorf("mode change kept the checksum")
	}
}
