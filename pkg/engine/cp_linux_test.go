package engine

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

type tarEntry struct {
	name, link string
	typ        byte
	body       string
	mode       int64
}

func mkTar(t *testing.T, entries []tarEntry) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()
	return &b
}

// extractAll is CopyToFromTar's loop on a plain directory.
func extractAll(t *testing.T, dir string, r io.Reader) error {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := extractEntry(root, hdr, tr); err != nil {
			return err
		}
	}
}

func TestExtractEntryStaysInside(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []tarEntry
	}{
		{"dotdot", []tarEntry{{name: "../escape", typ: tar.TypeReg, body: "x"}}},
		{"deep dotdot", []tarEntry{{name: "a/../../escape", typ: tar.TypeReg, body: "x"}}},
		{"absolute symlink then write through it", []tarEntry{{name: "l", typ: tar.TypeSymlink, link: "/"}, {name: "l/escape", typ: tar.TypeReg, body: "x"}}},
		{"relative symlink out then write through it", []tarEntry{{name: "l", typ: tar.TypeSymlink, link: "../.."}, {name: "l/escape", typ: tar.TypeReg, body: "x"}}},
		{"symlink as a directory", []tarEntry{{name: "d", typ: tar.TypeSymlink, link: ".."}, {name: "d/escape/", typ: tar.TypeDir}}},
		{"hard link out", []tarEntry{{name: "h", typ: tar.TypeLink, link: "../outside"}}},
		{"hard link through a symlink", []tarEntry{{name: "l", typ: tar.TypeSymlink, link: "/"}, {name: "h", typ: tar.TypeLink, link: "l/outside"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := t.TempDir()
			outside := filepath.Join(top, "outside")
			os.WriteFile(outside, []byte("secret"), 0o600)
			dir := filepath.Join(top, "in", "dest")
			os.MkdirAll(dir, 0o755)
			if err := extractAll(t, dir, mkTar(t, tc.entries)); err == nil {
				t.Fatal("a hostile stream was extracted without error")
			}
			for _, p := range []string{filepath.Join(top, "escape"), filepath.Join(top, "in", "escape"), "/escape"} {
				if _, err := os.Lstat(p); err == nil {
					t.Fatalf("%s was written outside the destination", p)
				}
			}
			if b, _ := os.ReadFile(outside); string(b) != "secret" {
				t.Fatalf("the outside file changed: %q", b)
			}
		})
	}
}

func TestExtractEntryWritesTree(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "replaced"), []byte("old"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(dir, "was-link"))
	err := extractAll(t, dir, mkTar(t, []tarEntry{
		{name: "./a/", typ: tar.TypeDir, mode: 0o750},
		{name: "a/b/c.txt", typ: tar.TypeReg, body: "hello", mode: 0o4755},
		{name: "a/link", typ: tar.TypeSymlink, link: "b/c.txt"},
		{name: "a/hard", typ: tar.TypeLink, link: "a/b/c.txt"},
		{name: "replaced", typ: tar.TypeReg, body: "new"},
		{name: "was-link", typ: tar.TypeReg, body: "mine"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"a/b/c.txt": "hello", "a/link": "hello", "a/hard": "hello", "replaced": "new", "was-link": "mine"} {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", p, b, err, want)
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, "a", "b", "c.txt")); st == nil || st.Mode()&os.ModeSetuid == 0 || st.Mode().Perm() != 0o755 {
		t.Errorf("c.txt mode %v, want setuid 0755", st.Mode())
	}
	if st, _ := os.Stat(filepath.Join(dir, "a")); st == nil || st.Mode().Perm() != 0o750 {
		t.Errorf("a mode %v, want 0750", st.Mode())
	}
	if b, _ := os.ReadFile("/etc/passwd"); bytes.Equal(b, []byte("mine")) {
		t.Fatal("a symlink was written through")
	}
}
