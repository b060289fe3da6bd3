package volume

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
)

func TestStore(t *testing.T) {
	s := Open(t.TempDir())
	v, err := s.Create("data", map[string]string{"k": "v"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if v.Driver != "local" || v.Labels["k"] != "v" || filepath.Base(v.Mountpoint) != "_data" {
		t.Fatalf("created %+v", v)
	}
	os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("x"), 0o644)
	again, err := s.Create("data", nil, false)
	if err != nil || again.Mountpoint != v.Mountpoint {
		t.Fatalf("re-create: %+v %v", again, err)
	}
	if _, err := os.Stat(filepath.Join(v.Mountpoint, "f")); err != nil {
		t.Fatal("re-create lost data")
	}
	anon, err := s.Create("", nil, true)
	if err != nil || len(anon.Name) != 64 || !anon.Anonymous {
		t.Fatalf("anonymous: %+v %v", anon, err)
	}
	for _, bad := range []string{"../x", "a/b", "", ".hidden"} {
		if _, err := s.Get(bad); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Get(%q): %v", bad, err)
		}
	}
	if _, err := s.Create("bad/name", nil, false); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad name: %v", err)
	}
	list, _ := s.List()
	if len(list) != 2 {
		t.Fatalf("list %d", len(list))
	}
	if err := s.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("data"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("after remove: %v", err)
	}
}

func TestFillIfEmpty(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(src, "sub"), 0o750)
	os.WriteFile(filepath.Join(src, "sub", "f"), []byte("img"), 0o640)
	os.Symlink("/etc/passwd", filepath.Join(src, "link"))
	if err := FillIfEmpty(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "sub", "f")); string(b) != "img" {
		t.Fatalf("copied %q", b)
	}
	if l, _ := os.Readlink(filepath.Join(dst, "link")); l != "/etc/passwd" {
		t.Fatalf("symlink copied as %q", l)
	}
	if st, _ := os.Stat(filepath.Join(dst, "sub")); st.Mode().Perm() != 0o750 {
		t.Fatalf("mode %v", st.Mode())
	}
	// A volume with content is left alone.
	os.WriteFile(filepath.Join(src, "new"), []byte("later"), 0o644)
	if err := FillIfEmpty(src, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "new")); err == nil {
		t.Fatal("a non-empty volume was filled again")
	}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"data", true},
		{"a", true},
		{"9lives", true},
		{"my_vol.v2-x", true},
		{strings.Repeat("a", 255), true},
		{strings.Repeat("a", 256), false},
		{"", false},
		{"_data", false},
		{".hidden", false},
		{"-x", false},
		{"a/b", false},
		{"/abs", false},
		{"a b", false},
		{"é", false},
		{"a:b", false},
	} {
		if got := ValidName(tc.name); got != tc.want {
			t.Errorf("ValidName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
