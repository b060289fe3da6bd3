package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func netSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// freeSubnet picks a /24 of 10.201.0.0/16 that the host does not route.
func freeSubnet(t *testing.T) netip.Prefix {
	t.Helper()
	routes, _ := exec.Command("ip", "-4", "route", "show", "table", "all").CombinedOutput()
	for i := 0; i < 64; i++ {
		b := make([]byte, 1)
		rand.Read(b)
		p := netip.MustParsePrefix(fmt.Sprintf("10.201.%d.0/24", b[0]))
		if !strings.Contains(string(routes), strings.TrimSuffix(p.Addr().String(), ".0")+".") {
			return p
		}
	}
	t.Skip("no free /24 in 10.201.0.0/16")
	return netip.Prefix{}
}

// --dns, --dns-search, --dns-option and --add-host end up in the
// container's /etc files; host-gateway is the network's gateway, and on
// the host network the host itself.
func TestRunDNSAndExtraHosts(t *testing.T) {
	e := newEngineEnv(t)
	out, errOut, code := e.berth("run", "--rm", "--rootfs", e.rootfs,
		"--dns", "192.0.2.53", "--dns", "2001:db8::53", "--dns-search", "corp.example", "--dns-option", "ndots:3",
		"--add-host", "db.internal:192.0.2.10", "--add-host", "gw=host-gateway",
		"sh", "-c", "cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; ip route")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	parts := strings.Split(out, "---\n")
	if len(parts) != 3 {
		t.Fatalf("output:\n%s", out)
	}
	resolv, hosts, routes := parts[0], parts[1], parts[2]
	if resolv != "nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch corp.example\noptions ndots:3\n" {
		t.Errorf("resolv.conf:\n%s", resolv)
	}
	var gw string
	for _, l := range strings.Split(routes, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "default" && f[1] == "via" {
			gw = f[2]
		}
	}
	if gw == "" {
		t.Fatalf("no default route:\n%s", routes)
	}
	for _, want := range []string{"192.0.2.10\tdb.internal\n", gw + "\tgw\n", "127.0.0.1\tlocalhost\n"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("hosts lacks %q:\n%s", want, hosts)
		}
	}

	out, errOut, code = e.berth("run", "--rm", "--rootfs", e.rootfs, "--network", "host",
		"--add-host", "gw:host-gateway", "--dns-search", ".", "--dns", "192.0.2.53",
		"sh", "-c", "grep -w gw /etc/hosts; grep -c -e ^search -e ^domain /etc/resolv.conf; grep ^nameserver /etc/resolv.conf")
	if !strings.Contains(out, "127.0.0.1\tgw\n0\nnameserver 192.0.2.53\n") {
		t.Errorf("host network: exit %d: %q %s", code, out, errOut)
	}

	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--dns", "dns.example"}, "--dns"},
		{[]string{"--dns-search", "bad domain"}, "--dns-search"},
		{[]string{"--dns-option", "a b"}, "--dns-option"},
		{[]string{"--add-host", "nohost"}, "--add-host"},
		{[]string{"--add-host", "h:300.1.1.1"}, "--add-host"},
		{[]string{"--network", "none", "--add-host", "gw:host-gateway"}, "host-gateway"},
		{[]string{"--network-alias", "db"}, "user-defined networks"},
	} {
		args := append(append([]string{"run", "--rm", "--rootfs", e.rootfs}, tc.flags...), "true")
		if _, errOut, code := e.berth(args...); code != 125 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d: %s", tc.flags, code, errOut)
		}
	}
	if out, _, _ := e.berth("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("refused runs left containers: %s", out)
	}
}

// --ip gives a container a fixed address on a user network, checked
// against the subnet and the addresses in use.
func TestRunStaticIP(t *testing.T) {
	e := newEngineEnv(t)
	sfx := netSuffix()
	netName, first := "ipnet-"+sfx, "fixed-"+sfx
	subnet := freeSubnet(t)
	t.Cleanup(func() {
		e.berth("rm", "-f", first)
		e.berth("network", "rm", netName)
	})
	if _, errOut, code := e.berth("network", "create", "--subnet", subnet.String(), netName); code != 0 {
		t.Fatalf("network create: %s", errOut)
	}
	base := strings.TrimSuffix(subnet.Addr().String(), ".0")
	ip := base + ".123"
	if _, errOut, code := e.berth("run", "-d", "--name", first, "--network", netName, "--ip", ip, "--rootfs", e.rootfs, "sleep", "300"); code != 0 {
		t.Fatalf("run --ip: exit %d: %s", code, errOut)
	}
	if got := e.inspect(first, "{{(index .NetworkSettings.Networks \""+netName+"\").IPAddress}}"); got != ip {
		t.Errorf("IPAddress %q, want %s", got, ip)
	}
	if got := e.inspect(first, "{{(index .NetworkSettings.Networks \""+netName+"\").IPAMConfig.IPv4Address}}"); got != ip {
		t.Errorf("IPAMConfig.IPv4Address %q, want %s", got, ip)
	}
	out, errOut, code := e.berth("exec", first, "ip", "-4", "-o", "addr", "show", "eth0")
	if code != 0 || !strings.Contains(out, ip+"/24") {
		t.Errorf("eth0 in the container: exit %d: %q %s", code, out, errOut)
	}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--network", netName, "--ip", ip}, "already in use"},
		{[]string{"--network", netName, "--ip", base + ".1"}, "not usable"},
		{[]string{"--network", netName, "--ip", "192.0.2.7"}, "not usable"},
		{[]string{"--network", netName, "--ip", "not-an-ip"}, "invalid IPv4 address"},
		{[]string{"--ip", base + ".9"}, "user defined networks only"},
	} {
		args := append(append([]string{"run", "--rm", "--rootfs", e.rootfs}, tc.flags...), "true")
		if _, errOut, code := e.berth(args...); code != 125 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, want 125 and %q: %s", tc.flags, code, tc.want, errOut)
		}
	}
	// The address comes back after the container goes.
	if _, errOut, code := e.berth("rm", "-f", first); code != 0 {
		t.Fatalf("rm: %s", errOut)
	}
	out, errOut, code = e.berth("run", "--rm", "--network", netName, "--ip", ip, "--rootfs", e.rootfs, "ip", "-4", "-o", "addr", "show", "eth0")
	if code != 0 || !strings.Contains(out, ip+"/24") {
		t.Errorf("reusing the address: exit %d: %q %s", code, out, errOut)
	}
}

// --network container:NAME shares another container's network namespace:
// the same address, its services on localhost, its /etc/hosts.
func TestRunJoinContainerNetwork(t *testing.T) {
	e := newEngineEnv(t)
	sfx := netSuffix()
	web, stopped := "web-"+sfx, "stopped-"+sfx
	t.Cleanup(func() { e.berth("rm", "-f", web, stopped) })
	if _, errOut, code := e.berth("run", "-d", "--name", web, "--rootfs", e.rootfs, "sh", "-c",
		"mkdir -p /www && echo joined-"+sfx+" > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"); code != 0 {
		t.Fatalf("run web: %s", errOut)
	}
	ip := e.inspect(web, "{{.NetworkSettings.Networks.bridge.IPAddress}}")
	if ip == "" {
		t.Fatal("web has no address")
	}
	var out, errOut string
	var code int
	eventually(t, 20*time.Second, "web's localhost-only server from a joined container", func() bool {
		out, errOut, code = e.berth("run", "--rm", "--network", "container:"+web, "--rootfs", e.rootfs, "sh", "-c",
			`ip -4 -o addr show eth0; hostname; grep -c . /etc/hosts; printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 127.0.0.1 8080`)
		return code == 0 && strings.Contains(out, "joined-"+sfx)
	})
	if !strings.Contains(out, ip+"/") {
		t.Errorf("joined container's eth0 is not web's %s: %q", ip, out)
	}
	hostname := e.inspect(web, "{{.Config.Hostname}}")
	if !strings.Contains(out, "\n"+hostname+"\n") {
		t.Errorf("joined container's hostname is not web's %s: %q", hostname, out)
	}

	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"-p", "8081:80"}, "port publishing"},
		{[]string{"--dns", "192.0.2.1"}, "dns"},
		{[]string{"--add-host", "a:192.0.2.1"}, "host-to-IP"},
		{[]string{"--hostname", "mine"}, "hostname"},
	} {
		args := append(append([]string{"run", "--rm", "--rootfs", e.rootfs, "--network", "container:" + web}, tc.flags...), "true")
		if _, errOut, code := e.berth(args...); code != 125 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, want 125 and %q: %s", tc.flags, code, tc.want, errOut)
		}
	}
	if _, errOut, code := e.berth("run", "--rm", "--rootfs", e.rootfs, "--network", "container:nosuch-"+sfx, "true"); code != 125 || !strings.Contains(errOut, "no such container") {
		t.Errorf("joining a missing container: exit %d: %s", code, errOut)
	}
	if _, errOut, code := e.berth("create", "--name", stopped, "--rootfs", e.rootfs, "--network", "none", "true"); code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	if _, errOut, code := e.berth("run", "--rm", "--rootfs", e.rootfs, "--network", "container:"+stopped, "true"); code != 125 || !strings.Contains(errOut, "not running") {
		t.Errorf("joining a container that is not running: exit %d: %s", code, errOut)
	}

	// A joiner keeps the namespace alive: when web goes, its devices are
	// deleted rather than left to the namespace's end.
	joiner := "joiner-" + sfx
	t.Cleanup(func() { e.berth("rm", "-f", joiner) })
	if _, errOut, code := e.berth("run", "-d", "--name", joiner, "--network", "container:"+web, "--rootfs", e.rootfs, "sleep", "300"); code != 0 {
		t.Fatalf("run joiner: %s", errOut)
	}
	if _, errOut, code := e.berth("rm", "-f", web); code != 0 {
		t.Fatalf("rm web: %s", errOut)
	}
	out, errOut, code = e.berth("exec", joiner, "ip", "-4", "-o", "addr")
	if code != 0 || strings.Contains(out, ip+"/") {
		t.Errorf("web's address still in the namespace its joiner keeps: exit %d: %q %s", code, out, errOut)
	}
}
