package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/errdefs"
)

func randSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newManager opens a Manager on fresh state roots; its kernel names derive
// from the temporary root, so they are unique, and Destroy removes them.
func newManager(t *testing.T) *Manager {
	t.Helper()
	testutil.RequireRoot(t)
	// Leftovers of earlier runs whose roots are gone (a crashed test).
	if err := CollectOrphans(context.Background()); err != nil {
		t.Logf("collecting orphans: %v", err)
	}
	dir := t.TempDir()
	m, err := Open(filepath.Join(dir, "root"), filepath.Join(dir, "run"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Destroy(context.Background()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	return m
}

// container is a stand-in for a container: a named netns and a busybox rootfs.
type container struct {
	id, ns, rootfs, hosts string
}

func (c *container) netnsPath() string { return "/run/netns/" + c.ns }

func newContainer(t *testing.T, withRootfs bool) *container {
	t.Helper()
	testutil.RequireCommand(t, "ip")
	c := &container{id: "c" + randSuffix() + randSuffix(), ns: "berth-nt-" + randSuffix()}
	if out, err := exec.Command("ip", "netns", "add", c.ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", c.ns).Run() })
	if withRootfs {
		c.rootfs = testutil.BusyboxRootfs(t)
		c.hosts = filepath.Join(c.rootfs, "etc", "hosts")
		if err := os.WriteFile(c.hosts, []byte("127.0.0.1\tlocalhost\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// exec runs busybox applet args inside the container's netns and rootfs.
func (c *container) command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", c.ns, "chroot", c.rootfs}, args...)...)
}

// serve starts busybox httpd on port 80 answering body.
func (c *container) serve(t *testing.T, body string) {
	t.Helper()
	www := filepath.Join(c.rootfs, "www")
	os.MkdirAll(www, 0o755)
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := c.command("/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// poll retries f until it succeeds or 15 seconds pass.
func poll(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fetch asks host:port for / over HTTP with busybox nc (busybox-static's
// wget crashes in Debian 12) and wants body in the answer.
func (c *container) fetch(host string, port uint16, want string) func() error {
	return func() error {
		cmd := c.command("/bin/busybox", "nc", "-w", "2", host, fmt.Sprint(port))
		cmd.Stdin = strings.NewReader("GET / HTTP/1.0\r\n\r\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("nc %s %d: %v: %s", host, port, err, out)
		}
		if !strings.Contains(string(out), want) {
			return fmt.Errorf("nc %s %d: got %q, want %q", host, port, out, want)
		}
		return nil
	}
}

func hostFetch(url, want string) func() error {
	return func() error {
		cl := &http.Client{Timeout: 2 * time.Second}
		resp, err := cl.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), want) {
			return fmt.Errorf("GET %s: got %q, want %q", url, b, want)
		}
		return nil
	}
}

// taggedRuleCount counts the rules of m's table whose comment starts with prefix.
func taggedRuleCount(t *testing.T, m *Manager, prefix string) int {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, chain := range []string{chainPrerouting, chainOutput, chainPostrouting, chainForward} {
		rules, err := m.k.taggedRulesPrefix(c, chain, prefix)
		if err != nil {
			t.Fatal(err)
		}
		count += len(rules)
	}
	return count
}

func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

func TestAttachDiscoveryAndPublish(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	n, err := m.Create(ctx, "net-"+randSuffix(), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Remove(ctx, n.Name) })
	if !linkExists(n.Bridge) {
		t.Fatalf("bridge %s not created", n.Bridge)
	}

	web, client := newContainer(t, true), newContainer(t, true)
	webName := "web-" + randSuffix()
	a1, err := m.Attach(ctx, AttachRequest{
		Network: n.Name, ContainerID: web.id, Name: webName, Aliases: []string{"site"},
		NetNSPath: web.netnsPath(), HostsPath: web.hosts,
		Ports: []PortMapping{{ContainerPort: 80}},
	})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := m.Attach(ctx, AttachRequest{
		Network: n.Name, ContainerID: client.id, Name: "client-" + randSuffix(),
		NetNSPath: client.netnsPath(), HostsPath: client.hosts,
	})
	if err != nil {
		t.Fatal(err)
	}
	if a1.IP == a2.IP || !n.Subnet.Contains(a1.IP) || !n.Subnet.Contains(a2.IP) {
		t.Fatalf("addresses %s, %s in %s", a1.IP, a2.IP, n.Subnet)
	}
	if a1.Interface != "eth0" || a1.Gateway != n.Gateway || len(a1.Ports) != 1 || a1.Ports[0].HostPort == 0 {
		t.Fatalf("attachment %+v", a1)
	}
	hosts, _ := os.ReadFile(client.hosts)
	if !strings.Contains(string(hosts), a1.IP.String()+"\t"+webName+" site") || !strings.HasPrefix(string(hosts), "127.0.0.1\tlocalhost\n") {
		t.Fatalf("client hosts file:\n%s", hosts)
	}

	token := "hello-" + randSuffix()
	web.serve(t, token)
	poll(t, "by IP", client.fetch(a1.IP.String(), 80, token))
	poll(t, "by name", client.fetch(webName, 80, token))
	poll(t, "by alias", client.fetch("site", 80, token))
	port := a1.Ports[0].HostPort
	poll(t, "published on 127.0.0.1", hostFetch(fmt.Sprintf("http://127.0.0.1:%d/", port), token))
	poll(t, "published, from another container via the gateway", client.fetch(n.Gateway.String(), port, token))

	if err := m.Remove(ctx, n.Name); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("remove with members: %v, want ErrConflict", err)
	}

	if err := m.Detach(ctx, n.Name, web.id); err != nil {
		t.Fatal(err)
	}
	if err := m.Detach(ctx, n.Name, web.id); err != nil {
		t.Fatalf("second detach: %v", err)
	}
	if linkExists(a1.HostVeth) {
		t.Errorf("veth %s left after detach", a1.HostVeth)
	}
	if c := taggedRuleCount(t, m, containerTag(n, web.id)); c != 0 {
		t.Errorf("%d rules of the detached container left", c)
	}
	hosts, _ = os.ReadFile(client.hosts)
	if strings.Contains(string(hosts), webName) {
		t.Errorf("detached name still in hosts:\n%s", hosts)
	}
	if err := m.Detach(ctx, n.Name, client.id); err != nil {
		t.Fatal(err)
	}
	eps, err := m.Endpoints(ctx, n.Name)
	if err != nil || len(eps) != 0 {
		t.Fatalf("endpoints after detach: %v %v", eps, err)
	}
	if err := m.Remove(ctx, n.Name); err != nil {
		t.Fatal(err)
	}
	if linkExists(n.Bridge) {
		t.Errorf("bridge %s left after remove", n.Bridge)
	}
	if c := taggedRuleCount(t, m, "berth "); c != 0 {
		t.Errorf("%d rules left after remove", c)
	}
}

func TestConcurrentAttach(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	const count = 20
	cs := make([]*container, count)
	for i := range cs {
		cs[i] = newContainer(t, false)
	}
	var wg sync.WaitGroup
	atts := make([]*Attachment, count)
	errs := make([]error, count)
	for i := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A second Manager per goroutine: as separate processes would.
			mm, err := Open(filepath.Dir(m.defDir), filepath.Dir(m.runDir))
			if err != nil {
				errs[i] = err
				return
			}
			atts[i], errs[i] = mm.Attach(ctx, AttachRequest{ContainerID: cs[i].id, NetNSPath: cs[i].netnsPath()})
		}()
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for i := range cs {
		if errs[i] != nil {
			t.Fatalf("attach %d: %v", i, errs[i])
		}
		if seen[atts[i].IP] {
			t.Fatalf("address %s handed out twice", atts[i].IP)
		}
		seen[atts[i].IP] = true
		if atts[i].Network != DefaultNetwork {
			t.Fatalf("attached to %s", atts[i].Network)
		}
	}
	nets, _ := m.List(ctx)
	if len(nets) != 1 {
		t.Fatalf("%d networks after concurrent first use of the default one", len(nets))
	}
	for i := range cs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = m.Detach(ctx, "", cs[i].id) }()
	}
	wg.Wait()
	for i := range cs {
		if errs[i] != nil {
			t.Fatalf("detach %d: %v", i, errs[i])
		}
		if linkExists(atts[i].HostVeth) {
			t.Errorf("veth %s left", atts[i].HostVeth)
		}
	}
	if eps, _ := m.Endpoints(ctx, DefaultNetwork); len(eps) != 0 {
		t.Fatalf("%d endpoints left", len(eps))
	}
}

func TestPortConflict(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := uint16(l.Addr().(*net.TCPAddr).Port)
	c1, c2 := newContainer(t, false), newContainer(t, false)
	_, err = m.Attach(ctx, AttachRequest{ContainerID: c1.id, NetNSPath: c1.netnsPath(),
		Ports: []PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: busy, ContainerPort: 80}}})
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "port is already allocated") {
		t.Fatalf("attach on a bound port: %v", err)
	}
	// Nothing is left behind by the refused attach.
	if eps, _ := m.Endpoints(ctx, DefaultNetwork); len(eps) != 0 {
		t.Fatalf("refused attach left %d endpoints", len(eps))
	}
	a, err := m.Attach(ctx, AttachRequest{ContainerID: c1.id, NetNSPath: c1.netnsPath(),
		Ports: []PortMapping{{ContainerPort: 80}, {ContainerPort: 53, Protocol: "udp"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Detach(ctx, "", c1.id)
	_, err = m.Attach(ctx, AttachRequest{ContainerID: c2.id, NetNSPath: c2.netnsPath(),
		Ports: []PortMapping{{HostPort: a.Ports[0].HostPort, ContainerPort: 80}}})
	if !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("attach on a published port: %v", err)
	}
	if linkExists(vethName(a.NetworkID, c2.id)) {
		t.Fatal("refused attach left its veth")
	}
}

func TestRepairAfterVanishedNetns(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	c := newContainer(t, false)
	a, err := m.Attach(ctx, AttachRequest{ContainerID: c.id, NetNSPath: c.netnsPath(), Ports: []PortMapping{{ContainerPort: 8080}}})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := m.Get(ctx, DefaultNetwork)
	if taggedRuleCount(t, m, containerTag(n, c.id)) == 0 {
		t.Fatal("no port rules installed")
	}
	if out, err := exec.Command("ip", "netns", "del", c.ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns del: %v: %s", err, out)
	}
	if err := m.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	if eps, _ := m.Endpoints(ctx, DefaultNetwork); len(eps) != 0 {
		t.Fatalf("%d endpoints after repair", len(eps))
	}
	if c := taggedRuleCount(t, m, containerTag(n, c.id)); c != 0 {
		t.Fatalf("%d rules after repair", c)
	}
	poll(t, "veth gone", func() error {
		if linkExists(a.HostVeth) {
			return fmt.Errorf("veth %s still there", a.HostVeth)
		}
		return nil
	})
	// The address and port are free again: a new container may take them.
	c2 := newContainer(t, false)
	a2, err := m.Attach(ctx, AttachRequest{ContainerID: c2.id, NetNSPath: c2.netnsPath(), IP: a.IP,
		Ports: []PortMapping{{HostPort: a.Ports[0].HostPort, ContainerPort: 8080}}})
	if err != nil {
		t.Fatalf("reusing the repaired address and port: %v", err)
	}
	// Detach after the namespace is gone releases everything too.
	if out, err := exec.Command("ip", "netns", "del", c2.ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns del: %v: %s", err, out)
	}
	if err := m.Detach(ctx, "", c2.id); err != nil {
		t.Fatalf("detach with the namespace gone: %v", err)
	}
	if linkExists(a2.HostVeth) {
		t.Errorf("veth %s left", a2.HostVeth)
	}
	if c := taggedRuleCount(t, m, containerTag(n, c2.id)); c != 0 {
		t.Errorf("%d rules left", c)
	}
	if eps, _ := m.Endpoints(ctx, DefaultNetwork); len(eps) != 0 {
		t.Errorf("%d endpoints left", len(eps))
	}
}

func TestTwoNetworksOneContainer(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	n1, err := m.Create(ctx, "one-"+randSuffix(), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n2, err := m.Create(ctx, "two-"+randSuffix(), CreateOptions{Subnet: netip.MustParsePrefix("10.89.250.0/24"), IPRange: netip.MustParsePrefix("10.89.250.128/25")})
	if err != nil {
		t.Fatalf("create with subnet (is 10.89.250.0/24 taken on this host?): %v", err)
	}
	if n1.Subnet.Overlaps(n2.Subnet) {
		t.Fatalf("overlapping subnets %s %s", n1.Subnet, n2.Subnet)
	}
	if _, err := m.Create(ctx, "three-"+randSuffix(), CreateOptions{Subnet: netip.MustParsePrefix("10.89.250.0/25")}); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("overlapping subnet: %v", err)
	}
	c := newContainer(t, true)
	a1, err := m.Attach(ctx, AttachRequest{Network: n1.Name, ContainerID: c.id, Name: "multi", NetNSPath: c.netnsPath(), HostsPath: c.hosts})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := m.Attach(ctx, AttachRequest{Network: n2.ID[:10], ContainerID: c.id, Name: "multi", NetNSPath: c.netnsPath(), HostsPath: c.hosts})
	if err != nil {
		t.Fatal(err)
	}
	if a1.Interface != "eth0" || a2.Interface != "eth1" || a2.IP != netip.MustParseAddr("10.89.250.128") {
		t.Fatalf("attachments %s %s / %s %s", a1.Interface, a1.IP, a2.Interface, a2.IP)
	}
	if _, err := m.Attach(ctx, AttachRequest{Network: n2.Name, ContainerID: c.id, NetNSPath: c.netnsPath()}); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("attaching twice: %v", err)
	}
	hosts, _ := os.ReadFile(c.hosts)
	if !strings.Contains(string(hosts), "network "+n1.Name) || !strings.Contains(string(hosts), "network "+n2.Name) {
		t.Fatalf("hosts lacks a network block:\n%s", hosts)
	}
	atts, err := m.Attachments(ctx, c.id)
	if err != nil || len(atts) != 2 {
		t.Fatalf("attachments: %v %v", atts, err)
	}
	if err := m.DetachAll(ctx, c.id); err != nil {
		t.Fatal(err)
	}
	if atts, _ := m.Attachments(ctx, c.id); len(atts) != 0 {
		t.Fatalf("attachments after DetachAll: %v", atts)
	}
	if hosts, _ := os.ReadFile(c.hosts); string(hosts) != "127.0.0.1\tlocalhost\n" {
		t.Fatalf("hosts after DetachAll:\n%s", hosts)
	}
	for _, a := range []*Attachment{a1, a2} {
		if linkExists(a.HostVeth) {
			t.Errorf("veth %s left", a.HostVeth)
		}
	}
	if out, err := exec.Command("ip", "netns", "exec", c.ns, "ip", "-o", "link").CombinedOutput(); err != nil || strings.Contains(string(out), "eth") {
		t.Errorf("devices left in the namespace: %v\n%s", err, out)
	}
}

func TestCollectOrphans(t *testing.T) {
	kept := newManager(t)
	ctx := context.Background()
	keptNet, err := kept.Create(ctx, "kept-"+randSuffix(), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "berth-orphan-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	gone, err := Open(filepath.Join(dir, "root"), filepath.Join(dir, "run"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gone.k.collect(gone.defaultBridge) })
	n, err := gone.Create(ctx, "gone-"+randSuffix(), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := newContainer(t, false)
	if _, err := gone.Attach(ctx, AttachRequest{ContainerID: c.id, NetNSPath: c.netnsPath()}); err != nil {
		t.Fatal(err)
	}
	def, _ := gone.Get(ctx, DefaultNetwork)
	os.RemoveAll(dir)
	if err := CollectOrphans(ctx); err != nil {
		t.Fatal(err)
	}
	for _, br := range []string{n.Bridge, def.Bridge} {
		if linkExists(br) {
			t.Errorf("bridge %s of a deleted root left", br)
		}
	}
	nc, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.ListTableOfFamily(gone.Table(), nftables.TableFamilyIPv4); err == nil {
		t.Errorf("table %s of a deleted root left", gone.Table())
	}
	if _, err := nc.ListTableOfFamily(kept.Table(), nftables.TableFamilyIPv4); err != nil {
		t.Errorf("table %s of a live root removed: %v", kept.Table(), err)
	}
	if !linkExists(keptNet.Bridge) {
		t.Errorf("bridge %s of a live root removed", keptNet.Bridge)
	}
}

func TestReattachAfterCrash(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	c := newContainer(t, false)
	a, err := m.Attach(ctx, AttachRequest{ContainerID: c.id, NetNSPath: c.netnsPath(), Ports: []PortMapping{{HostPort: 0, ContainerPort: 80}}})
	if err != nil {
		t.Fatal(err)
	}
	// The container dies without a Detach (kill -9 of everything) and
	// comes back in a new namespace under the same ID, asking for the same
	// host port: the stale endpoint is released on the way.
	if out, err := exec.Command("ip", "netns", "del", c.ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns del: %v: %s", err, out)
	}
	again := newContainer(t, false)
	b, err := m.Attach(ctx, AttachRequest{ContainerID: c.id, NetNSPath: again.netnsPath(),
		Ports: []PortMapping{{HostPort: a.Ports[0].HostPort, ContainerPort: 80}}})
	if err != nil {
		t.Fatalf("re-attach after the namespace vanished: %v", err)
	}
	if b.IP != a.IP {
		t.Errorf("re-attached with %s, want the released %s back", b.IP, a.IP)
	}
	if eps, _ := m.Endpoints(ctx, DefaultNetwork); len(eps) != 1 {
		t.Errorf("%d endpoints, want 1", len(eps))
	}
	if _, err := m.Attach(ctx, AttachRequest{ContainerID: c.id, NetNSPath: again.netnsPath()}); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("attaching a live container twice: %v", err)
	}
	if err := m.Detach(ctx, "", c.id); err != nil {
		t.Fatal(err)
	}
}
