package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/errdefs"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	src, _ := Open(t.TempDir())
	img := importBusybox(t, src, "busybox")
	if err := src.Tag(ctx, "busybox", "example.com/team/app:v1"); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{FormatDockerArchive, FormatOCIArchive, FormatDockerArchive + "+gzip"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			plain, gz := strings.CutSuffix(format, "+gzip")
			if err := src.Save(ctx, &buf, []string{"busybox", "example.com/team/app:v1"}, plain); err != nil {
				t.Fatal(err)
			}
			if gz {
				// docker save | gzip loads too.
				var z bytes.Buffer
				zw := gzip.NewWriter(&z)
				zw.Write(buf.Bytes())
				zw.Close()
				buf = z
			}
			dst, _ := Open(t.TempDir())
			res, err := dst.Load(ctx, bytes.NewReader(buf.Bytes()), RemoteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) == 0 {
				t.Fatal("nothing loaded")
			}
			for _, ref := range []string{"busybox:latest", "example.com/team/app:v1"} {
				got, err := dst.Resolve(ctx, ref)
				if err != nil {
					t.Fatalf("Resolve(%s): %v", ref, err)
				}
				if got.ID != img.ID || got.Manifest != img.Manifest && format == FormatOCIArchive {
					t.Errorf("%s: got %s/%s want %s/%s", ref, got.ID, got.Manifest, img.ID, img.Manifest)
				}
				if !dst.Snapshots().Has(got.ChainID) {
					t.Errorf("%s: layers not unpacked", ref)
				}
			}
		})
	}
}

func TestLoadBadArchives(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	src, _ := Open(t.TempDir())
	importBusybox(t, src, "busybox")
	var good bytes.Buffer
	if err := src.Save(ctx, &good, []string{"busybox"}, FormatDockerArchive); err != nil {
		t.Fatal(err)
	}
	// Flip a byte inside the layer blob (the largest entry).
	corrupt := append([]byte{}, good.Bytes()...)
	corrupt[len(corrupt)/2] ^= 0xff

	evil := func(name, body string) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
		tw.Close()
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated", good.Bytes()[:good.Len()/2]},
		{"corrupt blob", corrupt},
		{"empty", nil},
		{"not a tar", []byte(strings.Repeat("garbage ", 200))},
		{"dotdot entry", evil("../../escape", "x")},
		{"manifest names missing files", evil("manifest.json", `[{"Config":"nope.json","RepoTags":["x:1"],"Layers":["../../etc/passwd"]}]`)},
		{"ambiguous index", evil("index.json", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:`+strings.Repeat("a", 64)+`","size":1}],"layers":[]}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst, _ := Open(t.TempDir())
			if _, err := dst.Load(ctx, bytes.NewReader(tc.data), RemoteOptions{}); err == nil {
				t.Fatal("Load succeeded")
			} else if !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrNotFound) {
				t.Logf("error kind: %v", err)
			}
			if imgs, _ := dst.List(ctx); len(imgs) != 0 {
				t.Errorf("%d images visible after a failed load", len(imgs))
			}
			if infos, _ := dst.Snapshots().List(); len(infos) != 0 {
				t.Errorf("layers left after a failed load: %d", len(infos))
			}
		})
	}
}
