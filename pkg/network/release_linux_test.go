package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables"

	"github.com/berth/berth/pkg/errdefs"
)

// Release frees the address, port rules and names at once and leaves the
// veth pair to the namespace, which takes it along when it goes.
func TestReleaseLeavesVethToNamespace(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	n, err := m.Create(ctx, "net-"+randSuffix(), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := newContainer(t, true)
	a, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: c.id, Name: "rel-" + randSuffix(),
		NetNSPath: c.netnsPath(), HostsPath: c.hosts, Ports: []PortMapping{{ContainerPort: 80}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Release(ctx, n.Name, c.id); err != nil {
		t.Fatal(err)
	}
	if eps, err := m.Endpoints(ctx, n.Name); err != nil || len(eps) != 0 {
		t.Fatalf("endpoints after release: %v %v", eps, err)
	}
	if k := taggedRuleCount(t, m, containerTag(n, c.id)); k != 0 {
		t.Errorf("%d port rules left after release", k)
	}
	if !linkExists(a.HostVeth) {
		t.Fatalf("veth %s gone before its namespace", a.HostVeth)
	}
	// The address is free again at once.
	if err := m.CheckAddress(ctx, n.Name, a.IP); err != nil {
		t.Errorf("released address %s: %v", a.IP, err)
	}
	if out, err := exec.Command("ip", "netns", "del", c.ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns del: %v: %s", err, out)
	}
	poll(t, "the veth to go with its namespace", func() error {
		if linkExists(a.HostVeth) {
			return fmt.Errorf("veth %s still there", a.HostVeth)
		}
		return nil
	})
}

// A namespace something else keeps alive keeps a released container's
// veth; Repair deletes it.
func TestRepairDeletesStrayVeths(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	n, err := m.Create(ctx, "net-"+randSuffix(), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kept, gone := newContainer(t, false), newContainer(t, false)
	a, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: gone.id, NetNSPath: gone.netnsPath()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: kept.id, NetNSPath: kept.netnsPath()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Detach(ctx, n.Name, kept.id) })
	if err := m.Release(ctx, n.Name, gone.id); err != nil {
		t.Fatal(err)
	}
	if !linkExists(a.HostVeth) {
		t.Fatal("released veth already gone while its namespace lives")
	}
	if err := m.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	if linkExists(a.HostVeth) {
		t.Errorf("stray veth %s survived repair", a.HostVeth)
	}
	if !linkExists(b.HostVeth) {
		t.Errorf("repair deleted %s, which an endpoint owns", b.HostVeth)
	}
}

// A container restarted at once (its old namespace still being torn down,
// its old veth maybe still there under the same name) attaches again.
func TestReattachRightAfterRelease(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	n, err := m.Create(ctx, "net-"+randSuffix(), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := "c" + randSuffix() + randSuffix()
	for i := 0; i < 5; i++ {
		ns := "berth-nt-" + randSuffix()
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add: %v: %s", err, out)
		}
		if _, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: id, NetNSPath: "/run/netns/" + ns}); err != nil {
			exec.Command("ip", "netns", "del", ns).Run()
			t.Fatalf("attach %d: %v", i, err)
		}
		if err := m.Release(ctx, n.Name, id); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns del: %v: %s", err, out)
		}
	}
}

func TestStaticAddress(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	n, err := m.Create(ctx, "net-"+randSuffix(), CreateOptions{Subnet: netip.MustParsePrefix("10.213.7.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	want := netip.MustParseAddr("10.213.7.77")
	for _, tc := range []struct {
		ip   string
		want error
	}{
		{"10.213.7.77", nil},
		{"10.213.7.1", errdefs.ErrInvalidArgument},   // the gateway
		{"10.213.7.255", errdefs.ErrInvalidArgument}, // broadcast
		{"10.213.8.5", errdefs.ErrInvalidArgument},   // another subnet
	} {
		if err := m.CheckAddress(ctx, n.Name, netip.MustParseAddr(tc.ip)); !errors.Is(err, tc.want) {
			t.Errorf("CheckAddress(%s) = %v, want %v", tc.ip, err, tc.want)
		}
	}
	c1, c2 := newContainer(t, false), newContainer(t, false)
	a, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: c1.id, NetNSPath: c1.netnsPath(), IP: want})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Detach(ctx, n.Name, c1.id) })
	if a.IP != want {
		t.Fatalf("got %s, want %s", a.IP, want)
	}
	out, err := exec.Command("ip", "-n", c1.ns, "-4", "-o", "addr", "show", "eth0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), want.String()+"/24") {
		t.Errorf("eth0 of the container: %v: %s", err, out)
	}
	if err := m.CheckAddress(ctx, n.Name, want); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("CheckAddress of a held address: %v, want ErrConflict", err)
	}
	if _, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: c2.id, NetNSPath: c2.netnsPath(), IP: want}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("second attach with the same address: %v, want ErrConflict", err)
	}
}

// An attach notices a network whose nftables table was deleted behind
// berth's back and sets it up again.
func TestAttachRestoresDeletedTable(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	n, err := m.Create(ctx, "net-"+randSuffix(), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.k.deleteTable(); err != nil {
		t.Fatal(err)
	}
	c := newContainer(t, false)
	if _, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: c.id, NetNSPath: c.netnsPath()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Detach(ctx, n.Name, c.id) })
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ListTableOfFamily(m.Table(), nftables.TableFamilyIPv4); err != nil {
		t.Fatalf("table %s not restored: %v", m.Table(), err)
	}
	if k := taggedRuleCount(t, m, networkTag(n)); k == 0 {
		t.Errorf("rules of network %s not restored", n.Name)
	}
}
