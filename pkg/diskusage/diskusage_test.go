package diskusage

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/image"
	"github.com/berth/berth/pkg/volume"
)

// rootfs is a tarball with one file of n bytes.
func rootfs(t *testing.T, name string, n int) *bytes.Reader {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(n), Typeflag: tar.TypeReg})
	tw.Write(bytes.Repeat([]byte{'x'}, n))
	tw.Close()
	return bytes.NewReader(b.Bytes())
}

func row(t *testing.T, rep *Report, typ string) Row {
	t.Helper()
	for _, r := range rep.Summary {
		if r.Type == typ {
			return r
		}
	}
	t.Fatalf("no %s row in %+v", typ, rep.Summary)
	return Row{}
}

func TestMeasure(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	root := t.TempDir()
	st, err := image.Open(filepath.Join(root, "images"))
	if err != nil {
		t.Fatal(err)
	}
	used, err := st.Import(ctx, rootfs(t, "a", 100000), "used:1", image.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	idle, err := st.Import(ctx, rootfs(t, "b", 50000), "idle:1", image.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A running container of "used" with 64 KiB in its writable layer.
	if _, err := st.Snapshots().Prepare(ctx, "ctr1", used.ChainID); err != nil {
		t.Fatal(err)
	}
	upper, _ := st.Snapshots().UpperDir("ctr1")
	os.WriteFile(filepath.Join(upper, "f"), bytes.Repeat([]byte{1}, 64<<10), 0o644)
	vols := volume.Open(root)
	v1, _ := vols.Create("dfvol1", nil, false)
	vols.Create("dfvol2", nil, false)
	os.WriteFile(filepath.Join(v1.Mountpoint, "data"), bytes.Repeat([]byte{2}, 32<<10), 0o644)
	// One build cache entry whose layer is an image's.
	cacheDir := filepath.Join(root, "cache")
	os.MkdirAll(cacheDir, 0o700)
	entry, _ := json.Marshal(map[string]any{"layers": []map[string]any{{"digest": idle.Layers[0].Digest, "chainID": idle.Layers[0].ChainID}}})
	os.WriteFile(filepath.Join(cacheDir, "0123.json"), entry, 0o600)

	rep, err := Measure(ctx, Sources{Images: st, Volumes: vols, BuildCache: cacheDir, Containers: []Container{
		{ID: "ctr1", ImageID: used.ID.String(), Running: true, Volumes: []string{"dfvol1"}},
		{ID: "ctr2", ImageID: used.ID.String(), Running: false},
	}})
	if err != nil {
		t.Fatal(err)
	}
	imgs := row(t, rep, "Images")
	if imgs.Total != 2 || imgs.Active != 1 || imgs.Size < 150000 || imgs.Reclaimable < 50000 || imgs.Reclaimable >= imgs.Size-100000 {
		t.Errorf("images row %+v", imgs)
	}
	ctrs := row(t, rep, "Containers")
	if ctrs.Total != 2 || ctrs.Active != 1 || ctrs.Size < 64<<10 || ctrs.Reclaimable != 0 {
		t.Errorf("containers row %+v", ctrs)
	}
	vr := row(t, rep, "Local Volumes")
	if vr.Total != 2 || vr.Active != 1 || vr.Size < 32<<10 || vr.Reclaimable != 0 {
		t.Errorf("volumes row %+v", vr)
	}
	bc := row(t, rep, "Build Cache")
	if bc.Total != 1 || bc.Active != 0 || bc.Size != int64(len(entry)) || len(rep.BuildCache) != 1 || !rep.BuildCache[0].Shared {
		t.Errorf("build cache row %+v entries %+v", bc, rep.BuildCache)
	}
	for _, u := range rep.Images {
		if u.Size == 0 || u.UniqueSize != u.Size || (u.Image.ID == used.ID) != (u.Containers == 2) {
			t.Errorf("image %s usage %+v", u.Image.ID, u)
		}
	}
	if len(rep.Volumes) != 2 || rep.Volumes[0].Links != 1 || rep.Volumes[1].Links != 0 {
		t.Errorf("volumes %+v", rep.Volumes)
	}
}
