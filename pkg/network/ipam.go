package network

import (
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
