package network

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables"
)

// run runs a command and fails the test with its output.
func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// A dual-stack network: containers get IPv6 addresses and a default route,
// reach each other over IPv6, and reach the outside through NAT66; the
// ip6 rules go with the network.
func TestDualStackNetwork(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	sfx := randSuffix()
	sub6 := netip.MustParsePrefix(fmt.Sprintf("fd42:%s:%s::/64", sfx[:4], sfx[4:]))
	n, err := m.Create(ctx, "v6-"+sfx, CreateOptions{IPv6: true, Subnet6: sub6})
	if err != nil {
		t.Fatal(err)
	}
	if n.Gateway6 != sub6.Addr().Next() {
		t.Fatalf("gateway6 %s", n.Gateway6)
	}
	web, client := newContainer(t, true), newContainer(t, true)
	aw, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: web.id, Name: "web", NetNSPath: web.netnsPath(), HostsPath: web.hosts,
		Ports: []PortMapping{{ContainerPort: 80}}})
	if err != nil {
		t.Fatal(err)
	}
	fixed := sub6.Addr().Next().Next().Next().Next() // ::4
	ac, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: client.id, Name: "client", NetNSPath: client.netnsPath(), HostsPath: client.hosts, IP6: fixed})
	if err != nil {
		t.Fatal(err)
	}
	if aw.IP6 != sub6.Addr().Next().Next() || ac.IP6 != fixed || ac.PrefixLen6 != 64 || ac.Gateway6 != n.Gateway6 {
		t.Fatalf("attachments: %s, %s/%d via %s", aw.IP6, ac.IP6, ac.PrefixLen6, ac.Gateway6)
	}
	if err := m.CheckAddress(ctx, n.Name, fixed); err == nil {
		t.Fatal("CheckAddress of a taken IPv6 address passed")
	}
	out, _ := exec.Command("ip", "netns", "exec", client.ns, "ip", "-6", "route", "show", "default").CombinedOutput()
	if !strings.Contains(string(out), "via "+n.Gateway6.String()) {
		t.Fatalf("no IPv6 default route in the container: %s", out)
	}
	hosts, _ := os.ReadFile(client.hosts)
	if !strings.Contains(string(hosts), aw.IP6.String()+"\tweb") {
		t.Fatalf("hosts lacks web's IPv6 address:\n%s", hosts)
	}
	web.serve(t, "hello over v6")
	poll(t, "container to container over IPv6", client.fetch(aw.IP6.String(), 80, "hello over v6"))

	// The outside: a namespace behind a veth pair on its own prefix, with
	// no route back to the network's subnet, so only NAT66 lets answers in.
	out6 := newContainer(t, true)
	hostEnd, outEnd := "vo"+sfx, "vi"+sfx
	outPrefix := fmt.Sprintf("fd43:%s:%s::", sfx[:4], sfx[4:])
	run(t, "ip", "link", "add", hostEnd, "type", "veth", "peer", "name", outEnd, "netns", out6.ns)
	t.Cleanup(func() { exec.Command("ip", "link", "del", hostEnd).Run() })
	run(t, "ip", "addr", "add", outPrefix+"1/64", "dev", hostEnd, "nodad")
	run(t, "ip", "link", "set", hostEnd, "up")
	run(t, "ip", "netns", "exec", out6.ns, "ip", "addr", "add", outPrefix+"2/64", "dev", outEnd, "nodad")
	run(t, "ip", "netns", "exec", out6.ns, "ip", "link", "set", outEnd, "up")
	run(t, "ip", "netns", "exec", out6.ns, "ip", "link", "set", "lo", "up")
	out6.serve(t, "hello from outside")
	poll(t, "container to the outside through NAT66", client.fetch(outPrefix+"2", 80, "hello from outside"))
	// The published port answers on the host's IPv6 addresses: from the
	// outside, from the host itself and from another container (hairpin
	// through the host's address).
	hp := aw.Ports[0].HostPort
	poll(t, "the outside to a published port over IPv6", out6.fetch(outPrefix+"1", hp, "hello over v6"))
	poll(t, "the host to a published port over IPv6", hostFetch(fmt.Sprintf("http://[%s1]:%d/", outPrefix, hp), "hello over v6"))
	poll(t, "a container to a published port over IPv6", client.fetch(outPrefix+"1", hp, "hello over v6"))

	for _, id := range []string{web.id, client.id} {
		if err := m.Detach(ctx, n.Name, id); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, chain := range []string{chainPrerouting, chainOutput} {
		if rules, _ := m.k.taggedRulesOf(nc, m.k.nftTable6(), chain, containerTag(n, web.id)); len(rules) != 0 {
			t.Fatalf("%d IPv6 port rules left in %s after detach", len(rules), chain)
		}
	}
	if err := m.Remove(ctx, n.Name); err != nil {
		t.Fatal(err)
	}
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	if tab, err := c.ListTableOfFamily(m.Table(), nftables.TableFamilyIPv6); err == nil {
		rules, _ := m.k.taggedRulesOf(c, tab, chainPostrouting, networkTag(n))
		if len(rules) > 0 {
			t.Fatalf("%d IPv6 rules left after the network's removal", len(rules))
		}
	}
}
