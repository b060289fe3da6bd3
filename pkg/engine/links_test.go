package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
)

func TestParseMACAndLink(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"92:D0:C6:0A:29:33", "92:d0:c6:0a:29:33"},
		{"92-d0-c6-0a-29-33", "92:d0:c6:0a:29:33"},
		{"01:00:5e:00:00:01", ""},
		{"00:00:00:00:00:00", ""},
		{"zz", ""},
		{"02:42:ac:11:00", ""},
	} {
		got, err := ParseMAC(tc.in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "is not a valid mac address") {
				t.Errorf("ParseMAC(%q) = %q, %v", tc.in, got, err)
			}
		} else if err != nil || got != tc.want {
			t.Errorf("ParseMAC(%q) = %q, %v", tc.in, got, err)
		}
	}
	for _, tc := range []struct {
		in, name, alias string
	}{
		{"db", "db", "db"},
		{"db:database", "db", "database"},
		{"/db:x", "db", "x"},
		{":x", "", ""},
		{"db:bad alias", "", ""},
	} {
		name, alias, err := ParseLink(tc.in)
		if (err != nil) != (tc.name == "") || name != tc.name || alias != tc.alias {
			t.Errorf("ParseLink(%q) = %q %q %v", tc.in, name, alias, err)
		}
	}
	if n, a := linkParts("/db:/app/database"); n != "db" || a != "database" {
		t.Errorf("linkParts: %q %q", n, a)
	}
}

func TestCheckConnectAndNetworkFlags(t *testing.T) {
	e, err := New(Options{Root: t.TempDir(), RunRoot: t.TempDir(), MonitorCommand: []string{"false"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		network string
		opts    ConnectOptions
		want    string
	}{
		{"front", ConnectOptions{Aliases: []string{"web", "www"}}, ""},
		{"bridge", ConnectOptions{Aliases: []string{"web"}}, "network-scoped alias is supported only for containers in user defined networks"},
		{"front", ConnectOptions{Aliases: []string{"bad name"}}, "invalid --alias"},
		{"bridge", ConnectOptions{IP: "172.17.0.9"}, "user specified IP address is supported on user defined networks only"},
		{"front", ConnectOptions{IP: "10.0.0.300"}, "invalid IPv4 address"},
		{"front", ConnectOptions{IP: "fd00::1"}, "invalid IPv4 address"},
	} {
		ep, err := e.checkConnect(ctx, tc.network, tc.opts)
		if tc.want == "" {
			if err != nil || strings.Join(ep.Aliases, ",") != strings.Join(tc.opts.Aliases, ",") {
				t.Errorf("%s %+v: %+v %v", tc.network, tc.opts, ep, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s %+v: %v, want %q", tc.network, tc.opts, err, tc.want)
		}
	}
	// --mac-address and --link at create: refused where the network mode
	// cannot carry them, with docker's words; nothing is recorded.
	for _, tc := range []struct {
		h    HostConfig
		mac  string
		want string
	}{
		{HostConfig{NetworkMode: "host"}, "02:42:ac:11:00:09", "conflicting options: mac-address and the network mode"},
		{HostConfig{NetworkMode: "none"}, "02:42:ac:11:00:09", "conflicting options: mac-address and the network mode"},
		{HostConfig{NetworkMode: "none"}, "33:33:00:00:00:01", "is not a valid mac address"},
		{HostConfig{NetworkMode: "host", Links: []string{"db"}}, "", "host type networking can't be used with links"},
		{HostConfig{NetworkMode: "none", Links: []string{"db"}}, "", "none type networking can't be used with links"},
	} {
		_, err := e.Create(ctx, CreateRequest{Rootfs: t.TempDir(), Config: Config{Cmd: []string{"true"}, MacAddress: tc.mac}, HostConfig: tc.h})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v %s: %v, want %q", tc.h, tc.mac, err, tc.want)
		}
	}
	if cs, _ := e.List(ctx, true); len(cs) != 0 {
		t.Errorf("refused creates left %d containers", len(cs))
	}
}
