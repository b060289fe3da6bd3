package layer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/errdefs"
)

type entry struct {
	name, link string
	typ        byte
	body       string
	mode       int64
	dev        int64
}

func mkTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if e.typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode, Size: int64(len(e.body)), Devmajor: e.dev, Devminor: e.dev}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// sandbox makes a layer dir inside a parent that holds a "victim" file and
// directory, so escapes are detectable.
func sandbox(t *testing.T) (parent, dir string) {
	parent = t.TempDir()
	dir = filepath.Join(parent, "layer")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(parent, "victim"), []byte("original"), 0o644)
	os.Mkdir(filepath.Join(parent, "victimdir"), 0o755)
	return parent, dir
}

func checkNoEscape(t *testing.T, parent string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(parent, "victim"))
	if err != nil || string(b) != "original" {
		t.Errorf("victim changed: %q %v", b, err)
	}
	ents, _ := os.ReadDir(parent)
	for _, e := range ents {
		if n := e.Name(); n != "victim" && n != "victimdir" && n != "layer" {
			t.Errorf("entry %q created outside the layer", n)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(parent, "victimdir")); len(ents) != 0 {
		t.Errorf("victimdir written to: %v", ents)
	}
	fi, _ := os.Stat(filepath.Join(parent, "victim"))
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("victim mode changed to %v", fi.Mode())
	}
}

func TestApplyHostile(t *testing.T) {
	testutil.RequireRoot(t) // whiteouts are device nodes; chown needs root
	for _, tc := range []struct {
		name    string
		entries []entry
		wantErr bool
	}{
		{"dotdot", []entry{{name: "../victim", typ: tar.TypeReg, body: "pwned"}}, true},
		{"dotdot deep", []entry{{name: "a/../../victim", typ: tar.TypeReg, body: "pwned"}}, true},
		{"absolute", []entry{{name: "/victim", typ: tar.TypeReg, body: "inside"}}, false},
		{"symlink parent absolute", []entry{
			{name: "a", typ: tar.TypeSymlink, link: "/"},
			{name: "a/victim", typ: tar.TypeReg, body: "pwned"}}, true},
		{"symlink parent relative", []entry{
			{name: "a", typ: tar.TypeSymlink, link: ".."},
			{name: "a/victim", typ: tar.TypeReg, body: "pwned"}}, true},
		{"symlink parent to dir outside", []entry{
			{name: "d", typ: tar.TypeSymlink, link: "../victimdir"},
			{name: "d/x", typ: tar.TypeReg, body: "pwned"}}, true},
		{"symlink then overwrite through it", []entry{
			{name: "v", typ: tar.TypeSymlink, link: "../victim"},
			{name: "v", typ: tar.TypeReg, body: "replaced the link, not the target"}}, false},
		{"symlink then chmod dir through it", []entry{
			{name: "v", typ: tar.TypeSymlink, link: "../victim"},
			{name: "v", typ: tar.TypeDir, mode: 0o777}}, false},
		{"hardlink outside", []entry{{name: "h", typ: tar.TypeLink, link: "../victim"}}, true},
		{"hardlink absolute", []entry{{name: "h", typ: tar.TypeLink, link: "/victim"}}, true},
		{"hardlink through symlink", []entry{
			{name: "s", typ: tar.TypeSymlink, link: "/"},
			{name: "h", typ: tar.TypeLink, link: "s/victim"}}, true},
		{"whiteout escaping", []entry{{name: "../.wh.victim", typ: tar.TypeReg}}, true},
		{"whiteout dotdot", []entry{{name: "a/.wh...", typ: tar.TypeReg}}, true},
		{"whiteout via symlink dir", []entry{
			{name: "s", typ: tar.TypeSymlink, link: "/"},
			{name: "s/.wh.victim", typ: tar.TypeReg}}, true},
		{"opaque via symlink", []entry{
			{name: "s", typ: tar.TypeSymlink, link: "../victimdir"},
			{name: "s/.wh..wh..opq", typ: tar.TypeReg}}, true},
		{"device node", []entry{{name: "sda", typ: tar.TypeBlock, dev: 8}, {name: "mem", typ: tar.TypeChar, dev: 1}}, false},
		{"root replaced", []entry{{name: "./", typ: tar.TypeSymlink, link: "/"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent, dir := sandbox(t)
			_, err := Apply(context.Background(), dir, bytes.NewReader(mkTar(t, tc.entries...)), ApplyOptions{})
			if tc.wantErr && err == nil {
				t.Errorf("Apply succeeded, want an error")
			}
			if !tc.wantErr && err != nil {
				t.Errorf("Apply: %v", err)
			}
			checkNoEscape(t, parent)
		})
	}
}

func TestApplyNeutralises(t *testing.T) {
	testutil.RequireRoot(t)
	parent, dir := sandbox(t)
	_, err := Apply(context.Background(), dir, bytes.NewReader(mkTar(t,
		entry{name: "/abs/file", typ: tar.TypeReg, body: "x"},
		entry{name: "dev/sda", typ: tar.TypeBlock, dev: 8},
		entry{name: "v", typ: tar.TypeSymlink, link: "../victim"},
		entry{name: "v", typ: tar.TypeReg, body: "file"},
	)), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkNoEscape(t, parent)
	if b, _ := os.ReadFile(filepath.Join(dir, "abs", "file")); string(b) != "x" {
		t.Errorf("absolute name not placed inside the layer: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "dev", "sda")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("device node created: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "v")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("v should be a regular file: %v %v", fi, err)
	}
}

func TestApplyWhiteouts(t *testing.T) {
	testutil.RequireRoot(t)
	_, dir := sandbox(t)
	_, err := Apply(context.Background(), dir, bytes.NewReader(mkTar(t,
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/.wh.passwd", typ: tar.TypeReg},
		entry{name: "opq/", typ: tar.TypeDir},
		entry{name: "opq/.wh..wh..opq", typ: tar.TypeReg},
		entry{name: "opq/keep", typ: tar.TypeReg, body: "k"},
		entry{name: ".wh..wh.plnk", typ: tar.TypeReg},
	)), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "etc", "passwd"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/passwd is not a 0:0 whiteout: %+v %v", st, err)
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(dir, "opq"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("opq not opaque: %q %v", buf[:n], err)
	}
	// And back: WriteDiff turns them into .wh. entries again.
	var out bytes.Buffer
	if err := WriteDiff(context.Background(), &out, dir); err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	got := strings.Join(names, " ")
	want := "etc/ etc/.wh.passwd opq/ opq/.wh..wh..opq opq/keep"
	if got != want {
		t.Errorf("diff entries %q, want %q", got, want)
	}
}

func TestApplyBomb(t *testing.T) {
	// A gzip of zeros far larger than the limit is cut off: the limit is on
	// what is read, not on what the header promises.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	tw := tar.NewWriter(zw)
	const size = 64 << 20
	tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: size})
	io.CopyN(tw, zeroReader{}, size)
	tw.Close()
	zw.Close()
	r, c, err := Decompress(bytes.NewReader(z.Bytes()))
	if err != nil || c != Gzip {
		t.Fatalf("Decompress: %v %v", c, err)
	}
	_, dir := sandbox(t)
	_, err = Apply(context.Background(), dir, r, ApplyOptions{MaxSize: 1 << 20})
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("Apply of a bomb = %v, want ErrTooLarge", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "zeros")); err == nil && fi.Size() > 2<<20 {
		t.Errorf("wrote %d bytes past the limit", fi.Size())
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestApplyTruncated(t *testing.T) {
	b := mkTar(t, entry{name: "f", typ: tar.TypeReg, body: strings.Repeat("x", 5000)})
	_, dir := sandbox(t)
	_, err := Apply(context.Background(), dir, bytes.NewReader(b[:1000]), ApplyOptions{})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("truncated tar: %v", err)
	}
}

func TestDecompressFormats(t *testing.T) {
	plain := mkTar(t, entry{name: "hello", typ: tar.TypeReg, body: "world"})
	var gz, zs bytes.Buffer
	zw, _ := Compress(&gz)
	zw.Write(plain)
	zw.Close()
	ze, _ := zstd.NewWriter(&zs)
	ze.Write(plain)
	ze.Close()
	for _, tc := range []struct {
		name string
		data []byte
		want Compression
	}{
		{"plain", plain, Uncompressed},
		{"gzip", gz.Bytes(), Gzip},
		{"zstd", zs.Bytes(), Zstd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c, err := Decompress(bytes.NewReader(tc.data))
			if err != nil || c != tc.want {
				t.Fatalf("Decompress = %v, %v; want %v", c, err, tc.want)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("decompressed %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestWrapTarCorruptCompression(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool // wraps errdefs.ErrInvalidArgument
	}{
		{pgzip.ErrChecksum, true},
		{pgzip.ErrHeader, true},
		{fmt.Errorf("reading: %w", flate.CorruptInputError(12)), true},
		{io.ErrUnexpectedEOF, true},
		{errors.New("connection reset by peer"), false},
	} {
		if got := errors.Is(wrapTar(tt.err), errdefs.ErrInvalidArgument); got != tt.want {
			t.Errorf("wrapTar(%v) invalid argument = %v, want %v", tt.err, got, tt.want)
		}
	}
}
