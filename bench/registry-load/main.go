// Command registry-load is the load generator of bench/registry-*.sh. It
// drives any distribution-spec registry over plain HTTP, the same way for
// every contender.
//
//	registry-load setup  -addr host:port -repo r          push a 1 KiB blob and a manifest, print the blob digest
//	registry-load run    -c 32 -n 20000 -method GET URL   send n requests from c clients, print requests/s
//	registry-load layout -size 268435456 DIR              write an OCI layout of one image with a random layer
//	registry-load freeport                                print a free loopback port
package main

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: registry-load setup|run|layout ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "setup":
		err = setup(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	case "layout":
		err = layout(os.Args[2:])
	case "freeport":
		var ln net.Listener
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err == nil {
			fmt.Println(ln.Addr().(*net.TCPAddr).Port)
			ln.Close()
		}
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "registry-load:", err)
		os.Exit(1)
	}
}

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func push(base, repo string, b []byte) (string, error) {
	d := digest(b)
	resp, err := http.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || loc == "" {
		return "", fmt.Errorf("starting upload: %s", resp.Status)
	}
	sep := "?"
	if bytes.ContainsRune([]byte(loc), '?') {
		sep = "&"
	}
	if loc[0] == '/' {
		loc = base + loc
	}
	req, _ := http.NewRequest("PUT", loc+sep+"digest="+d, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("uploading blob: %s", resp.Status)
	}
	return d, nil
}

func setup(args []string) error {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:5000", "registry host:port")
	repo := fs.String("repo", "bench/small", "repository")
	_ = fs.Parse(args)
	base := "http://" + *addr
	blob := make([]byte, 1024)
	_, _ = rand.Read(blob)
	bd, err := push(base, *repo, blob)
	if err != nil {
		return err
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cd, err := push(base, *repo, cfg)
	if err != nil {
		return err
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		cd, len(cfg), bd, len(blob))
	req, _ := http.NewRequest("PUT", base+"/v2/"+*repo+"/manifests/latest", bytes.NewReader([]byte(m)))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("pushing manifest: %s", resp.Status)
	}
	fmt.Println(bd)
	return nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	c := fs.Int("c", 32, "concurrent clients")
	n := fs.Int("n", 20000, "total requests")
	method := fs.String("method", "GET", "GET or HEAD")
	accept := fs.String("accept", "application/vnd.oci.image.manifest.v1+json", "Accept header")
	quiet := fs.Bool("q", false, "print nothing on success")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("run: want one URL")
	}
	url := fs.Arg(0)
	tr := &http.Transport{MaxIdleConns: *c, MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c, DisableCompression: true}
	client := &http.Client{Transport: tr}
	var left atomic.Int64
	left.Store(int64(*n))
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				req, _ := http.NewRequest(*method, url, nil)
				req.Header.Set("Accept", *accept)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, resp.Status)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d requests failed (first: %v)", f, *n, firstErr.Load())
	}
	if !*quiet {
		fmt.Printf("%s %s: %d requests, %d clients, %.2fs, %.0f requests/s\n", *method, url, *n, *c, el.Seconds(), float64(*n)/el.Seconds())
	}
	return nil
}

// layout writes an OCI image layout with one uncompressed random layer of
// about size bytes, so pushing it measures the registry, not compression.
func layout(args []string) error {
	fs := flag.NewFlagSet("layout", flag.ExitOnError)
	size := fs.Int64("size", 256<<20, "layer size in bytes")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("layout: want a directory")
	}
	dir := fs.Arg(0)
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "layer.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(f, h))
	if err := tw.WriteHeader(&tar.Header{Name: "data.bin", Mode: 0o644, Size: *size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, rand.Reader, *size); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	fi, _ := f.Stat()
	f.Close()
	ld := fmt.Sprintf("%x", h.Sum(nil))
	if err := os.Rename(tmp, filepath.Join(blobs, ld)); err != nil {
		return err
	}
	write := func(b []byte) (string, int, error) {
		d := fmt.Sprintf("%x", sha256.Sum256(b))
		return d, len(b), os.WriteFile(filepath.Join(blobs, d), b, 0o644)
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + ld}}})
	cd, cl, err := write(cfg)
	if err != nil {
		return err
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}`,
		cd, cl, ld, fi.Size())
	md, ml, err := write([]byte(m))
	if err != nil {
		return err
	}
	idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d}]}`, md, ml)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte(idx), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}
