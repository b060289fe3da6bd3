package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
)

func TestParsePort(t *testing.T) {
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		in   string
		want PortMapping
		err  bool
	}{
		{"80", PortMapping{ContainerPort: 80, Protocol: "tcp"}, false},
		{"8080:80", PortMapping{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, false},
		{"127.0.0.1:8080:80/udp", PortMapping{HostIP: ip("127.0.0.1"), HostPort: 8080, ContainerPort: 80, Protocol: "udp"}, false},
		{"127.0.0.1::80", PortMapping{HostIP: ip("127.0.0.1"), ContainerPort: 80, Protocol: "tcp"}, false},
		{"[::1]:8080:80", PortMapping{HostIP: ip("::1"), HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, false},
		{"80/TCP", PortMapping{ContainerPort: 80, Protocol: "tcp"}, false},
		{"0", PortMapping{}, true},
		{"65536", PortMapping{}, true},
		{"80/sctp", PortMapping{}, true},
		{"8000-8010:80", PortMapping{}, true},
		{"a:b:c:d", PortMapping{}, true},
		{"nope:80:80", PortMapping{}, true},
		{"", PortMapping{}, true},
	} {
		got, err := ParsePort(tc.in)
		if tc.err {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("ParsePort(%q) = %v, %v; want ErrInvalidArgument", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParsePort(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestPickSubnet(t *testing.T) {
	p := netip.MustParsePrefix
	pool := defaultPool()
	for _, tc := range []struct {
		used []netip.Prefix
		want netip.Prefix
	}{
		{nil, p("172.17.0.0/16")},
		{[]netip.Prefix{p("172.17.5.0/24")}, p("172.18.0.0/16")},
		{[]netip.Prefix{p("172.16.0.0/12")}, p("10.89.0.0/24")},
		{[]netip.Prefix{p("172.16.0.0/12"), p("10.89.0.0/23")}, p("10.89.2.0/24")},
	} {
		got, err := pickSubnet(pool, tc.used)
		if err != nil || got != tc.want {
			t.Errorf("pickSubnet(used %v) = %v, %v; want %v", tc.used, got, err, tc.want)
		}
	}
	if _, err := pickSubnet(pool, []netip.Prefix{p("0.0.0.0/1"), p("128.0.0.0/1")}); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("full pool: %v", err)
	}
}

func TestCheckOptions(t *testing.T) {
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	for _, tc := range []struct {
		name    string
		in      CreateOptions
		wantGW  netip.Addr
		wantErr bool
	}{
		{"auto", CreateOptions{}, netip.Addr{}, false},
		{"subnet", CreateOptions{Subnet: p("10.9.0.0/24")}, a("10.9.0.1"), false},
		{"gateway", CreateOptions{Subnet: p("10.9.0.0/24"), Gateway: a("10.9.0.254")}, a("10.9.0.254"), false},
		{"range", CreateOptions{Subnet: p("10.9.0.0/16"), IPRange: p("10.9.8.0/24")}, a("10.9.0.1"), false},
		{"not masked", CreateOptions{Subnet: p("10.9.0.1/24")}, netip.Addr{}, true},
		{"gw outside", CreateOptions{Subnet: p("10.9.0.0/24"), Gateway: a("10.8.0.1")}, netip.Addr{}, true},
		{"gw broadcast", CreateOptions{Subnet: p("10.9.0.0/24"), Gateway: a("10.9.0.255")}, netip.Addr{}, true},
		{"range outside", CreateOptions{Subnet: p("10.9.0.0/24"), IPRange: p("10.10.0.0/25")}, netip.Addr{}, true},
		{"range wider", CreateOptions{Subnet: p("10.9.0.0/24"), IPRange: p("10.9.0.0/16")}, netip.Addr{}, true},
		{"ipv6", CreateOptions{Subnet: p("fd00::/64")}, netip.Addr{}, true},
		{"too small", CreateOptions{Subnet: p("10.9.0.0/31")}, netip.Addr{}, true},
		{"gateway alone", CreateOptions{Gateway: a("10.9.0.1")}, netip.Addr{}, true},
	} {
		o := tc.in
		err := checkOptions(&o)
		if tc.wantErr != (err != nil) || (err == nil && o.Gateway != tc.wantGW) {
			t.Errorf("%s: checkOptions = %v, gateway %v", tc.name, err, o.Gateway)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v is not ErrInvalidArgument", tc.name, err)
		}
	}
}

func TestAllocateIP(t *testing.T) {
	a := netip.MustParseAddr
	n := &Network{Name: "t", Subnet: netip.MustParsePrefix("10.1.0.0/29"), Gateway: a("10.1.0.1")}
	used := map[netip.Addr]bool{}
	var got []netip.Addr
	for {
		ip, err := allocateIP(n, used, netip.Addr{})
		if err != nil {
			if !errors.Is(err, errdefs.ErrUnavailable) {
				t.Fatal(err)
			}
			break
		}
		used[ip] = true
		got = append(got, ip)
	}
	// .0 network, .1 gateway, .7 broadcast are never handed out.
	want := []netip.Addr{a("10.1.0.2"), a("10.1.0.3"), a("10.1.0.4"), a("10.1.0.5"), a("10.1.0.6")}
	if len(got) != len(want) {
		t.Fatalf("allocated %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allocated %v, want %v", got, want)
		}
	}
	if _, err := allocateIP(n, used, a("10.1.0.3")); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("taken fixed address: %v", err)
	}
	if _, err := allocateIP(n, map[netip.Addr]bool{}, a("10.1.0.1")); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("gateway as fixed address: %v", err)
	}
	n.IPRange = netip.MustParsePrefix("10.1.0.4/30")
	if ip, err := allocateIP(n, map[netip.Addr]bool{}, netip.Addr{}); err != nil || ip != a("10.1.0.4") {
		t.Errorf("in ip-range: %v %v", ip, err)
	}
}

func TestHostsFile(t *testing.T) {
	a := netip.MustParseAddr
	path := filepath.Join(t.TempDir(), "hosts")
	base := "127.0.0.1\tlocalhost\n10.0.0.9\tself\n"
	if err := os.WriteFile(path, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	st0, _ := os.Stat(path)
	steps := []struct {
		network string
		entries []HostEntry
		want    string
	}{
		{"one", []HostEntry{{a("10.0.0.2"), []string{"web", "www"}}},
			base + "# BEGIN berth network one (managed by berth; edits are lost)\n10.0.0.2\tweb www\n# END berth network one\n"},
		{"two", []HostEntry{{a("10.5.0.2"), []string{"db"}}},
			base + "# BEGIN berth network one (managed by berth; edits are lost)\n10.0.0.2\tweb www\n# END berth network one\n" +
				"# BEGIN berth network two (managed by berth; edits are lost)\n10.5.0.2\tdb\n# END berth network two\n"},
		{"one", []HostEntry{{a("10.0.0.3"), []string{"api"}}, {a("10.0.0.2"), []string{"web"}}},
			base + "# BEGIN berth network two (managed by berth; edits are lost)\n10.5.0.2\tdb\n# END berth network two\n" +
				"# BEGIN berth network one (managed by berth; edits are lost)\n10.0.0.3\tapi\n10.0.0.2\tweb\n# END berth network one\n"},
		{"two", nil, base + "# BEGIN berth network one (managed by berth; edits are lost)\n10.0.0.3\tapi\n10.0.0.2\tweb\n# END berth network one\n"},
		{"one", nil, base},
	}
	for i, s := range steps {
		if err := updateHostsFile(path, s.network, s.entries); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != s.want {
			t.Fatalf("step %d:\n%s\nwant:\n%s", i, got, s.want)
		}
	}
	// Rewritten in place: the bind-mounted inode is the same one.
	st1, _ := os.Stat(path)
	if !os.SameFile(st0, st1) {
		t.Error("hosts file was replaced, not rewritten in place")
	}
	if err := updateHostsFile(filepath.Join(t.TempDir(), "gone"), "one", nil); err != nil {
		t.Errorf("missing hosts file: %v", err)
	}
}

func TestContainerDNS(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		conf string
		want string
	}{
		{"nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.com\n",
			"nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch example.com\noptions edns0 trust-ad\n"},
		{"# comment\nnameserver 10.255.255.53\nnameserver ::1\nnameserver 192.0.2.1\n",
			"nameserver 10.255.255.53\nnameserver 192.0.2.1\n"},
	} {
		p := filepath.Join(dir, "resolv.conf")
		os.WriteFile(p, []byte(tc.conf), 0o644)
		if got := ContainerDNS(p).String(); got != tc.want {
			t.Errorf("ContainerDNS(%q) =\n%s\nwant\n%s", tc.conf, got, tc.want)
		}
	}
}

func TestAttachRequestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  AttachRequest
		want error
	}{
		{"ok", AttachRequest{ContainerID: "abc", NetNSPath: "/proc/1/ns/net"}, nil},
		{"none", AttachRequest{Network: "none", ContainerID: "abc", NetNSPath: "/x"}, errdefs.ErrInvalidArgument},
		{"no id", AttachRequest{NetNSPath: "/x"}, errdefs.ErrInvalidArgument},
		{"bad id", AttachRequest{ContainerID: "../x", NetNSPath: "/x"}, errdefs.ErrInvalidArgument},
		{"no netns", AttachRequest{ContainerID: "abc"}, errdefs.ErrInvalidArgument},
		{"bad alias", AttachRequest{ContainerID: "abc", NetNSPath: "/x", Aliases: []string{"a b"}}, errdefs.ErrInvalidArgument},
		{"port twice", AttachRequest{ContainerID: "abc", NetNSPath: "/x", Ports: []PortMapping{{HostPort: 80, ContainerPort: 1}, {HostPort: 80, ContainerPort: 2}}}, errdefs.ErrConflict},
		{"v6 host ip", AttachRequest{ContainerID: "abc", NetNSPath: "/x", Ports: []PortMapping{{HostIP: netip.MustParseAddr("::1"), ContainerPort: 1}}}, errdefs.ErrInvalidArgument},
	} {
		err := tc.req.validate()
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: validate = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestHostEntries(t *testing.T) {
	a := netip.MustParseAddr
	self := &endpoint{Attachment: Attachment{ContainerID: "0123456789abcdef", Name: "web", Aliases: []string{"www", "web"}, IP: a("10.0.0.2")}, Hostname: "myhost"}
	peer := &endpoint{Attachment: Attachment{ContainerID: "fedcba9876543210", Name: "db", IP: a("10.0.0.3")}, Hostname: "dbhost"}
	eps := []*endpoint{self, peer}
	got := hostEntries(eps, self, true)
	want := []HostEntry{
		{a("10.0.0.2"), []string{"myhost", "web", "www", "0123456789ab"}},
		{a("10.0.0.3"), []string{"db", "fedcba987654"}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("with discovery: %v, want %v", got, want)
	}
	if got := hostEntries(eps, self, false); fmt.Sprint(got) != fmt.Sprint(want[:1]) {
		t.Errorf("without discovery: %v, want %v", got, want[:1])
	}
}

// An endpoints.json table of an older berth is split into one file per
// endpoint on first load, and nothing is lost.
func TestEndpointsMigration(t *testing.T) {
	dir := t.TempDir()
	m, err := Open(filepath.Join(dir, "root"), filepath.Join(dir, "run"))
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("ab", 32)
	old := map[string]*endpoint{
		"c1": {Attachment: Attachment{ContainerID: "c1", IP: netip.MustParseAddr("10.0.0.2")}},
		"c2": {Attachment: Attachment{ContainerID: "c2", IP: netip.MustParseAddr("10.0.0.3")}},
	}
	if err := os.MkdirAll(filepath.Dir(m.epPath(id)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(m.epPath(id), old, false); err != nil {
		t.Fatal(err)
	}
	eps, err := m.loadEndpoints(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || eps["c1"].IP != old["c1"].IP || eps["c2"].IP != old["c2"].IP {
		t.Fatalf("loaded %+v", eps)
	}
	if _, err := os.Stat(m.epPath(id)); !os.IsNotExist(err) {
		t.Errorf("old table still there: %v", err)
	}
	if err := m.dropEndpoint(id, "c1"); err != nil {
		t.Fatal(err)
	}
	if eps, err := m.loadEndpoints(id); err != nil || len(eps) != 1 || eps["c2"] == nil {
		t.Fatalf("after drop: %+v %v", eps, err)
	}
	if err := m.putEndpoint(id, &endpoint{Attachment: Attachment{ContainerID: "../x"}}); err == nil {
		t.Error("a container ID with a path in it was accepted")
	}
}
