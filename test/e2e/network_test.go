package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
		IPAM             struct{ Config []struct{ Subnet, Gateway string } }
		Options          map[string]string
		Labels           map[string]string
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
