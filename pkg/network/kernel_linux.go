package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// kernel does the Linux side: links, addresses and routes over netlink,
// NAT and port rules in berth's own nftables table.
type kernel struct {
	table string
}

// routedPrefixes lists the IPv4 destinations the host routes already (every
// route of every table but default routes), so a new subnet avoids them.
func (k *kernel) routedPrefixes() ([]netip.Prefix, error) {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("listing routes: %w", err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		p, ok := prefixOf(r.Dst)
		if !ok || p.Bits() == 0 || p.Addr().IsLoopback() || p.Addr().IsMulticast() {
			continue
		}
		if r.Type == unix.RTN_LOCAL || r.Type == unix.RTN_BROADCAST {
			continue
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits), true
}

// ensureNetwork makes n's bridge, gives it the gateway address, brings it up
// and installs the network's NAT rules, and returns the bridge. Every step
// is idempotent.
func (k *kernel) ensureNetwork(n *Network) (bridge, error) {
	link, err := k.ensureBridge(n)
	if err != nil {
		return bridge{}, err
	}
	if err := k.ensureNetworkRules(n); err != nil {
		return bridge{}, err
	}
	if n.EnableIPv6 {
		if err := k.ensureNetworkRules6(n); err != nil {
			return bridge{}, err
		}
	}
	return bridge{Index: link.Attrs().Index, MTU: link.Attrs().MTU}, nil
}

// readyBridge returns n's bridge when it still is as ensureNetwork left it:
// the same device (ifindex, recorded when it was set up), up, and berth's
// nftables table present. Then an attach needs nothing else from the
// network: one link lookup and one table lookup instead of a route dump,
// four rule dumps and a batch. A bridge re-made (reboot, deleted by hand)
// has another ifindex and takes the full path.
func (k *kernel) readyBridge(n *Network, ifindex int) (bridge, bool) {
	if ifindex <= 0 {
		return bridge{}, false
	}
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil || link.Type() != "bridge" || link.Attrs().Index != ifindex || link.Attrs().Flags&net.FlagUp == 0 {
		return bridge{}, false
	}
	c, err := nftables.New()
	if err != nil {
		return bridge{}, false
	}
	if _, err := c.ListTableOfFamily(k.table, nftables.TableFamilyIPv4); err != nil {
		return bridge{}, false
	}
	if n.EnableIPv6 && !k.ready6() {
		return bridge{}, false
	}
	return bridge{Index: link.Attrs().Index, MTU: link.Attrs().MTU}, true
}

// ensureBridge makes n's bridge with its address, up, with the sysctls it needs.
func (k *kernel) ensureBridge(n *Network) (netlink.Link, error) {
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		if !isLinkNotFound(err) {
			return nil, fmt.Errorf("looking up bridge %s: %w", n.Bridge, err)
		}
		mac, _ := net.ParseMAC(macFor(n.Gateway))
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge, HardwareAddr: mac}}
		if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("creating bridge %s: %w", n.Bridge, err)
		}
		if link, err = netlink.LinkByName(n.Bridge); err != nil {
			return nil, fmt.Errorf("looking up bridge %s: %w", n.Bridge, err)
		}
	}
	if link.Type() != "bridge" {
		return nil, fmt.Errorf("device %s exists and is a %s, not a bridge: %w", n.Bridge, link.Type(), errdefs.ErrConflict)
	}
	if err := k.checkSubnetFree(n, link.Attrs().Index); err != nil {
		return nil, err
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: n.Gateway.AsSlice(), Mask: net.CIDRMask(n.Subnet.Bits(), 32)}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return nil, fmt.Errorf("adding %s to bridge %s: %w", n.Gateway, n.Bridge, err)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("bringing up bridge %s: %w", n.Bridge, err)
		}
	}
	// Published ports answer on 127.0.0.1: DNAT turns those packets into
	// ones leaving through the bridge with a loopback source, which the
	// kernel drops as martians unless route_localnet is on.
	if err := writeSysctl(filepath.Join("/proc/sys/net/ipv4/conf", n.Bridge, "route_localnet"), "1"); err != nil {
		return nil, err
	}
	if !n.Internal {
		if err := writeSysctl("/proc/sys/net/ipv4/ip_forward", "1"); err != nil {
			return nil, err
		}
	}
	if n.EnableIPv6 {
		if err := ensureBridge6(n, link); err != nil {
			return nil, err
		}
	}
	return link, nil
}

// ensureBridge6 gives a dual-stack network's bridge its IPv6 gateway
// address (no duplicate address detection: the subnet is the network's
// own) and, unless internal, turns on IPv6 forwarding, as docker does.
func ensureBridge6(n *Network, link netlink.Link) error {
	if err := writeSysctl(filepath.Join("/proc/sys/net/ipv6/conf", n.Bridge, "disable_ipv6"), "0"); err != nil {
		return err
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: n.Gateway6.AsSlice(), Mask: net.CIDRMask(n.Subnet6.Bits(), 128)}, Flags: unix.IFA_F_NODAD}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("adding %s to bridge %s: %w", n.Gateway6, n.Bridge, err)
	}
	if !n.Internal {
		if err := writeSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1"); err != nil {
			return err
		}
	}
	return nil
}

// checkSubnet6Free fails when the host already routes (part of) n's IPv6
// subnet through a device (link-local and multicast routes aside).
func (k *kernel) checkSubnet6Free(n *Network) error {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V6)
	if err != nil {
		return fmt.Errorf("listing IPv6 routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		p, ok := prefixOf(r.Dst)
		if !ok || p.Bits() == 0 || p.Addr().IsLinkLocalUnicast() || p.Addr().IsMulticast() || !p.Overlaps(n.Subnet6) {
			continue
		}
		dev := fmt.Sprint(r.LinkIndex)
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		return fmt.Errorf("IPv6 subnet %s of network %s is already routed to %s (%s): %w", n.Subnet6, n.Name, dev, p, errdefs.ErrConflict)
	}
	return nil
}

// checkSubnetFree fails when another device already routes n's subnet.
func (k *kernel) checkSubnetFree(n *Network, bridgeIndex int) error {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.LinkIndex == bridgeIndex {
			continue
		}
		if p, ok := prefixOf(r.Dst); ok && p.Bits() > 0 && p.Overlaps(n.Subnet) {
			dev := fmt.Sprint(r.LinkIndex)
			if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
				dev = l.Attrs().Name
			}
			return fmt.Errorf("subnet %s of network %s is already routed to %s (%s): %w", n.Subnet, n.Name, dev, p, errdefs.ErrConflict)
		}
	}
	return nil
}

// removeNetwork deletes n's bridge and rules. Missing pieces are fine.
func (k *kernel) removeNetwork(n *Network) error {
	var errs []error
	if err := k.deleteRules(networkTag(n)); err != nil {
		errs = append(errs, err)
	}
	if err := k.deleteBridgeElement(n.Bridge); err != nil {
		errs = append(errs, err)
	}
	if n.EnableIPv6 {
		if err := k.removeNetwork6(n); err != nil {
			errs = append(errs, err)
		}
	}
	if link, err := netlink.LinkByName(n.Bridge); err == nil {
		if err := netlink.LinkDel(link); err != nil && !isLinkNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting bridge %s: %w", n.Bridge, err))
		}
	}
	return errors.Join(errs...)
}

// attach makes the veth pair on bridge br, configures the container end
// inside its namespace and installs the endpoint's port rules.
//
// It is on every `berth run`, so it keeps to few netlink requests: the
// pair is made with the host end up and on the bridge and the peer's MAC,
// MTU and namespace in one RTM_NEWLINK; hairpin mode is one sysfs write;
// inside, one socket carries the address, the links up and the route.
func (k *kernel) attach(n *Network, br bridge, ep *endpoint) error {
	ns, err := netns.GetFromPath(ep.NetNSPath)
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", ep.NetNSPath, err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in namespace %s: %w", ep.NetNSPath, err)
	}
	defer nh.Close()
	if ep.Interface == "" {
		if ep.Interface, err = freeIfName(nh); err != nil {
			return err
		}
	}
	mac, _ := net.ParseMAC(ep.MAC)
	err = addVeth(ep.HostVeth, ep.Interface, br.Index, br.MTU, mac, ns)
	for tries := 0; errors.Is(err, unix.EEXIST) && tries < 5; tries++ {
		// Either the container has a device of that name, or a host end
		// of ours (deterministic name) is left: by a crashed attempt, or
		// by the same container's last run, whose namespace the kernel
		// may be tearing down right now.
		if _, lerr := nh.LinkByName(ep.Interface); lerr == nil {
			return fmt.Errorf("the container already has a device named %s: %w", ep.Interface, errdefs.ErrConflict)
		}
		if old, lerr := netlink.LinkByName(ep.HostVeth); lerr == nil {
			netlink.LinkDel(old)
		}
		err = addVeth(ep.HostVeth, ep.Interface, br.Index, br.MTU, mac, ns)
	}
	if err != nil {
		return fmt.Errorf("creating veth pair %s/%s: %w", ep.HostVeth, ep.Interface, err)
	}
	if err := setHairpin(ep.HostVeth); err != nil {
		return err
	}
	if err := configureInside(nh, n, ep); err != nil {
		return fmt.Errorf("configuring %s in %s: %w", ep.Interface, ep.NetNSPath, err)
	}
	if err := k.addPortRules(n, ep); err != nil {
		return err
	}
	return k.addPortRules6(n, ep)
}

// addVeth makes a veth pair in one request: host on the bridge (master
// index) and up, peer moved into ns with its MAC.
func addVeth(host, peer string, master, mtu int, mac net.HardwareAddr, ns netns.NsHandle) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Flags, msg.Change = unix.IFF_UP, unix.IFF_UP
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(host)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(master))))
	if mtu > 0 {
		req.AddData(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(mtu))))
	}
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("veth"))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	p := data.AddRtAttr(nl.VETH_INFO_PEER, nil)
	// The peer cannot be made up here: veth refuses to open an end whose
	// peer is not linked yet (ENOTCONN). configureInside brings it up.
	nl.NewIfInfomsgChild(p, unix.AF_UNSPEC)
	p.AddRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(peer))
	if mtu > 0 {
		p.AddRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(mtu)))
	}
	if mac != nil {
		p.AddRtAttr(unix.IFLA_ADDRESS, mac)
	}
	p.AddRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(ns)))
	req.AddData(info)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// setHairpin lets traffic leave the bridge port it came in by (a
// container reaching its own published port): a sysfs write by name, or
// netlink where sysfs is not the host's.
func setHairpin(veth string) error {
	if os.WriteFile(filepath.Join("/sys/class/net", veth, "brport/hairpin_mode"), []byte("1"), 0o644) == nil {
		return nil
	}
	host, err := netlink.LinkByName(veth)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", veth, err)
	}
	if err := netlink.LinkSetHairpin(host, true); err != nil {
		return fmt.Errorf("hairpin on %s: %w", veth, err)
	}
	return nil
}

// configureInside gives the container end its address and default route,
// and brings it and lo up.
func configureInside(nh *netlink.Handle, n *Network, ep *endpoint) error {
	link, err := nh.LinkByName(ep.Interface)
	if err != nil {
		return err
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ep.IP.AsSlice(), Mask: net.CIDRMask(ep.PrefixLen, 32)}}
	if err := nh.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("adding address %s: %w", ep.IP, err)
	}
	if err := nh.LinkSetUp(link); err != nil {
		return err
	}
	// lo is ifindex 1 in every namespace; bringing up an up link is a no-op.
	if err := nh.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1}}); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	if ep.Gateway.IsValid() {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: ep.Gateway.AsSlice()}
		if err := nh.RouteAdd(r); err != nil {
			if !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("adding default route via %s: %w", ep.Gateway, err)
			}
			// Already attached elsewhere: the first network keeps the default route.
		}
	}
	if ep.IP6.IsValid() {
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: ep.IP6.AsSlice(), Mask: net.CIDRMask(ep.PrefixLen6, 128)}, Flags: unix.IFA_F_NODAD}
		if err := nh.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("adding address %s (is IPv6 disabled in the container's namespace?): %w", ep.IP6, err)
		}
		if ep.Gateway6.IsValid() {
			r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: ep.Gateway6.AsSlice(), Family: netlink.FAMILY_V6}
			if err := nh.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("adding default route via %s: %w", ep.Gateway6, err)
			}
		}
	}
	return nil
}

// freeIfName picks eth0, eth1... the first name not used in the namespace.
func freeIfName(nh *netlink.Handle) (string, error) {
	links, err := nh.LinkList()
	if err != nil {
		return "", fmt.Errorf("listing container devices: %w", err)
	}
	used := map[string]bool{}
	for _, l := range links {
		used[l.Attrs().Name] = true
	}
	for i := 0; i < 1000; i++ {
		if name := fmt.Sprintf("eth%d", i); !used[name] {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free ethN device name: %w", errdefs.ErrUnavailable)
}

// detach removes ep's port rules and, unless keepLink, its host veth end
// (its peer goes with it). What is already gone is fine.
func (k *kernel) detach(n *Network, ep *endpoint, keepLink bool) error {
	var errs []error
	// Only published ports make per-container rules.
	if len(ep.Ports) > 0 {
		if err := k.deletePortRules(n, ep); err != nil {
			errs = append(errs, err)
		}
		if ep.IP6.IsValid() {
			if err := k.deletePortRules6(n, ep); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if keepLink {
		return errors.Join(errs...)
	}
	if link, err := netlink.LinkByName(ep.HostVeth); err == nil {
		if err := netlink.LinkDel(link); err != nil && !isLinkNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s: %w", ep.HostVeth, err))
		}
	} else if !isLinkNotFound(err) {
		errs = append(errs, fmt.Errorf("looking up %s: %w", ep.HostVeth, err))
	}
	return errors.Join(errs...)
}

// deleteStrayVeths deletes the berth veth ends (vb...) on n's bridge that
// keep does not name. A missing bridge has none.
func (k *kernel) deleteStrayVeths(n *Network, keep map[string]bool) error {
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return nil
	}
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("listing devices: %w", err)
	}
	var errs []error
	for _, l := range links {
		a := l.Attrs()
		if a.MasterIndex != br.Attrs().Index || l.Type() != "veth" || !strings.HasPrefix(a.Name, "vb") || keep[a.Name] {
			continue
		}
		if err := netlink.LinkDel(l); err != nil && !isLinkNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting stray %s: %w", a.Name, err))
		}
	}
	return errors.Join(errs...)
}

// netnsID identifies a namespace file by device and inode, so a recycled
// /proc/PID path is not taken for the container's namespace.
func (k *kernel) netnsID(path string) (uint64, uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, 0, fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
		}
		return 0, 0, err
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		return 0, 0, err
	}
	if fs.Type != unix.NSFS_MAGIC && fs.Type != unix.PROC_SUPER_MAGIC {
		return 0, 0, fmt.Errorf("%s is not a namespace file: %w", path, errdefs.ErrInvalidArgument)
	}
	return uint64(st.Dev), st.Ino, nil
}

// netnsAlive reports whether path still names the namespace recorded. Only
// a missing path or another inode count as gone: any other error (EMFILE,
// EACCES...) must not release a live container's network.
func (k *kernel) netnsAlive(path string, dev, ino uint64) bool {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR)
	}
	return uint64(st.Dev) == dev && st.Ino == ino
}

// destroy deletes the whole nftables table.
func (k *kernel) destroy() error {
	return k.deleteTable()
}

func isLinkNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

func writeSysctl(path, value string) error {
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == value {
		return nil
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("setting %s: %w", path, err)
	}
	return nil
}

// collect deletes every bridge listed in the table's bridges set, the
// default bridge, and the table: what a deleted state root left behind.
func (k *kernel) collect(defaultBridge string) error {
	names := map[string]bool{defaultBridge: true}
	for _, b := range k.listBridges() {
		names[b] = true
	}
	var errs []error
	for name := range names {
		link, err := netlink.LinkByName(name)
		if err != nil || link.Type() != "bridge" {
			continue
		}
		if err := netlink.LinkDel(link); err != nil && !isLinkNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting bridge %s: %w", name, err))
		}
	}
	if err := k.deleteTable(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
