package e2e

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

func TestImgfeatCertsD(t *testing.T) {
	testutil.RequireRoot(t)
	e := newImgfeatEnv(t)
	ca := testutil.NewCA(t)
	cert, key, _ := ca.Issue(t, t.TempDir(), "server", false)
	reg := testutil.StartRegistry(t, "", "--tls-cert", cert, "--tls-key", key)
	ref := reg.Addr + "/" + imgfeatUniq("tls") + ":v1"
	root := t.TempDir()
	e.ok("--root", root, "import", testutil.RootfsTar(t), ref)

	// Not trusted: the certificate is refused, and berth does not fall
	// back to plain HTTP silently.
	e.fails("certificate", "--root", root, "push", ref)

	// The CA in certs.d/<host:port>/ca.crt makes it trusted.
	dir := filepath.Join(e.CertsD, reg.Addr)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "ca.crt"), ca.Cert, 0o644)
	e.ok("--root", root, "push", ref)
	if out := e.ok("--root", t.TempDir(), "pull", ref); !strings.Contains(out, "Downloaded newer image") {
		t.Errorf("pull over TLS = %q", out)
	}

	// A key without its certificate is a configuration error, said clearly.
	os.WriteFile(filepath.Join(dir, "client.key"), []byte("x"), 0o600)
	e.fails("client key without its certificate", "--root", t.TempDir(), "pull", ref)
	os.Remove(filepath.Join(dir, "client.key"))

	// Without the CA, an insecure registry is reached without verification.
	os.RemoveAll(dir)
	e.fails("certificate", "--root", t.TempDir(), "pull", ref)
	// podman's flags: --cert-dir names the files' directory itself,
	// --tls-verify=false makes the registry insecure for one command.
	flat := t.TempDir()
	os.WriteFile(filepath.Join(flat, "ca.crt"), ca.Cert, 0o644)
	e.ok("--root", t.TempDir(), "pull", "--cert-dir", flat, ref)
	e.ok("--root", t.TempDir(), "pull", "--tls-verify=false", ref)
	e.ok("--root", root, "push", "--cert-dir", flat, ref)
	e.ok("--root", root, "push", "--tls-verify=false", ref)
	e.fails("not a directory", "--root", t.TempDir(), "pull", "--cert-dir", filepath.Join(flat, "ca.crt"), ref)
	if _, errOut, code := e.run("pw", "login", "-u", "ci", "--password-stdin", reg.Addr); code == 0 || !strings.Contains(errOut, "certificate") {
		t.Errorf("login to an untrusted registry: exit %d, %q", code, errOut)
	}
	if out, errOut, code := e.run("pw", "login", "--cert-dir", flat, "-u", "ci", "--password-stdin", reg.Addr); code != 0 || !strings.Contains(out, "Login Succeeded") {
		t.Errorf("login --cert-dir: exit %d, %q %q", code, out, errOut)
	}
	e.setConfig(`{"insecure-registries": ["` + reg.Addr + `"]}`)
	e.ok("--root", t.TempDir(), "pull", ref)

	// A broken config file is reported, not ignored.
	e.setConfig(`{"insecure-registries": "` + reg.Addr + `"}`)
	e.fails(e.Config, "--root", t.TempDir(), "pull", ref)
}

// hostIP returns a non-loopback IPv4 address of this machine.
func hostIP(t *testing.T) string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address")
	return ""
}

func TestImgfeatInsecureRegistry(t *testing.T) {
	testutil.RequireRoot(t)
	e := newImgfeatEnv(t)
	reg := testutil.StartRegistry(t, "", "--addr", hostIP(t)+":0")
	ref := reg.Addr + "/" + imgfeatUniq("plain") + ":v1"
	root := t.TempDir()
	e.ok("--root", root, "import", testutil.RootfsTar(t), ref)
	// A registry off loopback that speaks plain HTTP is refused...
	if _, errOut, code := e.run("", "--root", root, "push", ref); code == 0 {
		t.Fatalf("push over plain HTTP to a non-loopback registry succeeded: %s", errOut)
	}
	// ...unless listed, by host:port or by CIDR.
	e.setConfig(`{"insecure-registries": ["` + reg.Addr + `"]}`)
	e.ok("--root", root, "push", ref)
	e.setConfig(`{"insecure-registries": ["` + strings.Split(reg.Addr, ":")[0] + `/32"]}`)
	e.ok("--root", t.TempDir(), "pull", ref)
}

func TestImgfeatMirrors(t *testing.T) {
	testutil.RequireRoot(t)
	e := newImgfeatEnv(t)
	mirror := testutil.StartRegistry(t, "")
	name := imgfeatUniq("mirrortest")
	imgfeatSeed(e, mirror.Addr+"/library/"+name+":v1", mirror.Addr+"/library/"+name+":v2")

	// The first mirror is down; the second has the image. Docker Hub is
	// never asked (this machine has no route to it).
	e.setConfig(`{"registry-mirrors": ["http://127.0.0.1:1", "http://` + mirror.Addr + `"]}`)
	root := t.TempDir()
	out := e.ok("--root", root, "pull", name+":v1")
	if !strings.Contains(out, "Status: Downloaded newer image for "+name+":v1") || !strings.HasSuffix(out, "docker.io/library/"+name+":v1\n") {
		t.Errorf("pull through a mirror = %q", out)
	}
	if out := e.ok("--root", root, "images", "--format", "{{.Repository}}:{{.Tag}}"); strings.TrimSpace(out) != name+":v1" {
		t.Errorf("images = %q; the image keeps its Docker Hub name", out)
	}
	// pull -a lists the tags through the mirror too.
	e.ok("--root", root, "pull", "-a", "-q", name)
	if out := e.ok("--root", root, "images", "-q", "--filter", "reference="+name+":v2"); strings.TrimSpace(out) == "" {
		t.Error("pull -a through a mirror did not bring v2")
	}
	// Mirrors only stand in for Docker Hub.
	e.fails("", "--root", root, "pull", "quay.invalid/"+name+":v1")

	e.setConfig(`{"registry-mirrors": ["http://` + mirror.Addr + `/v2/"]}`)
	e.fails("registry mirror", "--root", root, "pull", name+":v1")
}

// mtlsFront serves a TLS endpoint on loopback that wants a client
// certificate from clientCA and passes requests on to backend (a plain
// HTTP registry). berth registry serve has no client-certificate option.
func mtlsFront(t *testing.T, ca, clientCA *testutil.CA, backend string) string {
	_, _, pair := ca.Issue(t, t.TempDir(), "front", false)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.Pool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse("http://" + backend)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	srv := &http.Server{Handler: proxy, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestImgfeatClientCertificate(t *testing.T) {
	testutil.RequireRoot(t)
	e := newImgfeatEnv(t)
	ca, clientCA := testutil.NewCA(t), testutil.NewCA(t)
	reg := testutil.StartRegistry(t, "")
	front := mtlsFront(t, ca, clientCA, reg.Addr)
	name := imgfeatUniq("mtls") + ":v1"
	imgfeatSeed(e, reg.Addr+"/"+name)

	dir := filepath.Join(e.CertsD, front)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "ca.crt"), ca.Cert, 0o644)
	// The CA alone: the server wants a client certificate.
	if _, errOut, code := e.run("", "--root", t.TempDir(), "pull", front+"/"+name); code == 0 {
		t.Fatalf("pull without a client certificate succeeded: %s", errOut)
	}
	clientCA.Issue(t, dir, "client", true)
	if out := e.ok("--root", t.TempDir(), "pull", front+"/"+name); !strings.Contains(out, "Downloaded newer image for "+front+"/"+name) {
		t.Errorf("pull with client.cert/client.key = %q", out)
	}
}
