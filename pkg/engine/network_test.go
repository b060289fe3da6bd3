package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
)

func TestParseExtraHost(t *testing.T) {
	for _, tc := range []struct {
		in, host, ip string
		wantErr      bool
	}{
		{"db:10.0.0.5", "db", "10.0.0.5", false},
		{"db=10.0.0.5", "db", "10.0.0.5", false},
		{"gw:host-gateway", "gw", HostGateway, false},
		{"v6:::1", "v6", "::1", false},
		{"v6:[2001:db8::1]", "v6", "2001:db8::1", false},
		{"v6=2001:db8::1", "v6", "2001:db8::1", false},
		{"db", "", "", true},
		{":10.0.0.5", "", "", true},
		{"db:", "", "", true},
		{"db:10.0.0", "", "", true},
		{"db:example.com", "", "", true},
		{"a b:10.0.0.5", "", "", true},
		{"db:fe80::1%eth0", "", "", true},
	} {
		host, ip, err := ParseExtraHost(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseExtraHost(%q) error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("ParseExtraHost(%q) error %v is not ErrInvalidArgument", tc.in, err)
			}
			continue
		}
		if host != tc.host || ip != tc.ip {
			t.Errorf("ParseExtraHost(%q) = %q %q, want %q %q", tc.in, host, ip, tc.host, tc.ip)
		}
	}
}

func TestValidateDNS(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		servers, search, options []string
		wantErr                  bool
	}{
		{"empty", nil, nil, nil, false},
		{"good", []string{"1.1.1.1", "2606:4700::1111"}, []string{"example.com", "corp.example.", "."}, []string{"ndots:2", "edns0"}, false},
		{"server not an address", []string{"dns.example.com"}, nil, nil, true},
		{"server with zone", []string{"fe80::1%eth0"}, nil, nil, true},
		{"search with space", nil, []string{"a b"}, nil, true},
		{"search leading dash", nil, []string{"-x.example"}, nil, true},
		{"search empty label", nil, []string{"a..b"}, nil, true},
		{"option with space", nil, nil, []string{"ndots:2 edns0"}, true},
		{"empty option", nil, nil, []string{""}, true},
	} {
		err := ValidateDNS(tc.servers, tc.search, tc.options)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.wantErr)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: error %v is not ErrInvalidArgument", tc.name, err)
		}
	}
}

func TestResolvConf(t *testing.T) {
	base := "# from the host\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch corp.example\noptions rotate\n"
	for _, tc := range []struct {
		name string
		h    HostConfig
		want string
	}{
		{"no flags", HostConfig{}, base},
		{"servers", HostConfig{Dns: []string{"1.1.1.1"}},
			"# from the host\nsearch corp.example\noptions rotate\nnameserver 1.1.1.1\n"},
		{"search and options", HostConfig{DnsSearch: []string{"a.example", "b.example"}, DnsOptions: []string{"ndots:3"}},
			"# from the host\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch a.example b.example\noptions ndots:3\n"},
		{"no search", HostConfig{DnsSearch: []string{"."}},
			"# from the host\nnameserver 10.0.0.2\nnameserver 10.0.0.3\noptions rotate\n"},
	} {
		if got := resolvConf(base, &tc.h); got != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, got, tc.want)
		}
	}
}

func TestExtraHostLines(t *testing.T) {
	got, err := extraHostLines([]string{"db:10.0.0.5", "gw:host-gateway", "v6=::1"}, "172.18.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "10.0.0.5\tdb\n172.18.0.1\tgw\n::1\tv6\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := extraHostLines([]string{"gw:host-gateway"}, ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("host-gateway without a gateway: %v", err)
	}
}

// fakeNetwork knows the networks in nets; CheckAddress refuses taken.
type fakeNetwork struct {
	nets  map[string]bool
	taken string
}

func (f fakeNetwork) Attach(context.Context, AttachRequest) (*Attachment, error) {
	return nil, errdefs.ErrNotImplemented
}
func (f fakeNetwork) Detach(context.Context, string, string) error { return nil }
func (f fakeNetwork) Exists(_ context.Context, n string) bool      { return f.nets[n] }
func (f fakeNetwork) CheckAddress(_ context.Context, n, ip string) error {
	if ip == f.taken {
		return errdefs.ErrConflict
	}
	return nil
}

var _ AddressChecker = fakeNetwork{}

func TestCreateNetworkSettings(t *testing.T) {
	e, err := New(Options{Root: t.TempDir(), RunRoot: t.TempDir(), MonitorCommand: []string{"false"},
		Network: fakeNetwork{nets: map[string]bool{"mynet": true}, taken: "10.9.0.9"}})
	if err != nil {
		t.Fatal(err)
	}
	rootfs := t.TempDir()
	os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)
	ctx := context.Background()
	req := func(mode string, edit func(*CreateRequest)) CreateRequest {
		r := CreateRequest{Rootfs: rootfs, Config: Config{Cmd: []string{"true"}}, HostConfig: HostConfig{NetworkMode: mode}}
		if edit != nil {
			edit(&r)
		}
		return r
	}
	target, err := e.Create(ctx, req("none", func(r *CreateRequest) { r.Name = "target"; r.Config.Hostname = "web" }))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  CreateRequest
		want error
	}{
		{"join missing container", req("container:nosuch", nil), errdefs.ErrNotFound},
		{"join nothing", req("container:", nil), errdefs.ErrInvalidArgument},
		{"join with -p", req("container:target", func(r *CreateRequest) {
			r.HostConfig.PortBindings = PortMap{"80/tcp": {{HostPort: "8080"}}}
		}), errdefs.ErrInvalidArgument},
		{"join with -P", req("container:target", func(r *CreateRequest) { r.HostConfig.PublishAllPorts = true }), errdefs.ErrInvalidArgument},
		{"join with --dns", req("container:target", func(r *CreateRequest) { r.HostConfig.Dns = []string{"1.1.1.1"} }), errdefs.ErrInvalidArgument},
		{"join with --add-host", req("container:target", func(r *CreateRequest) { r.HostConfig.ExtraHosts = []string{"a:1.2.3.4"} }), errdefs.ErrInvalidArgument},
		{"join with --hostname", req("container:target", func(r *CreateRequest) { r.Config.Hostname = "mine" }), errdefs.ErrInvalidArgument},
		{"join with --ip", req("container:target", func(r *CreateRequest) { r.IPv4Address = "10.9.0.5" }), errdefs.ErrInvalidArgument},
		{"--ip on the default network", req("bridge", func(r *CreateRequest) { r.IPv4Address = "172.17.0.9" }), errdefs.ErrInvalidArgument},
		{"--ip on none", req("none", func(r *CreateRequest) { r.IPv4Address = "10.9.0.5" }), errdefs.ErrInvalidArgument},
		{"--ip not an address", req("mynet", func(r *CreateRequest) { r.IPv4Address = "10.9.0" }), errdefs.ErrInvalidArgument},
		{"--ip IPv6", req("mynet", func(r *CreateRequest) { r.IPv4Address = "fd00::5" }), errdefs.ErrInvalidArgument},
		{"--ip taken", req("mynet", func(r *CreateRequest) { r.IPv4Address = "10.9.0.9" }), errdefs.ErrConflict},
		{"--ip on a missing network", req("nonet", func(r *CreateRequest) { r.IPv4Address = "10.9.0.5" }), errdefs.ErrNotFound},
		{"alias on the default network", req("bridge", func(r *CreateRequest) { r.HostConfig.Aliases = []string{"db"} }), errdefs.ErrInvalidArgument},
		{"alias on none", req("none", func(r *CreateRequest) { r.HostConfig.Aliases = []string{"db"} }), errdefs.ErrInvalidArgument},
		{"bad alias", req("mynet", func(r *CreateRequest) { r.HostConfig.Aliases = []string{"a b"} }), errdefs.ErrInvalidArgument},
		{"bad --dns", req("none", func(r *CreateRequest) { r.HostConfig.Dns = []string{"x"} }), errdefs.ErrInvalidArgument},
		{"bad --add-host", req("none", func(r *CreateRequest) { r.HostConfig.ExtraHosts = []string{"x"} }), errdefs.ErrInvalidArgument},
		{"host-gateway on none", req("none", func(r *CreateRequest) { r.HostConfig.ExtraHosts = []string{"gw:host-gateway"} }), errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.Create(ctx, tc.req); !errors.Is(err, tc.want) {
				t.Fatalf("Create: %v, want %v", err, tc.want)
			}
		})
	}
	if ids, _ := e.store.ids(); len(ids) != 1 {
		t.Fatalf("refused creates left containers behind: %v", ids)
	}

	joined, err := e.Create(ctx, req("container:target", nil))
	if err != nil {
		t.Fatal(err)
	}
	if joined.HostConfig.NetworkMode != "container:"+target.ID || joined.Config.Hostname != "web" {
		t.Errorf("joined: mode %q hostname %q, want container:%s and web", joined.HostConfig.NetworkMode, joined.Config.Hostname, target.ID)
	}
	static, err := e.Create(ctx, req("mynet", func(r *CreateRequest) { r.IPv4Address = "10.9.0.5" }))
	if err != nil {
		t.Fatal(err)
	}
	if ep := static.NetworkSettings.Networks["mynet"]; ep == nil || ep.IPAMConfig == nil || ep.IPAMConfig.IPv4Address != "10.9.0.5" {
		t.Errorf("static address not recorded: %+v", static.NetworkSettings.Networks)
	}
	loaded, err := e.Load(ctx, static.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ep := loaded.NetworkSettings.Networks["mynet"]; ep == nil || ep.IPAMConfig == nil || ep.IPAMConfig.IPv4Address != "10.9.0.5" {
		t.Errorf("static address not saved: %+v", loaded.NetworkSettings.Networks)
	}
}
