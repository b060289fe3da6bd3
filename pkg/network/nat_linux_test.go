package network

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// outside is a namespace standing for "the rest of the world": joined to the
// host by a veth pair on a random /30 of 198.18.0.0/15 (the benchmarking
// range), serving HTTP with a CGI that echoes the client's address.
type outside struct {
	*container
	hostIP, ip string
}

func newOutside(t *testing.T) *outside {
	t.Helper()
	c := newContainer(t, true)
	third := rand.IntN(256)
	o := &outside{container: c,
		hostIP: fmt.Sprintf("198.18.%d.1", third), ip: fmt.Sprintf("198.18.%d.2", third)}
	hostEnd := "bo" + randSuffix()
	ns, err := netns.GetFromPath(c.netnsPath())
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostEnd}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(hostEnd); err == nil {
			netlink.LinkDel(l)
		}
	})
	for _, args := range [][]string{
		{"ip", "addr", "add", o.hostIP + "/30", "dev", hostEnd},
		{"ip", "link", "set", hostEnd, "up"},
		{"ip", "netns", "exec", c.ns, "ip", "addr", "add", o.ip + "/30", "dev", "eth0"},
		{"ip", "netns", "exec", c.ns, "ip", "link", "set", "eth0", "up"},
		{"ip", "netns", "exec", c.ns, "ip", "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	cgi := filepath.Join(c.rootfs, "www", "cgi-bin")
	os.MkdirAll(cgi, 0o755)
	script := "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"client=$REMOTE_ADDR\"\n"
	if err := os.WriteFile(filepath.Join(cgi, "whoami"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c.serve(t, "outside")
	return o
}

// get sends an HTTP request for path to host:port with busybox nc.
func (c *container) get(host string, port uint16, path, want string) func() error {
	return func() error {
		cmd := c.command("/bin/busybox", "nc", "-w", "2", host, fmt.Sprint(port))
		cmd.Stdin = strings.NewReader("GET " + path + " HTTP/1.0\r\n\r\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("nc %s %d: %v: %s", host, port, err, out)
		}
		if !strings.Contains(string(out), want) {
			return fmt.Errorf("GET %s from %s:%d: got %q, want %q", path, host, port, out, want)
		}
		return nil
	}
}

func TestNATAndPublishFromOutside(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	out := newOutside(t)
	web := newContainer(t, true)
	a, err := m.Attach(ctx, AttachRequest{ContainerID: web.id, NetNSPath: web.netnsPath(),
		Ports: []PortMapping{{ContainerPort: 80}, {HostIP: netip.MustParseAddr("127.0.0.1"), ContainerPort: 80}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Detach(ctx, "", web.id) })

	// Out: the outside world sees the host's address, not the container's.
	poll(t, "masqueraded egress", web.get(out.ip, 80, "/cgi-bin/whoami", "client=[::ffff:"+out.hostIP+"]"))

	// In: a published port answers on a host address from outside.
	token := "published-" + randSuffix()
	web.serve(t, token)
	port := a.Ports[0].HostPort
	poll(t, "published port from outside", out.get(out.hostIP, port, "/", token))
	poll(t, "published port from the host on another host address", hostFetch(fmt.Sprintf("http://%s/", net.JoinHostPort(out.hostIP, fmt.Sprint(port))), token))
	// Hairpin: the container reaches its own published port.
	poll(t, "hairpin", web.get(out.hostIP, port, "/", token))
	// A port published on 127.0.0.1 answers there and nowhere else.
	local := a.Ports[1].HostPort
	poll(t, "published on 127.0.0.1 only", hostFetch(fmt.Sprintf("http://127.0.0.1:%d/", local), token))
	if err := out.get(out.hostIP, local, "/", token)(); err == nil {
		t.Error("a port published on 127.0.0.1 answered on another address")
	}

	if err := m.Detach(ctx, "", web.id); err != nil {
		t.Fatal(err)
	}
	if err := out.get(out.hostIP, port, "/", token)(); err == nil {
		t.Fatal("published port still answers after detach")
	}
}

func TestInternalNetwork(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	out := newOutside(t)
	n, err := m.Create(ctx, "int-"+randSuffix(), CreateOptions{Internal: true})
	if err != nil {
		t.Fatal(err)
	}
	a, b := newContainer(t, true), newContainer(t, true)
	aa, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: a.id, Name: "alpha-" + randSuffix(), NetNSPath: a.netnsPath(), HostsPath: a.hosts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Detach(ctx, n.Name, a.id) })
	if aa.Gateway.IsValid() {
		t.Errorf("internal network gave a gateway %s", aa.Gateway)
	}
	if _, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: b.id, NetNSPath: b.netnsPath(), HostsPath: b.hosts}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Detach(ctx, n.Name, b.id) })
	token := "inside-" + randSuffix()
	a.serve(t, token)
	poll(t, "peer by name on an internal network", b.get(aa.Name, 80, "/", token))
	if err := b.get(out.ip, 80, "/", "outside")(); err == nil {
		t.Fatal("a container on an internal network reached the outside")
	}
	// Even with a route added by hand, the forward rules stop it.
	if o, err := exec.Command("ip", "netns", "exec", b.ns, "ip", "route", "add", "default", "via", n.Gateway.String()).CombinedOutput(); err != nil {
		t.Fatalf("adding a route: %v: %s", err, o)
	}
	if err := b.get(out.ip, 80, "/", "outside")(); err == nil {
		t.Fatal("a container on an internal network reached the outside through the bridge")
	}
}

func TestIsolationBetweenNetworks(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	n1, err := m.Create(ctx, "iso1-"+randSuffix(), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n2, err := m.Create(ctx, "iso2-"+randSuffix(), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	server, peer, stranger := newContainer(t, true), newContainer(t, true), newContainer(t, true)
	as, err := m.Attach(ctx, AttachRequest{Network: n1.Name, ContainerID: server.id, NetNSPath: server.netnsPath(),
		Ports: []PortMapping{{ContainerPort: 80}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Detach(ctx, n1.Name, server.id) })
	if _, err := m.Attach(ctx, AttachRequest{Network: n1.Name, ContainerID: peer.id, NetNSPath: peer.netnsPath()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Detach(ctx, n1.Name, peer.id) })
	if _, err := m.Attach(ctx, AttachRequest{Network: n2.Name, ContainerID: stranger.id, NetNSPath: stranger.netnsPath()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Detach(ctx, n2.Name, stranger.id) })
	token := "iso-" + randSuffix()
	server.serve(t, token)
	poll(t, "same network", peer.get(as.IP.String(), 80, "/", token))
	if err := stranger.get(as.IP.String(), 80, "/", token)(); err == nil {
		t.Fatal("a container on another network reached the server directly")
	}
	// Published ports stay reachable from every network, as in docker.
	poll(t, "published port from another network", stranger.get(n2.Gateway.String(), as.Ports[0].HostPort, "/", token))
}
