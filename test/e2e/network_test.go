package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

// TestNetworkCommands drives network create/ls/inspect/rm/prune on fresh
// state roots; every kernel object it makes is named after those roots.
func TestNetworkCommands(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	roots := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run")}
	berth := func(args ...string) (string, string, int) {
		t.Helper()
		return run(t, "berth", append(append([]string{}, roots...), args...)...)
	}
	b := make([]byte, 4)
	rand.Read(b)
	name := "e2e-" + hex.EncodeToString(b)
	t.Cleanup(func() { berth("network", "rm", "-f", name, name+"-int") })

	id, stderr, code := berth("network", "create", "--label", "app=demo", name)
	if code != 0 || len(strings.TrimSpace(id)) != 64 {
		t.Fatalf("create: %q %q %d", id, stderr, code)
	}
	id = strings.TrimSpace(id)
	if _, stderr, code := berth("network", "create", name); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("create twice: %q %d", stderr, code)
	}
	if _, stderr, code := berth("network", "create", "--subnet", "10.0.0.0/33", "x"); code != 125 || !strings.Contains(stderr, "--subnet") {
		t.Errorf("bad subnet: %q %d", stderr, code)
	}
	if _, _, code := berth("network", "create", "--internal", name+"-int"); code != 0 {
		t.Fatalf("create --internal: %d", code)
	}

	out, _, code := berth("network", "ls")
	if code != 0 || !strings.Contains(out, "NETWORK ID") || !strings.Contains(out, id[:12]+"   "+name+" ") {
		t.Errorf("ls:\n%s", out)
	}
	out, _, _ = berth("network", "ls", "-q")
	if !strings.Contains(out, id[:12]+"\n") {
		t.Errorf("ls -q:\n%s", out)
	}
	out, _, _ = berth("network", "ls", "--format", "{{.Name}} {{.Internal}} {{.Labels}}")
	if !strings.Contains(out, name+" false app=demo\n") || !strings.Contains(out, name+"-int true \n") {
		t.Errorf("ls --format:\n%s", out)
	}

	out, stderr, code = berth("network", "inspect", name)
	var got []struct {
		Name, Id, Driver string
		IPAM             struct {
			Config []struct{ Subnet, Gateway string }
		}
		Options map[string]string
		Labels  map[string]string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || len(got) != 1 {
		t.Fatalf("inspect: %v %q %d:\n%s", err, stderr, code, out)
	}
	n := got[0]
	if n.Id != id || n.Driver != "bridge" || n.Labels["app"] != "demo" || len(n.IPAM.Config) != 1 {
		t.Fatalf("inspect: %+v", n)
	}
	bridge := n.Options["com.docker.network.bridge.name"]
	addr, err := exec.Command("ip", "-4", "-o", "addr", "show", "dev", bridge).CombinedOutput()
	if err != nil || !strings.Contains(string(addr), n.IPAM.Config[0].Gateway+"/") {
		t.Errorf("bridge %s: %v: %s", bridge, err, addr)
	}
	if out, _, _ := berth("network", "inspect", "-f", "{{.Name}}", id[:8]); out != name+"\n" {
		t.Errorf("inspect by ID prefix: %q", out)
	}
	if _, stderr, code := berth("network", "inspect", "no-such-net"); code != 1 || !strings.Contains(stderr, "no such network") {
		t.Errorf("inspect missing: %q %d", stderr, code)
	}

	if out, _, code := berth("network", "rm", name); code != 0 || out != name+"\n" {
		t.Errorf("rm: %q %d", out, code)
	}
	if err := exec.Command("ip", "link", "show", bridge).Run(); err == nil {
		t.Errorf("bridge %s left after rm", bridge)
	}
	if out, _, code := berth("network", "prune"); code != 0 || !strings.Contains(out, name+"-int") {
		t.Errorf("prune: %q %d", out, code)
	}
	if out, _, _ := berth("network", "ls", "-q"); out != "" {
		t.Errorf("ls after prune: %q", out)
	}
}

// TestRunOnUserNetwork is the user's path: containers started by `berth run`
// on a user network publish a port to the host and find each other by name.
func TestRunOnUserNetwork(t *testing.T) {
	e := newEngineEnv(t)
	b := make([]byte, 4)
	rand.Read(b)
	suffix := hex.EncodeToString(b)
	netName, web := "e2enet-"+suffix, "web-"+suffix
	t.Cleanup(func() {
		e.berth("rm", "-f", web)
		e.berth("network", "rm", netName)
	})
	if out, errOut, code := e.berth("network", "create", netName); code != 0 {
		t.Fatalf("network create: %d %s %s", code, out, errOut)
	}
	www := t.TempDir()
	token := "served-" + suffix
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(token), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	if _, errOut, code := e.berth("run", "-d", "--name", web, "--network", netName, "--network-alias", "site",
		"-p", port+":80", "-v", www+":/www", "--rootfs", e.rootfs, "httpd", "-f", "-p", "80", "-h", "/www"); code != 0 {
		t.Fatalf("run -d: %d %s", code, errOut)
	}
	eventually(t, 20*time.Second, "the published port to answer on 127.0.0.1:"+port, func() bool {
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://127.0.0.1:" + port + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), token)
	})
	for _, name := range []string{web, "site"} {
		out, errOut, code := e.berth("run", "--rm", "--network", netName, "--rootfs", e.rootfs,
			"sh", "-c", `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 `+name+` 80`)
		if code != 0 || !strings.Contains(out, token) {
			t.Errorf("fetching http://%s/ from another container: exit %d: %q %s", name, code, out, errOut)
		}
	}
	if _, errOut, code := e.berth("run", "--rm", "--network", netName, "-p", port+":80", "--rootfs", e.rootfs, "true"); code != 125 || !strings.Contains(errOut, "port is already allocated") {
		t.Errorf("a second container on the same host port: exit %d: %s", code, errOut)
	}
	if _, errOut, code := e.berth("network", "rm", netName); code == 0 || !strings.Contains(errOut, "active endpoints") {
		t.Errorf("removing a network in use: exit %d: %s", code, errOut)
	}
	bridge := strings.TrimSpace(mustBerth(t, e, "network", "inspect", "-f", `{{index .Options "com.docker.network.bridge.name"}}`, netName))
	if _, errOut, code := e.berth("rm", "-f", web); code != 0 {
		t.Fatalf("rm -f: %s", errOut)
	}
	// The veth pair goes with the container's namespace, which the kernel
	// tears down in the background.
	eventually(t, 10*time.Second, "the veths to leave "+bridge+" after rm", func() bool {
		out, _ := exec.Command("ip", "-o", "link", "show", "master", bridge).CombinedOutput()
		return strings.TrimSpace(string(out)) == ""
	})
	if _, errOut, code := e.berth("network", "rm", netName); code != 0 {
		t.Errorf("network rm after the container went: %s", errOut)
	}
}

func mustBerth(t *testing.T, e *engineEnv, args ...string) string {
	t.Helper()
	out, errOut, code := e.berth(args...)
	if code != 0 {
		t.Fatalf("berth %v: exit %d: %s", args, code, errOut)
	}
	return out
}
