package network

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
)

func TestCheckOptions6(t *testing.T) {
	for _, tc := range []struct {
		o       CreateOptions
		wantErr bool
		gw6     string
	}{
		{CreateOptions{IPv6: true, Subnet6: netip.MustParsePrefix("fd42:1::/64")}, false, "fd42:1::1"},
		{CreateOptions{IPv6: true, Subnet6: netip.MustParsePrefix("fd42:1::/64"), Gateway6: netip.MustParseAddr("fd42:1::fe")}, false, "fd42:1::fe"},
		{CreateOptions{IPv6: true}, false, "invalid IP"},
		{CreateOptions{IPv6: true, Gateway6: netip.MustParseAddr("fd42:1::1")}, true, ""},
		{CreateOptions{Subnet6: netip.MustParsePrefix("fd42:1::/64")}, true, ""},
		{CreateOptions{IPv6: true, Subnet6: netip.MustParsePrefix("fd42:1::1/64")}, true, ""},
		{CreateOptions{IPv6: true, Subnet6: netip.MustParsePrefix("fd42:1::/32")}, true, ""},
		{CreateOptions{IPv6: true, Subnet6: netip.MustParsePrefix("fe80::/64")}, true, ""},
		{CreateOptions{IPv6: true, Subnet6: netip.MustParsePrefix("fd42:1::/64"), Gateway6: netip.MustParseAddr("fd42:2::1")}, true, ""},
		{CreateOptions{IPv6: true, Subnet6: netip.MustParsePrefix("fd42:1::/64"), Gateway6: netip.MustParseAddr("fd42:1::")}, true, ""},
	} {
		o := tc.o
		err := checkOptions(&o)
		if tc.wantErr {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("%+v: %v, want ErrInvalidArgument", tc.o, err)
			}
			continue
		}
		if err != nil || o.Gateway6.String() != tc.gw6 {
			t.Errorf("%+v: gateway %s, %v", tc.o, o.Gateway6, err)
		}
	}
}

func TestAllocateIP6(t *testing.T) {
	n := &Network{Name: "n", EnableIPv6: true, Subnet6: netip.MustParsePrefix("fd42:1::/120"), Gateway6: netip.MustParseAddr("fd42:1::1")}
	used := map[netip.Addr]bool{}
	a, err := allocateIP6(n, used, netip.Addr{})
	if err != nil || a != netip.MustParseAddr("fd42:1::2") {
		t.Fatalf("first: %s %v", a, err)
	}
	used[a] = true
	if b, _ := allocateIP6(n, used, netip.Addr{}); b != netip.MustParseAddr("fd42:1::3") {
		t.Fatalf("second: %s", b)
	}
	for _, tc := range []struct {
		want string
		err  error
	}{
		{"fd42:1::2", errdefs.ErrConflict},
		{"fd42:1::1", errdefs.ErrInvalidArgument},
		{"fd42:1::", errdefs.ErrInvalidArgument},
		{"fd42:2::5", errdefs.ErrInvalidArgument},
	} {
		if _, err := allocateIP6(n, used, netip.MustParseAddr(tc.want)); !errors.Is(err, tc.err) {
			t.Errorf("want %s: %v, want %v", tc.want, err, tc.err)
		}
	}
	for i := 0; i < 300; i++ {
		a, err := allocateIP6(n, used, netip.Addr{})
		if err != nil {
			if !errors.Is(err, errdefs.ErrUnavailable) || i != 253 {
				t.Fatalf("after %d: %v", i, err)
			}
			return
		}
		used[a] = true
	}
	t.Fatal("a /120 never ran out")
}

func TestRandomULA64(t *testing.T) {
	a, b := randomULA64(), randomULA64()
	if a == b || a.Bits() != 64 || a.Masked() != a || !netip.MustParsePrefix("fd00::/8").Contains(a.Addr()) {
		t.Fatalf("%s %s", a, b)
	}
}
