package network

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The IPv6 side of dual-stack networks lives in a second table of the
// same name, family ip6, with two base chains:
//
//	prerouting  nat    dstnat  published ports on the host's IPv6 addresses
//	output      nat    dstnat  published ports, from the host itself (not ::1)
//	postrouting nat    srcnat  masquerade: containers to the outside (NAT66, as docker), hairpin
//	forward     filter 0       isolation between berth bridges; internal networks
//
// and its own "bridges" set.

func (k *kernel) nftTable6() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyIPv6, Name: k.table}
}

// addSkeleton6 queues the ip6 table and its chains.
func (k *kernel) addSkeleton6(c *nftables.Conn) (*nftables.Table, map[string]*nftables.Chain) {
	return addSkeletonOf(c, k.nftTable6())
}

// networkRules6 are a dual-stack network's IPv6 rules, by chain.
func networkRules6(n *Network, set *nftables.Set) map[string][][]expr.Any {
	br := n.Bridge
	rules := map[string][][]expr.Any{}
	// A container to a published port of its own network (hairpin).
	rules[chainPostrouting] = [][]expr.Any{concat(matchIfname(expr.MetaKeyOIFNAME, br, true), matchSaddr6(n.Subnet6), matchCtDNAT(true), masq())}
	if !n.Internal {
		rules[chainPostrouting] = append(rules[chainPostrouting], concat(matchSaddr6(n.Subnet6), matchIfname(expr.MetaKeyOIFNAME, br, false), masq()))
	}
	rules[chainForward] = forwardRules(n, set)
	return rules
}

// ensureNetworkRules6 installs a dual-stack network's IPv6 rules unless
// they are all there already.
func (k *kernel) ensureNetworkRules6(n *Network) error {
	return k.ensureRules(n, k.addSkeleton6, networkRules6, chainPostrouting, chainForward)
}

// removeNetwork6 deletes a network's IPv6 rules and its bridge from the
// ip6 table's set; a missing table is fine.
func (k *kernel) removeNetwork6(n *Network) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := k.nftTable6()
	if _, err := c.ListTableOfFamily(k.table, nftables.TableFamilyIPv6); err != nil {
		return nil
	}
	for _, chain := range []string{chainPostrouting, chainForward} {
		rules, err := k.taggedRulesOf(c, t, chain, networkTag(n))
		if err != nil {
			return err
		}
		for _, r := range rules {
			if err := c.DelRule(r); err != nil {
				return fmt.Errorf("nftables: %w", err)
			}
		}
	}
	if set, err := c.GetSetByName(t, setBridges); err == nil {
		if err := c.SetDeleteElements(set, []nftables.SetElement{{Key: ifnameKey(n.Bridge)}}); err != nil {
			return fmt.Errorf("nftables: %w", err)
		}
	}
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("deleting the IPv6 nftables rules of network %s: %w", n.Name, err)
	}
	return nil
}

// deleteTable6 removes the ip6 table; a missing one is fine.
func (k *kernel) deleteTable6() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if _, err := c.ListTableOfFamily(k.table, nftables.TableFamilyIPv6); err != nil {
		return nil
	}
	c.DelTable(k.nftTable6())
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("deleting nftables table ip6 %s: %w", k.table, err)
	}
	return nil
}

// ready6 reports whether the ip6 table is there (an attach to a
// dual-stack network otherwise takes the full set-up path).
func (k *kernel) ready6() bool {
	c, err := nftables.New()
	if err != nil {
		return false
	}
	_, err = c.ListTableOfFamily(k.table, nftables.TableFamilyIPv6)
	return err == nil
}

// matchSaddr6 is "ip6 saddr PREFIX".
func matchSaddr6(p netip.Prefix) []expr.Any {
	mask := make([]byte, 16)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	a := p.Masked().Addr().As16()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 16, Mask: mask, Xor: make([]byte, 16)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	}
}

// addPortRules6 publishes ep's ports on the host's IPv6 addresses too (as
// docker does) when ep has an IPv6 address: the ports bound to every host
// address, not those bound to one IPv4 address.
func (k *kernel) addPortRules6(n *Network, ep *endpoint) error {
	if !ep.IP6.IsValid() {
		return nil
	}
	var ports []PortMapping
	for _, p := range ep.Ports {
		if !p.HostIP.IsValid() {
			ports = append(ports, p)
		}
	}
	if len(ports) == 0 {
		return nil
	}
	return k.addDNATRules(k.addSkeleton6, containerTag(n, ep.ContainerID), ports,
		func(p PortMapping) []expr.Any { return portDNAT(p, ep.IP6) })
}

// deletePortRules6 removes ep's IPv6 published-port rules.
func (k *kernel) deletePortRules6(n *Network, ep *endpoint) error {
	return k.deleteRulesIn(k.nftTable6(), containerTag(n, ep.ContainerID), chainPrerouting, chainOutput)
}
