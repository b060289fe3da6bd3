package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth/berth/internal/testutil"
)

// BenchmarkPull pulls the image of issue 4's performance target (4 layers
// of one incompressible file each, gzip as crane append makes them; 64 MiB
// per layer unless BERTH_BENCH_LAYER_MB says otherwise) from an in-process
// registry on loopback into an empty store on disk (BERTH_BENCH_DIR, else
// /var/tmp), unpacked and durable, once per iteration.
// BERTH_BENCH_DEBUG=1 logs the pull's phase timings;
// BERTH_BENCH_CPUPROFILE=FILE profiles the pulls only (not the setup).
func BenchmarkPull(b *testing.B) {
	testutil.RequireRoot(b)
	mb := 64
	if v, err := strconv.Atoi(os.Getenv("BERTH_BENCH_LAYER_MB")); err == nil && v > 0 {
		mb = v
	}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(reg)
	b.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img := empty.Image
	cache := os.Getenv("BERTH_BENCH_CACHE") // keeps the gzip blobs between runs
	for i := range 4 {
		var l v1.Layer
		var err error
		cached := filepath.Join(cache, fmt.Sprintf("layer%d-%dM.tar.gz", i, mb))
		if _, serr := os.Stat(cached); cache != "" && serr == nil {
			l, err = tarball.LayerFromFile(cached)
		} else {
			l, err = benchLayer(i, mb)
			if err == nil && cache != "" {
				err = saveLayer(l, cached)
			}
		}
		if err != nil {
			b.Fatal(err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l}); err != nil {
			b.Fatal(err)
		}
	}
	img, _ = mutate.ConfigFile(img, &v1.ConfigFile{Architecture: DefaultPlatform().Architecture, OS: "linux", RootFS: mustRootFS(b, img)})
	ref := host + "/bench/pull:1"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		b.Fatal(err)
	}
	dir := os.Getenv("BERTH_BENCH_DIR")
	if dir == "" {
		dir = "/var/tmp"
	}
	if os.Getenv("BERTH_BENCH_DEBUG") != "" {
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
	if p := os.Getenv("BERTH_BENCH_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	b.SetBytes(int64(4 * mb << 20))
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		root, err := os.MkdirTemp(dir, "berth-bench-pull-")
		if err != nil {
			b.Fatal(err)
		}
		s, err := Open(root)
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime()
		b.StartTimer()
		if _, err := s.Pull(context.Background(), ref, PullOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime() - c0
		os.RemoveAll(root)
		b.StartTimer()
	}
	// CPU time (this process: the pull and the registry serving it)
	// varies less than wall time on a loaded machine.
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mustRootFS(b *testing.B, img v1.Image) v1.RootFS {
	cf, err := img.ConfigFile()
	if err != nil {
		b.Fatal(err)
	}
	return cf.RootFS
}

// benchLayer is a layer of one file of mb MiB of random bytes, gzipped by
// go-containerregistry as crane append does.
func benchLayer(i, mb int) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	data := make([]byte, mb<<20)
	rand.Read(data)
	tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "data/blob" + strconv.Itoa(i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
	tw.Write(data)
	tw.Close()
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
}

func saveLayer(l v1.Layer, p string) error {
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
