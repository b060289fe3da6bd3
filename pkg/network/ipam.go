package network

import (
	"crypto/rand"
	"fmt"
	"net/netip"

	"github.com/berth/berth/pkg/errdefs"
)

// defaultPool lists the subnets handed out when none is asked for, in order:
// docker's 172.17.0.0/16 for the default network, then /16s of 172.18-31,
// then /24s of 10.89.0.0/16 (podman's habit) when the /16s are all taken.
func defaultPool() []netip.Prefix {
	var pool []netip.Prefix
	for b := 17; b <= 31; b++ {
		pool = append(pool, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(b), 0, 0}), 16))
	}
	for c := 0; c <= 255; c++ {
		pool = append(pool, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 89, byte(c), 0}), 24))
	}
	return pool
}

// pickSubnet returns the first prefix of pool that overlaps none of used.
func pickSubnet(pool, used []netip.Prefix) (netip.Prefix, error) {
next:
	for _, p := range pool {
		for _, u := range used {
			if p.Overlaps(u) {
				continue next
			}
		}
		return p, nil
	}
	return netip.Prefix{}, fmt.Errorf("no free subnet left in the default pools; pass --subnet: %w", errdefs.ErrUnavailable)
}

// checkOptions validates and completes a network's addressing.
func checkOptions(o *CreateOptions) error {
	inval := func(format string, a ...any) error {
		return fmt.Errorf(format+": %w", append(a, errdefs.ErrInvalidArgument)...)
	}
	if err := checkOptions6(o); err != nil {
		return err
	}
	if !o.Subnet.IsValid() {
		if o.Gateway.IsValid() || o.IPRange.IsValid() {
			return inval("--gateway and --ip-range need --subnet")
		}
		return nil
	}
	if !o.Subnet.Addr().Is4() {
		return inval("subnet %s: only IPv4 is supported", o.Subnet)
	}
	if o.Subnet.Bits() > 30 || o.Subnet.Bits() < 8 {
		return inval("subnet %s: prefix length must be 8 to 30", o.Subnet)
	}
	if o.Subnet.Masked() != o.Subnet {
		return inval("subnet %s is not a network address (did you mean %s?)", o.Subnet, o.Subnet.Masked())
	}
	if o.Gateway.IsValid() {
		if !o.Subnet.Contains(o.Gateway) || o.Gateway == o.Subnet.Addr() || o.Gateway == lastAddr(o.Subnet) {
			return inval("gateway %s is not a host address of subnet %s", o.Gateway, o.Subnet)
		}
	} else {
		o.Gateway = o.Subnet.Addr().Next()
	}
	if o.IPRange.IsValid() {
		if !o.IPRange.Addr().Is4() || o.IPRange.Masked() != o.IPRange {
			return inval("ip-range %s is not an IPv4 network address", o.IPRange)
		}
		if o.IPRange.Bits() < o.Subnet.Bits() || !o.Subnet.Contains(o.IPRange.Addr()) {
			return inval("ip-range %s is not inside subnet %s", o.IPRange, o.Subnet)
		}
	}
	return nil
}

// lastAddr is the broadcast address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= (1 << host) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// usable reports whether a can be a container's address on n.
func usable(n *Network, a netip.Addr) bool {
	return n.Subnet.Contains(a) && n.allocRange().Contains(a) &&
		a != n.Subnet.Addr() && a != lastAddr(n.Subnet) && a != n.Gateway
}

// allocateIP picks the lowest free address of n's range, or checks want.
func allocateIP(n *Network, used map[netip.Addr]bool, want netip.Addr) (netip.Addr, error) {
	if want.IsValid() {
		if !usable(n, want) {
			return netip.Addr{}, fmt.Errorf("address %s is not usable on network %s (subnet %s): %w", want, n.Name, n.Subnet, errdefs.ErrInvalidArgument)
		}
		if used[want] {
			return netip.Addr{}, fmt.Errorf("address %s is already in use on network %s: %w", want, n.Name, errdefs.ErrConflict)
		}
		return want, nil
	}
	r := n.allocRange()
	for a := r.Masked().Addr(); r.Contains(a); a = a.Next() {
		if usable(n, a) && !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("network %s has no free address left in %s: %w", n.Name, r, errdefs.ErrUnavailable)
}

// macFor derives a locally administered MAC from an IPv4 address, as docker
// did: a reused address comes back with the same MAC, so neighbours' ARP
// caches stay right.
func macFor(ip netip.Addr) string {
	a := ip.As4()
	return fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3])
}

// checkOptions6 validates and completes the IPv6 side of a network.
func checkOptions6(o *CreateOptions) error {
	inval := func(format string, a ...any) error {
		return fmt.Errorf(format+": %w", append(a, errdefs.ErrInvalidArgument)...)
	}
	if !o.IPv6 {
		if o.Subnet6.IsValid() || o.Gateway6.IsValid() {
			return inval("an IPv6 subnet or gateway needs --ipv6")
		}
		return nil
	}
	if !o.Subnet6.IsValid() {
		if o.Gateway6.IsValid() {
			return inval("an IPv6 --gateway needs an IPv6 --subnet")
		}
		return nil // a random unique local /64 is picked at create
	}
	if !o.Subnet6.Addr().Is6() || o.Subnet6.Addr().Is4In6() {
		return inval("subnet %s is not an IPv6 subnet", o.Subnet6)
	}
	if o.Subnet6.Bits() < 48 || o.Subnet6.Bits() > 120 {
		return inval("IPv6 subnet %s: prefix length must be 48 to 120", o.Subnet6)
	}
	if o.Subnet6.Masked() != o.Subnet6 {
		return inval("subnet %s is not a network address (did you mean %s?)", o.Subnet6, o.Subnet6.Masked())
	}
	if a := o.Subnet6.Addr(); a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsLoopback() {
		return inval("IPv6 subnet %s: link-local, multicast and loopback ranges cannot be a network's", o.Subnet6)
	}
	if o.Gateway6.IsValid() {
		if !o.Subnet6.Contains(o.Gateway6) || o.Gateway6 == o.Subnet6.Addr() {
			return inval("gateway %s is not a host address of subnet %s", o.Gateway6, o.Subnet6)
		}
	} else {
		o.Gateway6 = o.Subnet6.Addr().Next()
	}
	return nil
}

// allocateIP6 picks the lowest free IPv6 address of n's Subnet6 (not the
// subnet-router anycast address, not the gateway), or checks want.
func allocateIP6(n *Network, used map[netip.Addr]bool, want netip.Addr) (netip.Addr, error) {
	ok := func(a netip.Addr) bool { return n.Subnet6.Contains(a) && a != n.Subnet6.Addr() && a != n.Gateway6 }
	if want.IsValid() {
		if !ok(want) {
			return netip.Addr{}, fmt.Errorf("address %s is not usable on network %s (IPv6 subnet %s): %w", want, n.Name, n.Subnet6, errdefs.ErrInvalidArgument)
		}
		if used[want] {
			return netip.Addr{}, fmt.Errorf("address %s is already in use on network %s: %w", want, n.Name, errdefs.ErrConflict)
		}
		return want, nil
	}
	for a, i := n.Subnet6.Addr(), 0; n.Subnet6.Contains(a) && i < 1<<20; a, i = a.Next(), i+1 {
		if ok(a) && !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("network %s has no free IPv6 address left in %s: %w", n.Name, n.Subnet6, errdefs.ErrUnavailable)
}

// randomULA64 is a random unique local /64 (fd00::/8 with a random 40-bit
// global ID and subnet ID 0, RFC 4193), as podman picks and docker's
// default IPv6 pool gives.
func randomULA64() netip.Prefix {
	var b [16]byte
	rand.Read(b[1:6])
	b[0] = 0xfd
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}
