package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a", true}, {"library/busybox", true}, {"a.b_c__d-e--f/g0", true}, {"a/b/c/d", true},
		{"", false}, {"A", false}, {"a/", false}, {"/a", false}, {"a//b", false}, {"..", false},
		{"a/../b", false}, {"a/./b", false}, {"_a", false}, {"a/_tags", false}, {"a___b", false},
		{"a-", false}, {"-a", false}, {"a.", false}, {"a..b", false}, {"a_.b", false}, {"a%2fb", false},
		{strings.Repeat("a", 256), false},
	} {
		if got := ValidName(tc.name); got != tc.ok {
			t.Errorf("ValidName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestParseDigestAndTag(t *testing.T) {
	good256 := "sha256:" + strings.Repeat("a", 64)
	good512 := "sha512:" + strings.Repeat("0", 128)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{good256, true}, {good512, true},
		{"sha256:" + strings.Repeat("A", 64), false}, {"sha256:" + strings.Repeat("a", 63), false},
		{"sha512:" + strings.Repeat("a", 64), false}, {"md5:" + strings.Repeat("a", 32), false},
		{"sha256:../../" + strings.Repeat("a", 58), false}, {"", false}, {"sha256", false},
	} {
		if _, err := ParseDigest(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseDigest(%q) err %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		tag string
		ok  bool
	}{
		{"latest", true}, {"_x", true}, {"v1.2-rc_3", true}, {strings.Repeat("a", 128), true},
		{"", false}, {".x", false}, {"-x", false}, {"a/b", false}, {"..", false}, {strings.Repeat("a", 129), false},
	} {
		if ValidTag(tc.tag) != tc.ok {
			t.Errorf("ValidTag(%q) != %v", tc.tag, tc.ok)
		}
	}
}

func age(t *testing.T, root string, d time.Duration) {
	t.Helper()
	past := time.Now().Add(-d)
	_ = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			_ = os.Chtimes(p, past, past)
		}
		return nil
	})
}

func digestOf(b []byte) Digest { return FromBytes("sha256", b) }

// TestGCRaceWithPush commits a manifest that references a stale,
// unreferenced blob in the middle of a collection, after the collector has
// read the repository: the blob must survive.
func TestGCRaceWithPush(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := []byte(`{"os":"linux"}`)
	orphan := []byte("orphan")
	for _, b := range [][]byte{cfg, orphan} {
		if err := st.PutBlob("r", digestOf(b), int64(len(b)), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	age(t, st.Root(), 2*time.Hour)
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`,
		MediaTypeOCIManifest, digestOf(cfg), len(cfg)))
	pushed := false
	st.gcHook = func(repo string) {
		if pushed {
			return
		}
		pushed = true
		pm, mt, err := ParseManifest(m, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutManifest("r", digestOf(m), mt, m, pm, PutManifestOptions{Tags: []string{"v1"}}); err != nil {
			t.Errorf("push during gc: %v", err)
		}
	}
	rep, err := st.GC(context.Background(), GCOptions{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !pushed {
		t.Fatal("the hook never ran")
	}
	if _, err := st.StatBlob("r", digestOf(cfg)); err != nil {
		t.Errorf("a blob referenced by a manifest pushed during gc was collected: %v", err)
	}
	if _, err := st.StatBlob("r", digestOf(orphan)); err == nil {
		t.Errorf("the orphan survived")
	}
	if rep.BlobsRemoved != 1 {
		t.Errorf("removed %d blobs, want 1 (%v)", rep.BlobsRemoved, rep.Removed)
	}
	// A second run keeps the tagged image whole.
	age(t, st.Root(), 2*time.Hour)
	if _, err := st.GC(context.Background(), GCOptions{Grace: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := st.GetManifest("r", "v1"); err != nil {
		t.Errorf("tagged manifest collected: %v", err)
	}
	if _, err := st.StatBlob("r", digestOf(cfg)); err != nil {
		t.Errorf("tagged image's config collected: %v", err)
	}
}

func TestGCDryRunAndGrace(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old, fresh := []byte("old"), []byte("fresh")
	_ = st.PutBlob("r", digestOf(old), 3, bytes.NewReader(old))
	age(t, st.Root(), 2*time.Hour)
	_ = st.PutBlob("r", digestOf(fresh), 5, bytes.NewReader(fresh))
	rep, err := st.GC(context.Background(), GCOptions{Grace: time.Hour, DryRun: true})
	if err != nil || rep.BlobsRemoved != 1 {
		t.Fatalf("dry run: %+v %v", rep, err)
	}
	// (os.Stat, not StatBlob: a read renews the lease, by design.)
	if _, err := os.Stat(st.blobPath(digestOf(old))); err != nil {
		t.Errorf("dry run removed a blob")
	}
	if _, err := st.GC(context.Background(), GCOptions{Grace: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.StatBlob("r", digestOf(old)); err == nil {
		t.Errorf("stale orphan kept")
	}
	if _, err := st.StatBlob("r", digestOf(fresh)); err != nil {
		t.Errorf("blob within the grace period collected: %v", err)
	}
}

// TestCrashLeavesNothingVisible simulates a crash mid-upload and mid-write:
// partial data never shows as a blob, and the upload resumes from what is on disk.
func TestCrashLeavesNothingVisible(t *testing.T) {
	root := t.TempDir()
	st, _ := Open(root)
	content := bytes.Repeat([]byte("x"), 1<<16)
	d := digestOf(content)
	id, err := st.NewUpload("r")
	if err != nil {
		t.Fatal(err)
	}
	// A reader that fails half way, as a dropped connection or a kill would.
	_, err = st.AppendUpload("r", id, 0, int64(len(content)), io.MultiReader(bytes.NewReader(content[:1000]), errReader{}))
	if err == nil {
		t.Fatal("append of a broken stream succeeded")
	}
	if _, err := st.StatBlob("r", d); err == nil {
		t.Fatal("partial content visible as a blob")
	}
	// Debris of a write that crashed before its rename.
	_ = os.WriteFile(filepath.Join(root, "uploads", ".content-123"), content[:10], 0o644)
	st2, _ := Open(root)
	size, err := st2.UploadSize("r", id)
	if err != nil || size != 0 {
		t.Fatalf("upload after failed chunk: size %d err %v", size, err)
	}
	if err := st2.CommitUpload("r", id, d, 0, int64(len(content)), bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if n, err := st2.StatBlob("r", d); err != nil || n != int64(len(content)) {
		t.Fatalf("blob after resume: %d %v", n, err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
