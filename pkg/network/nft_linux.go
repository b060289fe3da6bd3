package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// berth's nftables layout: one table of family ip, four base chains.
//
//	prerouting  nat    dstnat  published ports, traffic from outside and from containers
//	output      nat    dstnat  published ports, traffic from the host itself (127.0.0.1 too)
//	postrouting nat    srcnat  masquerade: containers to the outside, localhost and hairpin
//	forward     filter 0       isolation: no traffic from one berth bridge to another;
//	                           internal networks: none in or out of the bridge at all
//
// The set "bridges" holds every bridge of the table's networks.
//
// Each rule's comment is a tag naming its owner ("berth net ID" or "berth
// ctr NETID CONTAINER"), so removal deletes exactly the owner's rules.
const (
	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainPostrouting = "postrouting"
	chainForward     = "forward"
	setBridges       = "bridges"
)

func networkTag(n *Network) string { return "berth net " + n.ID[:12] }
func containerTag(n *Network, containerID string) string {
	return "berth ctr " + n.ID[:12] + " " + containerID
}

func (k *kernel) nftTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyIPv4, Name: k.table}
}

// addSkeleton queues the ip table and its chains; adding what exists is a no-op.
func (k *kernel) addSkeleton(c *nftables.Conn) (*nftables.Table, map[string]*nftables.Chain) {
	return addSkeletonOf(c, k.nftTable())
}

// addSkeletonOf queues table t (ip or ip6: the same chains in both) and its chains.
func addSkeletonOf(c *nftables.Conn, table *nftables.Table) (*nftables.Table, map[string]*nftables.Chain) {
	t := c.AddTable(table)
	accept := nftables.ChainPolicyAccept
	chains := map[string]*nftables.Chain{
		chainPrerouting: {Name: chainPrerouting, Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest},
		chainOutput: {Name: chainOutput, Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest},
		chainPostrouting: {Name: chainPostrouting, Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource},
		chainForward: {Name: chainForward, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept},
	}
	for _, name := range []string{chainPrerouting, chainOutput, chainPostrouting, chainForward} {
		c.AddChain(chains[name])
	}
	return t, chains
}

// addBridgeSet queues the set of bridge names; adding what exists is a no-op.
func (k *kernel) addBridgeSet(c *nftables.Conn, t *nftables.Table) (*nftables.Set, error) {
	set := &nftables.Set{Table: t, Name: setBridges, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
	if err := c.AddSet(set, nil); err != nil {
		return nil, fmt.Errorf("nftables set %s: %w", setBridges, err)
	}
	return set, nil
}

func ifnameKey(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

// networkRules are n's rules, by chain; set is the bridges set.
func networkRules(n *Network, set *nftables.Set) map[string][][]expr.Any {
	br := n.Bridge
	rules := map[string][][]expr.Any{}
	if !n.Internal {
		// Containers to the outside: ip saddr SUBNET oifname != BR masquerade.
		rules[chainPostrouting] = append(rules[chainPostrouting],
			concat(matchSaddr(n.Subnet), matchIfname(expr.MetaKeyOIFNAME, br, false), masq()))
	}
	// The host to a published port on 127.0.0.1: oifname BR ip saddr 127.0.0.0/8 masquerade.
	rules[chainPostrouting] = append(rules[chainPostrouting],
		concat(matchIfname(expr.MetaKeyOIFNAME, br, true), matchSaddr(netip.MustParsePrefix("127.0.0.0/8")), masq()))
	// A container to a published port of its own network (hairpin):
	// oifname BR ip saddr SUBNET ct status dnat masquerade.
	rules[chainPostrouting] = append(rules[chainPostrouting],
		concat(matchIfname(expr.MetaKeyOIFNAME, br, true), matchSaddr(n.Subnet), matchCtDNAT(true), masq()))
	rules[chainForward] = forwardRules(n, set)
	return rules
}

// forwardRules isolate n's bridge (the same in the ip and ip6 tables): a
// network reaches no other berth bridge except through published ports
// (iifname BR oifname @bridges oifname != BR ct status & dnat == 0 drop); an
// internal network reaches nothing beyond its bridge.
func forwardRules(n *Network, set *nftables.Set) [][]expr.Any {
	br := n.Bridge
	if n.Internal {
		return [][]expr.Any{
			concat(matchIfname(expr.MetaKeyIIFNAME, br, true), matchIfname(expr.MetaKeyOIFNAME, br, false), drop()),
			concat(matchIfname(expr.MetaKeyOIFNAME, br, true), matchIfname(expr.MetaKeyIIFNAME, br, false), drop()),
		}
	}
	return [][]expr.Any{concat(
		matchIfname(expr.MetaKeyIIFNAME, br, true),
		[]expr.Any{
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Lookup{SourceRegister: 1, SetName: setBridges, SetID: set.ID},
		},
		matchIfname(expr.MetaKeyOIFNAME, br, false), matchCtDNAT(false), drop())}
}

// ensureNetworkRules installs n's rules unless they are all there already.
func (k *kernel) ensureNetworkRules(n *Network) error {
	return k.ensureRules(n, k.addSkeleton, networkRules, chainPrerouting, chainOutput, chainPostrouting, chainForward)
}

// familyName is the nft name of t's family.
func familyName(t *nftables.Table) string {
	if t.Family == nftables.TableFamilyIPv6 {
		return "ip6"
	}
	return "ip"
}

// ensureRules installs the rules rulesOf gives for n in the table skeleton
// makes (ip or ip6), replacing n's tagged rules in the chains named unless
// each already holds as many as wanted. The skeleton and n's bridge in the
// bridges set are sent either way: cheap, and they may have been flushed
// by hand.
func (k *kernel) ensureRules(n *Network,
	skeleton func(*nftables.Conn) (*nftables.Table, map[string]*nftables.Chain),
	rulesOf func(*Network, *nftables.Set) map[string][][]expr.Any, names ...string) error {
	tag := networkTag(n)
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t, chains := skeleton(c)
	set, err := k.addBridgeSet(c, t)
	if err != nil {
		return err
	}
	if err := c.SetAddElements(set, []nftables.SetElement{{Key: ifnameKey(n.Bridge)}}); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	want := rulesOf(n, set)
	complete := true
	var stale []*nftables.Rule
	for _, chain := range names {
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
		return fmt.Errorf("installing nftables rules of network %s in table %s %s: %w", n.Name, familyName(t), k.table, err)
	}
	return nil
}

// addPortRules installs DNAT rules for ep's published ports.
func (k *kernel) addPortRules(n *Network, ep *endpoint) error {
	if len(ep.Ports) == 0 {
		return nil
	}
	return k.addDNATRules(k.addSkeleton, containerTag(n, ep.ContainerID), ep.Ports,
		func(p PortMapping) []expr.Any { return portDNAT(p, ep.IP) })
}

// addDNATRules adds one rule per port, made by dnat, to the prerouting and
// output chains of the table skeleton makes (ip or ip6), tagged tag.
func (k *kernel) addDNATRules(skeleton func(*nftables.Conn) (*nftables.Table, map[string]*nftables.Chain),
	tag string, ports []PortMapping, dnat func(PortMapping) []expr.Any) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t, chains := skeleton(c)
	for _, p := range ports {
		exprs := dnat(p)
		for _, chain := range []string{chainPrerouting, chainOutput} {
			c.AddRule(&nftables.Rule{Table: t, Chain: chains[chain], Exprs: exprs, UserData: comment(tag)})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("publishing ports in nftables table %s %s: %w", familyName(t), k.table, err)
	}
	return nil
}

// deletePortRules removes ep's published-port rules, which live only in
// the two DNAT chains: two dumps and one batch.
func (k *kernel) deletePortRules(n *Network, ep *endpoint) error {
	return k.deleteRulesIn(k.nftTable(), containerTag(n, ep.ContainerID), chainPrerouting, chainOutput)
}

// deleteRules removes every rule tagged tag from berth's chains.
func (k *kernel) deleteRules(tag string) error {
	return k.deleteRulesIn(k.nftTable(), tag, chainPrerouting, chainOutput, chainPostrouting, chainForward)
}

// deleteRulesIn removes every rule tagged tag from the chains named of
// table t; rules (or a table) gone meanwhile are not an error.
func (k *kernel) deleteRulesIn(t *nftables.Table, tag string, chains ...string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	n := 0
	for _, chain := range chains {
		rules, err := k.taggedRulesOf(c, t, chain, tag)
		if err != nil {
			return err
		}
		for _, r := range rules {
			if err := c.DelRule(r); err != nil {
				return fmt.Errorf("nftables: %w", err)
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("deleting nftables rules %q from table %s %s: %w", tag, familyName(t), k.table, err)
	}
	return nil
}

// taggedRulesOf lists the rules of chain of table t carrying tag; a
// missing table or chain has none.
func (k *kernel) taggedRulesOf(c *nftables.Conn, t *nftables.Table, chain, tag string) ([]*nftables.Rule, error) {
	rules, err := c.GetRules(t, &nftables.Chain{Name: chain, Table: t})
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing nftables chain %s %s: %w", k.table, chain, err)
	}
	var out []*nftables.Rule
	for _, r := range rules {
		if s, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && s == tag {
			out = append(out, r)
		}
	}
	return out, nil
}

// deleteTable removes berth's table; a missing one is fine.
func (k *kernel) deleteTable() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	c.DelTable(k.nftTable())
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("deleting nftables table %s: %w", k.table, err)
	}
	return k.deleteTable6()
}

func comment(s string) []byte { return userdata.AppendString(nil, userdata.TypeComment, s) }

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// matchIfname is "iifname/oifname [!=] NAME".
func matchIfname(key expr.MetaKey, name string, equal bool) []expr.Any {
	op := expr.CmpOpEq
	if !equal {
		op = expr.CmpOpNeq
	}
	data := make([]byte, unix.IFNAMSIZ)
	copy(data, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: data},
	}
}

// matchSaddr is "ip saddr PREFIX".
func matchSaddr(p netip.Prefix) []expr.Any {
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	a := p.Masked().Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	}
}

// matchCtDNAT is "ct status dnat" (or "ct status & dnat == 0" with !is).
func matchCtDNAT(is bool) []expr.Any {
	const ipsDstNAT = 1 << 5 // IPS_DST_NAT in linux/netfilter/nf_conntrack_common.h
	mask := binaryutil.NativeEndian.PutUint32(ipsDstNAT)
	op := expr.CmpOpNeq
	if !is {
		op = expr.CmpOpEq
	}
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

func masq() []expr.Any { return []expr.Any{&expr.Masq{}} }
func drop() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }

// portDNAT is "[ip daddr HOSTIP | fib daddr type local] meta l4proto PROTO
// th dport HOSTPORT dnat to IP:CONTAINERPORT", in the ip table for an IPv4
// ip and in the ip6 table for an IPv6 one (which only gets ports bound to
// every host address: see addPortRules6).
func portDNAT(p PortMapping, ip netip.Addr) []expr.Any {
	var out []expr.Any
	if p.HostIP.IsValid() {
		a := p.HostIP.As4()
		out = append(out,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]})
	} else {
		out = append(out,
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)})
	}
	proto := byte(unix.IPPROTO_TCP)
	if p.Protocol == "udp" {
		proto = unix.IPPROTO_UDP
	}
	family := byte(unix.NFPROTO_IPV4)
	if ip.Is6() {
		family = unix.NFPROTO_IPV6
	}
	out = append(out,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort)},
		&expr.Immediate{Register: 1, Data: ip.AsSlice()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.ContainerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: uint32(family), RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
	return out
}

// taggedRulesPrefix lists the rules of chain whose tag starts with prefix.
func (k *kernel) taggedRulesPrefix(c *nftables.Conn, chain, prefix string) ([]*nftables.Rule, error) {
	t := k.nftTable()
	rules, err := c.GetRules(t, &nftables.Chain{Name: chain, Table: t})
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, err
	}
	var out []*nftables.Rule
	for _, r := range rules {
		if s, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && strings.HasPrefix(s, prefix) {
			out = append(out, r)
		}
	}
	return out, nil
}

// deleteBridgeElement drops a bridge from the bridges set; a missing set or
// element is fine.
func (k *kernel) deleteBridgeElement(bridge string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	set, err := c.GetSetByName(k.nftTable(), setBridges)
	if err != nil {
		return nil // no table or no set: nothing to drop
	}
	if err := c.SetDeleteElements(set, []nftables.SetElement{{Key: ifnameKey(bridge)}}); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("dropping %s from nftables set %s: %w", bridge, setBridges, err)
	}
	return nil
}

// listBridges returns the names in the table's bridges set (none when the
// table or set is missing).
func (k *kernel) listBridges() []string {
	c, err := nftables.New()
	if err != nil {
		return nil
	}
	set, err := c.GetSetByName(k.nftTable(), setBridges)
	if err != nil {
		return nil
	}
	elems, err := c.GetSetElements(set)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range elems {
		if name := strings.TrimRight(string(e.Key), "\x00"); name != "" {
			out = append(out, name)
		}
	}
	return out
}
