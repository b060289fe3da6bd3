package buildcontext

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIgnore(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		".dockerignore":               "*.log\n!keep.log\nbuild/\n**/secret\n",
		"sub/Dockerfile.dockerignore": "*.txt\n",
	})
	c, err := Open(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for p, want := range map[string]bool{
		"a.log": true, "keep.log": false, "build/x": true, "build": true,
		"deep/er/secret": true, "src/main.go": false, "a.txt": false,
	} {
		if got := c.Excluded(p); got != want {
			t.Errorf("Excluded(%q) = %v, want %v", p, got, want)
		}
	}
	// <Dockerfile>.dockerignore beside the Dockerfile wins over .dockerignore.
	c2, err := Open(dir, "sub/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if !c2.Excluded("a.txt") || c2.Excluded("a.log") {
		t.Errorf("sub/Dockerfile.dockerignore not used")
	}
}

func TestFromTar(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range map[string]string{"Dockerfile": "FROM scratch\n", "../escape": "x", "d/f": "F"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write([]byte(data))
	}
	tw.Close()
	tmp := t.TempDir()
	c, err := FromTar(&buf, tmp, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df, err := c.ReadDockerfile("Dockerfile")
	if err != nil || string(df) != "FROM scratch\n" {
		t.Errorf("Dockerfile %q %v", df, err)
	}
	if b, err := os.ReadFile(filepath.Join(c.Dir(), "d/f")); err != nil || string(b) != "F" {
		t.Errorf("d/f: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), "escape")); err != nil {
		t.Errorf("../escape not confined: %v", err)
	}
	dir := c.Dir()
	c.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s", dir)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("tmp not cleaned: %d entries", len(ents))
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "nope"), ""); err == nil {
		t.Errorf("missing context accepted")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Open(f, ""); err == nil {
		t.Errorf("file as context accepted")
	}
}
