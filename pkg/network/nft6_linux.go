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
//	postrouting nat    srcnat  masquerade: containers to the outside (NAT66, as docker)
//	forward     filter 0       isolation between berth bridges; internal networks
//
// and its own "bridges" set. Published ports are IPv4 only (see docs).

func (k *kernel) nftTable6() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyIPv6, Name: k.table}
}

// addSkeleton6 queues the ip6 table and its chains.
func (k *kernel) addSkeleton6(c *nftables.Conn) (*nftables.Table, map[string]*nftables.Chain) {
	t := c.AddTable(k.nftTable6())
	accept := nftables.ChainPolicyAccept
	chains := map[string]*nftables.Chain{
		chainPostrouting: {Name: chainPostrouting, Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource},
		chainForward: {Name: chainForward, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept},
	}
	for _, name := range []string{chainPostrouting, chainForward} {
		c.AddChain(chains[name])
	}
	return t, chains
}

// networkRules6 are a dual-stack network's IPv6 rules, by chain.
func networkRules6(n *Network, set *nftables.Set) map[string][][]expr.Any {
	br := n.Bridge
	rules := map[string][][]expr.Any{}
	if !n.Internal {
		rules[chainPostrouting] = [][]expr.Any{concat(matchSaddr6(n.Subnet6), matchIfname(expr.MetaKeyOIFNAME, br, false), masq())}
		rules[chainForward] = [][]expr.Any{concat(
			matchIfname(expr.MetaKeyIIFNAME, br, true),
			[]expr.Any{
				&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
				&expr.Lookup{SourceRegister: 1, SetName: setBridges, SetID: set.ID},
			},
			matchIfname(expr.MetaKeyOIFNAME, br, false), drop())}
	} else {
		rules[chainForward] = [][]expr.Any{
			concat(matchIfname(expr.MetaKeyIIFNAME, br, true), matchIfname(expr.MetaKeyOIFNAME, br, false), drop()),
			concat(matchIfname(expr.MetaKeyOIFNAME, br, true), matchIfname(expr.MetaKeyIIFNAME, br, false), drop()),
		}
	}
	return rules
}

// ensureNetworkRules6 installs a dual-stack network's IPv6 rules unless
// they are all there already.
func (k *kernel) ensureNetworkRules6(n *Network) error {
	tag := networkTag(n)
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t, chains := k.addSkeleton6(c)
	set, err := k.addBridgeSet(c, t)
	if err != nil {
		return err
	}
	if err := c.SetAddElements(set, []nftables.SetElement{{Key: ifnameKey(n.Bridge)}}); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	want := networkRules6(n, set)
	complete := true
	var stale []*nftables.Rule
	for _, chain := range []string{chainPostrouting, chainForward} {
		rules, err := k.taggedRulesOf(c, t, chain, tag)
		if err != nil {
			return err
		}
		stale = append(stale, rules...)
		complete = complete && len(rules) == len(want[chain])
	}
	if !complete {
		for _, r := range stale {
			if err := c.DelRule(r); err != nil {
				return fmt.Errorf("nftables: %w", err)
			}
		}
		for chain, list := range want {
			for _, exprs := range list {
				c.AddRule(&nftables.Rule{Table: t, Chain: chains[chain], Exprs: exprs, UserData: comment(tag)})
			}
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("installing the IPv6 nftables rules of network %s in table ip6 %s: %w", n.Name, k.table, err)
	}
	return nil
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
