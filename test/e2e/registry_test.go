package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth/berth/internal/testutil"
)

// tool runs an external program and fails the test on a non-zero exit.
func tool(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// craneImage builds a one-layer busybox image in the registry with crane
// (no daemon needed) and returns its digest.
func craneImage(t *testing.T, crane, ref string, env ...string) string {
	t.Helper()
	tool(t, env, crane, "append", "--insecure", "-f", testutil.RootfsTar(t), "-t", ref)
	return strings.TrimSpace(tool(t, env, crane, "digest", "--insecure", ref))
}

func TestRegistryCrane(t *testing.T) {
	crane := testutil.GoTool(t, "crane")
	reg := testutil.StartRegistry(t, "")
	ref := reg.Addr + "/e2e/busybox:v1"
	dig := craneImage(t, crane, ref)

	out := t.TempDir()
	tool(t, nil, crane, "pull", "--insecure", "--format", "oci", ref, out)
	if _, err := os.Stat(filepath.Join(out, "index.json")); err != nil {
		t.Errorf("crane pull wrote no OCI layout: %v", err)
	}
	tool(t, nil, crane, "copy", "--insecure", ref, reg.Addr+"/e2e/copy:v2")
	if got := strings.TrimSpace(tool(t, nil, crane, "digest", "--insecure", reg.Addr+"/e2e/copy:v2")); got != dig {
		t.Errorf("copy has digest %s, want %s", got, dig)
	}
	if cat := tool(t, nil, crane, "catalog", "--insecure", reg.Addr); !strings.Contains(cat, "e2e/busybox") || !strings.Contains(cat, "e2e/copy") {
		t.Errorf("catalog: %q", cat)
	}
	tool(t, nil, crane, "tag", "--insecure", ref, "v1.1")
	if tags := tool(t, nil, crane, "ls", "--insecure", reg.Addr+"/e2e/busybox"); tags != "v1\nv1.1\n" {
		t.Errorf("tags: %q", tags)
	}
	// The copy shares the blobs: the layer is stored once.
	n := 0
	_ = filepath.Walk(filepath.Join(reg.Root, "blobs"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
		}
		return nil
	})
	if n != 3 { // config, layer, manifest
		t.Errorf("%d blobs stored for one image in two repositories, want 3", n)
	}
	tool(t, nil, crane, "delete", "--insecure", reg.Addr+"/e2e/copy@"+dig)
	cmd := exec.Command(crane, "manifest", "--insecure", reg.Addr+"/e2e/copy@"+dig)
	if err := cmd.Run(); err == nil {
		t.Errorf("deleted manifest still served")
	}
	// gc while serving: nothing referenced goes.
	stdout, stderr, code := run(t, "berth", "registry", "gc", "--root", reg.Root, "--grace", "0s")
	if code != 0 {
		t.Fatalf("gc: %d %s", code, stderr)
	}
	t.Logf("gc: %s", stdout)
	tool(t, nil, crane, "pull", "--insecure", "--format", "oci", ref, t.TempDir())
}

func TestRegistrySkopeo(t *testing.T) {
	skopeo := testutil.RequireCommand(t, "skopeo")
	crane := testutil.GoTool(t, "crane")
	reg := testutil.StartRegistry(t, "")
	src := reg.Addr + "/e2e/busybox:v1"
	craneImage(t, crane, src)
	layout := filepath.Join(t.TempDir(), "layout")
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tool(t, nil, skopeo, "--policy", policy, "copy", "--src-tls-verify=false", "docker://"+src, "oci:"+layout+":v1")
	tool(t, nil, skopeo, "--policy", policy, "copy", "--dest-tls-verify=false", "oci:"+layout+":v1", "docker://"+reg.Addr+"/e2e/skopeo:v2")
	// Push with a different format (Docker schema 2) too.
	tool(t, nil, skopeo, "--policy", policy, "copy", "--dest-tls-verify=false", "--format", "v2s2", "oci:"+layout+":v1", "docker://"+reg.Addr+"/e2e/skopeo:docker")
	insp := tool(t, nil, skopeo, "inspect", "--tls-verify=false", "docker://"+reg.Addr+"/e2e/skopeo:v2")
	if !strings.Contains(insp, `"Architecture"`) {
		t.Errorf("skopeo inspect: %s", insp)
	}
	raw := tool(t, nil, skopeo, "inspect", "--raw", "--tls-verify=false", "docker://"+reg.Addr+"/e2e/skopeo:docker")
	if !strings.Contains(raw, "application/vnd.docker.distribution.manifest.v2+json") {
		t.Errorf("docker-format manifest: %s", raw)
	}
	tags := tool(t, nil, skopeo, "list-tags", "--tls-verify=false", "docker://"+reg.Addr+"/e2e/skopeo")
	if !strings.Contains(tags, `"v2"`) || !strings.Contains(tags, `"docker"`) {
		t.Errorf("list-tags: %s", tags)
	}
}

func TestRegistryPodman(t *testing.T) {
	testutil.RequireRoot(t)
	podman := testutil.RequireCommand(t, "podman")
	crane := testutil.GoTool(t, "crane")
	reg := testutil.StartRegistry(t, "")
	src := reg.Addr + "/e2e/busybox:v1"
	dig := craneImage(t, crane, src)
	dir := t.TempDir()
	p := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs",
		"--cgroup-manager", "cgroupfs", "--events-backend", "none"}
	t.Cleanup(func() { _ = exec.Command(podman, append(p, "system", "reset", "--force")...).Run() })
	tool(t, nil, podman, append(p, "pull", "--tls-verify=false", src)...)
	tool(t, nil, podman, append(p, "tag", src, reg.Addr+"/e2e/podman:v3")...)
	tool(t, nil, podman, append(p, "push", "--tls-verify=false", reg.Addr+"/e2e/podman:v3")...)
	m := tool(t, nil, crane, "manifest", "--insecure", reg.Addr+"/e2e/podman:v3")
	if !strings.Contains(m, "layers") {
		t.Errorf("podman-pushed manifest: %s", m)
	}
	t.Logf("crane-built %s re-pushed by podman", dig)
}

// selfSigned writes a certificate and key for 127.0.0.1.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "berth-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestRegistryTLSAuth(t *testing.T) {
	crane := testutil.GoTool(t, "crane")
	cert, key, pool := selfSigned(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	_ = os.WriteFile(htpasswd, []byte("ci:"+string(hash)+"\n"), 0o600)
	reg := testutil.StartRegistry(t, "", "--tls-cert", cert, "--tls-key", key, "--htpasswd", htpasswd, "--anonymous-pull")

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + reg.Addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("anonymous ping over TLS: %d", resp.StatusCode)
	}
	resp, err = client.Post("https://"+reg.Addr+"/v2/x/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("anonymous push: %d, want 401", resp.StatusCode)
	}
	if _, err := http.Get("http://" + reg.Addr + "/v2/"); err == nil {
		// A plain HTTP request to a TLS port gets a 400 from Go's server, not an answer.
		t.Logf("plain http answered (as a TLS error page)")
	}
	env := []string{"DOCKER_CONFIG=" + t.TempDir()}
	tool(t, env, crane, "auth", "login", reg.Addr, "-u", "ci", "-p", "pw")
	dig := craneImage(t, crane, reg.Addr+"/secure/busybox:v1", env...)
	if !strings.HasPrefix(dig, "sha256:") {
		t.Errorf("digest %q", dig)
	}
	// Wrong password: refused.
	badEnv := []string{"DOCKER_CONFIG=" + t.TempDir()}
	tool(t, badEnv, crane, "auth", "login", reg.Addr, "-u", "ci", "-p", "wrong")
	cmd := exec.Command(crane, "append", "--insecure", "-f", testutil.RootfsTar(t), "-t", reg.Addr+"/secure/busybox:bad")
	cmd.Env = append(os.Environ(), badEnv...)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("push with a wrong password succeeded: %s", out)
	}
}

// TestRegistryKill9 kills the server in the middle of a blob upload and of
// a streamed PATCH: after a restart the blob is not visible, the upload
// resumes from what reached the disk, and the finished blob is intact.
func TestRegistryKill9(t *testing.T) {
	root := t.TempDir()
	reg := testutil.StartRegistry(t, root, "--no-access-log")
	content := bytes.Repeat([]byte("berth-kill9-"), 1<<18) // 3 MiB
	d := fmt.Sprintf("sha256:%x", sha256.Sum256(content))
	base := "http://" + reg.Addr
	resp, err := http.Post(base+"/v2/k/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")

	// Stream the first MiB, then kill -9 while the request is still open.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", base+loc, pr)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	if _, err := pw.Write(content[:1<<20]); err != nil {
		t.Fatal(err)
	}
	// Wait until the server has some of it on disk.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ents, _ := filepath.Glob(filepath.Join(root, "uploads", "*", "data"))
		if len(ents) == 1 {
			if fi, err := os.Stat(ents[0]); err == nil && fi.Size() > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no upload data reached the disk")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := reg.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = reg.Cmd.Wait()
	pw.CloseWithError(io.ErrClosedPipe)
	<-done

	reg2 := testutil.StartRegistry(t, root, "--no-access-log")
	base = "http://" + reg2.Addr
	if resp, err := http.Head(base + "/v2/k/blobs/" + d); err != nil || resp.StatusCode != 404 {
		t.Fatalf("blob visible after a killed upload: %v %v", resp, err)
	}
	resp, err = http.Get(base + loc)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var end int64
	if _, err := fmt.Sscanf(resp.Header.Get("Range"), "0-%d", &end); resp.StatusCode != 204 || err != nil {
		t.Fatalf("upload status after restart: %d %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	have := end + 1
	if end == 0 {
		have = 0 // "0-0" is what an empty upload reports
	}
	t.Logf("upload survived the kill with %d bytes", have)
	req, _ = http.NewRequest("PATCH", base+loc, bytes.NewReader(content[have:]))
	req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", have, len(content)-1))
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("resume: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ = http.NewRequest("PUT", base+resp.Header.Get("Location")+"?digest="+d, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("commit: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(base + "/v2/k/blobs/" + d)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, content) {
		t.Errorf("resumed blob differs (%d bytes)", len(got))
	}
}

// TestRegistryBerth: berth push and berth pull against berth's registry.
func TestRegistryBerth(t *testing.T) {
	testutil.RequireRoot(t)
	crane := testutil.GoTool(t, "crane")
	reg := testutil.StartRegistry(t, "")
	root := t.TempDir()
	berthIn(t, root, "import", testutil.RootfsTar(t), "busybox")
	ref := reg.Addr + "/berth/busybox:1"
	berthIn(t, root, "tag", "busybox", ref)
	out := berthIn(t, root, "push", ref)
	i := strings.Index(out, "digest: ")
	if i < 0 {
		t.Fatalf("push printed %q", out)
	}
	pushed := strings.Fields(out[i+8:])[0]
	if d := strings.TrimSpace(tool(t, nil, crane, "digest", "--insecure", ref)); d != pushed {
		t.Errorf("registry has %s, berth pushed %s", d, pushed)
	}
	// A second push skips what the registry has.
	berthIn(t, root, "push", ref)
	fresh := t.TempDir()
	berthIn(t, fresh, "pull", "-q", ref)
	checkRootfs(t, fresh, ref)
	// crane builds an image; berth pulls it by digest.
	cref := reg.Addr + "/crane/busybox:2"
	dig := craneImage(t, crane, cref)
	berthIn(t, fresh, "pull", "-q", reg.Addr+"/crane/busybox@"+dig)
}

// TestRegistryConfigFile: settings from --config, overridden by flags; bad
// flags and files are usage errors.
func TestRegistryConfigFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "registry.json")
	if err := os.WriteFile(cfg, []byte(`{"readOnly":true,"noAccessLog":true,"gcGrace":"2h"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := testutil.StartRegistry(t, "", "--config", cfg)
	resp, err := http.Post("http://"+reg.Addr+"/v2/x/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("push to a read-only registry: %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + reg.Addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"registry", "serve", "--config", filepath.Join(t.TempDir(), "missing.json")}, "reading registry config"},
		{[]string{"registry", "serve", "--tls-cert", "c.pem", "--root", t.TempDir()}, "--tls-cert and --tls-key"},
		{[]string{"registry", "serve", "--htpasswd", filepath.Join(t.TempDir(), "none"), "--root", t.TempDir(), "--addr", "127.0.0.1:0"}, "htpasswd"},
		{[]string{"registry", "gc", "extra"}, "requires exactly 0"},
	} {
		_, stderr, code := run(t, "berth", tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("berth %v: exit %d, stderr %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
}
