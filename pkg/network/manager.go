package network

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/flock"
)

// DefaultStateRoot is the persistent root for which kernel objects get their
// plain names ("berth" table, "berth0" bridge). Any other root gets names
// with a suffix derived from it, so test roots never share kernel objects.
const DefaultStateRoot = "/var/lib/berth"

// SubnetLockPath serialises subnet choice across every berth state root on
// the host: a subnet is picked and its bridge given its address under it, so
// two roots never pick the same one.
var SubnetLockPath = "/run/lock/berth-network-subnets.lock"

// Manager creates networks and attaches containers to them. It holds no
// locks or connections between calls; any number of Managers in any number
// of processes may work on the same roots at once.
type Manager struct {
	rootDir string // ROOT
	defDir  string // ROOT/networks: one <id>.json per network
	runDir  string // RUNROOT/networks: <id>/endpoints.json, locks, ports.json

	table         string // nftables table (family ip)
	defaultBridge string // bridge device of DefaultNetwork
	pool          []netip.Prefix
	k             *kernel
	// events receives "create" and "destroy" of networks (WithEvents).
	events func(action string, n *Network)
}

// Option adjusts a Manager.
type Option func(*Manager)

// WithKernelNames sets the nftables table and the default network's bridge
// device name, overriding the names derived from the state root.
func WithKernelNames(table, defaultBridge string) Option {
	return func(m *Manager) { m.table, m.defaultBridge = table, defaultBridge }
}

// WithEvents has fn called after a network is created ("create") or
// removed ("destroy"), to record docker's network events.
func WithEvents(fn func(action string, n *Network)) Option {
	return func(m *Manager) { m.events = fn }
}

// emit reports a network event to the WithEvents hook.
func (m *Manager) emit(action string, n *Network) {
	if m.events != nil {
		m.events(action, n)
	}
}

// WithSubnetPool sets the subnets auto-picked for new networks, in order.
func WithSubnetPool(pool []netip.Prefix) Option {
	return func(m *Manager) { m.pool = pool }
}

// Open returns a Manager keeping definitions under root/networks and
// allocations and locks under runroot/networks.
func Open(root, runroot string, opts ...Option) (*Manager, error) {
	if root == "" || runroot == "" {
		return nil, fmt.Errorf("network: empty state root: %w", errdefs.ErrInvalidArgument)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	runroot, err = filepath.Abs(runroot)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		rootDir: root,
		defDir:  filepath.Join(root, "networks"),
		runDir:  filepath.Join(runroot, "networks"),
		table:   "berth", defaultBridge: "berth0",
		pool: defaultPool(),
	}
	if filepath.Clean(root) != DefaultStateRoot {
		sum := sha256.Sum256([]byte(root))
		suffix := hex.EncodeToString(sum[:3])
		m.table, m.defaultBridge = "berth-"+suffix, "berth"+suffix
	}
	for _, o := range opts {
		o(m)
	}
	if m.table == "" || len(m.defaultBridge) > 15 || m.defaultBridge == "" {
		return nil, fmt.Errorf("network: bad kernel names %q/%q: %w", m.table, m.defaultBridge, errdefs.ErrInvalidArgument)
	}
	for _, d := range []string{m.defDir, m.runDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("network: %w", err)
		}
	}
	m.k = &kernel{table: m.table}
	return m, nil
}

// Table returns the name of the nftables table (family ip) holding every
// rule this Manager makes.
func (m *Manager) Table() string { return m.table }

func (m *Manager) defPath(id string) string   { return filepath.Join(m.defDir, id+".json") }
func (m *Manager) netLock(id string) string   { return filepath.Join(m.runDir, id, "lock") }
func (m *Manager) epPath(id string) string    { return filepath.Join(m.runDir, id, "endpoints.json") }
func (m *Manager) epDir(id string) string     { return filepath.Join(m.runDir, id, "endpoints") }
func (m *Manager) managerLock() string        { return filepath.Join(m.runDir, "networks.lock") }
func (m *Manager) portsLock() string          { return filepath.Join(m.runDir, "ports.lock") }
func (m *Manager) portsPath() string          { return filepath.Join(m.runDir, "ports.json") }
func (m *Manager) readyPath(id string) string { return filepath.Join(m.runDir, id, "bridge.ifindex") }

// bridge is what an attach needs of a network's bridge device.
type bridge struct{ Index, MTU int }

// setUp makes n's bridge and rules (idempotent) and records the bridge's
// ifindex, so that later attaches can tell it is still the one set up.
func (m *Manager) setUp(n *Network) (bridge, error) {
	br, err := m.k.ensureNetwork(n)
	if err != nil {
		return bridge{}, err
	}
	if err := os.WriteFile(m.readyPath(n.ID), []byte(strconv.Itoa(br.Index)), 0o600); err != nil {
		return bridge{}, fmt.Errorf("recording bridge %s: %w", n.Bridge, err)
	}
	return br, nil
}

// ready returns n's bridge, setting it up again only when it is not the
// device setUp last recorded (rebooted, deleted by hand) or berth's table
// is gone.
func (m *Manager) ready(n *Network) (bridge, error) {
	idx := 0
	if b, err := os.ReadFile(m.readyPath(n.ID)); err == nil {
		idx, _ = strconv.Atoi(string(b))
	}
	if br, ok := m.k.readyBridge(n, idx); ok {
		return br, nil
	}
	return m.setUp(n)
}

// List returns every network, sorted by name.
func (m *Manager) List(ctx context.Context) ([]*Network, error) {
	ents, err := os.ReadDir(m.defDir)
	if err != nil {
		return nil, fmt.Errorf("listing networks: %w", err)
	}
	var out []*Network
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		var n Network
		if err := readJSON(filepath.Join(m.defDir, e.Name()), &n); err != nil {
			if isNotExist(err) {
				continue // removed while we listed
			}
			return nil, fmt.Errorf("listing networks: %w", err)
		}
		out = append(out, &n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get finds a network by name, full ID or unique ID prefix.
func (m *Manager) Get(ctx context.Context, ref string) (*Network, error) {
	if ref == "" {
		return nil, fmt.Errorf("network name is empty: %w", errdefs.ErrInvalidArgument)
	}
	all, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	var byPrefix []*Network
	for _, n := range all {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
		if strings.HasPrefix(n.ID, ref) {
			byPrefix = append(byPrefix, n)
		}
	}
	switch len(byPrefix) {
	case 1:
		return byPrefix[0], nil
	case 0:
		return nil, fmt.Errorf("network %s not found: %w", ref, errdefs.ErrNotFound)
	default:
		return nil, fmt.Errorf("network ID prefix %s is ambiguous (%d networks): %w", ref, len(byPrefix), errdefs.ErrInvalidArgument)
	}
}

// Create defines a bridge network and sets up its bridge, address and NAT.
func (m *Manager) Create(ctx context.Context, name string, o CreateOptions) (*Network, error) {
	if err := validName("network", name); err != nil {
		return nil, err
	}
	if name == NoneNetwork || name == HostNetwork {
		return nil, fmt.Errorf("network %q is predefined and cannot be created: %w", name, errdefs.ErrInvalidArgument)
	}
	if err := checkOptions(&o); err != nil {
		return nil, fmt.Errorf("creating network %s: %w", name, err)
	}
	for k := range o.Labels {
		if k == "" {
			return nil, fmt.Errorf("creating network %s: empty label key: %w", name, errdefs.ErrInvalidArgument)
		}
	}
	l, err := lockFile(m.managerLock())
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	return m.createLocked(ctx, name, o)
}

func (m *Manager) createLocked(ctx context.Context, name string, o CreateOptions) (*Network, error) {
	all, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		if n.Name == name {
			return nil, fmt.Errorf("network with name %s already exists: %w", name, errdefs.ErrAlreadyExists)
		}
	}
	n := &Network{
		Name: name, ID: randHex(32), Created: time.Now().UTC(),
		Driver: DriverBridge, Subnet: o.Subnet, Gateway: o.Gateway, IPRange: o.IPRange,
		EnableIPv6: o.IPv6, Subnet6: o.Subnet6, Gateway6: o.Gateway6,
		Internal: o.Internal, Labels: o.Labels,
	}
	n.Bridge = "br-" + n.ID[:12]
	if name == DefaultNetwork {
		n.Bridge = m.defaultBridge
	}

	sl, err := lockFile(SubnetLockPath)
	if err != nil {
		return nil, err
	}
	defer sl.Unlock()
	used, err := m.k.routedPrefixes()
	if err != nil {
		return nil, fmt.Errorf("creating network %s: %w", name, err)
	}
	if n.EnableIPv6 && !n.Subnet6.IsValid() {
		for tries := 0; ; tries++ {
			n.Subnet6 = randomULA64()
			n.Gateway6 = n.Subnet6.Addr().Next()
			clash := m.k.checkSubnet6Free(n) != nil
			for _, o := range all {
				clash = clash || o.EnableIPv6 && o.Subnet6.Overlaps(n.Subnet6)
			}
			if !clash {
				break
			}
			if tries == 16 {
				return nil, fmt.Errorf("creating network %s: no free IPv6 subnet found; pass an IPv6 --subnet: %w", name, errdefs.ErrUnavailable)
			}
		}
	}
	if n.EnableIPv6 {
		if err := m.k.checkSubnet6Free(n); err != nil {
			return nil, fmt.Errorf("creating network %s: %w", name, err)
		}
		for _, o := range all {
			if o.EnableIPv6 && o.Subnet6.Overlaps(n.Subnet6) {
				return nil, fmt.Errorf("creating network %s: subnet %s overlaps network %s (%s): %w", name, n.Subnet6, o.Name, o.Subnet6, errdefs.ErrConflict)
			}
		}
	}
	if n.Subnet.IsValid() {
		for _, u := range used {
			if u.Overlaps(n.Subnet) {
				return nil, fmt.Errorf("creating network %s: subnet %s overlaps %s, which the host routes already: %w", name, n.Subnet, u, errdefs.ErrConflict)
			}
		}
		for _, o := range all {
			if o.Subnet.Overlaps(n.Subnet) {
				return nil, fmt.Errorf("creating network %s: subnet %s overlaps network %s (%s): %w", name, n.Subnet, o.Name, o.Subnet, errdefs.ErrConflict)
			}
		}
	} else {
		for _, o := range all {
			used = append(used, o.Subnet)
		}
		if n.Subnet, err = pickSubnet(m.pool, used); err != nil {
			return nil, fmt.Errorf("creating network %s: %w", name, err)
		}
		n.Gateway = n.Subnet.Addr().Next()
	}
	if err := os.MkdirAll(filepath.Join(m.runDir, n.ID), 0o700); err != nil {
		return nil, err
	}
	if err := m.register(); err != nil {
		return nil, err
	}
	if err := writeJSON(m.defPath(n.ID), n, true); err != nil {
		return nil, fmt.Errorf("creating network %s: %w", name, err)
	}
	if _, err := m.setUp(n); err != nil {
		m.k.removeNetwork(n)
		os.Remove(m.defPath(n.ID))
		os.RemoveAll(filepath.Join(m.runDir, n.ID))
		return nil, fmt.Errorf("creating network %s: %w", name, err)
	}
	slog.Debug("network created", "name", n.Name, "subnet", n.Subnet, "bridge", n.Bridge)
	m.emit("create", n)
	return n, nil
}

// defaultNetwork returns DefaultNetwork, creating it on first use.
func (m *Manager) defaultNetwork(ctx context.Context) (*Network, error) {
	if n, err := m.Get(ctx, DefaultNetwork); err == nil {
		return n, nil
	}
	l, err := lockFile(m.managerLock())
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	if n, err := m.Get(ctx, DefaultNetwork); err == nil {
		return n, nil
	}
	return m.createLocked(ctx, DefaultNetwork, CreateOptions{})
}

// loadEndpoints reads a network's endpoint table (held under its lock):
// one file per endpoint, ENDPOINTS/<container>.json. An attach writes a new
// file and a detach unlinks one; rewriting one table file would be a
// rename over an existing file, which ext4 follows with a forced write-back
// (about 0.6 ms idle, several under load) on every run. A table file left
// by an older berth (endpoints.json) is split into such files first.
func (m *Manager) loadEndpoints(id string) (map[string]*endpoint, error) {
	eps := map[string]*endpoint{}
	if err := m.migrateEndpoints(id); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(m.epDir(id))
	if err != nil && !isNotExist(err) {
		return nil, err
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		var ep endpoint
		if err := readJSON(filepath.Join(m.epDir(id), name), &ep); err != nil {
			if isNotExist(err) {
				continue
			}
			return nil, err
		}
		eps[ep.ContainerID] = &ep
	}
	return eps, nil
}

// migrateEndpoints splits an endpoints.json table into per-endpoint files.
func (m *Manager) migrateEndpoints(id string) error {
	old := map[string]*endpoint{}
	if err := readJSON(m.epPath(id), &old); err != nil {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	for _, ep := range old {
		if err := m.putEndpoint(id, ep); err != nil {
			return err
		}
	}
	return os.Remove(m.epPath(id))
}

// lockedEndpoints takes network id's lock and loads its endpoints; the
// caller releases the lock.
func (m *Manager) lockedEndpoints(id string) (*flock.Lock, map[string]*endpoint, error) {
	l, err := lockFile(m.netLock(id))
	if err != nil {
		return nil, nil, err
	}
	eps, err := m.loadEndpoints(id)
	if err != nil {
		l.Unlock()
		return nil, nil, err
	}
	return l, eps, nil
}

// putEndpoint records a new endpoint (the network's lock is held).
func (m *Manager) putEndpoint(id string, ep *endpoint) error {
	if !idRE().MatchString(ep.ContainerID) {
		return fmt.Errorf("endpoint of container %q: %w", ep.ContainerID, errdefs.ErrInvalidArgument)
	}
	if err := os.MkdirAll(m.epDir(id), 0o700); err != nil {
		return err
	}
	return writeJSON(filepath.Join(m.epDir(id), ep.ContainerID+".json"), ep, false)
}

// dropEndpoint forgets an endpoint (the network's lock is held).
func (m *Manager) dropEndpoint(id, containerID string) error {
	if err := os.Remove(filepath.Join(m.epDir(id), containerID+".json")); err != nil && !isNotExist(err) {
		return err
	}
	return nil
}

func sortedEndpoints(eps map[string]*endpoint) []*endpoint {
	out := make([]*endpoint, 0, len(eps))
	for _, ep := range eps {
		out = append(out, ep)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].IP != out[j].IP {
			return out[i].IP.Less(out[j].IP)
		}
		return out[i].ContainerID < out[j].ContainerID
	})
	return out
}

// Endpoints lists the attachments of a network.
func (m *Manager) Endpoints(ctx context.Context, ref string) ([]Attachment, error) {
	n, err := m.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	l, eps, err := m.lockedEndpoints(n.ID)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	var out []Attachment
	for _, ep := range sortedEndpoints(eps) {
		out = append(out, ep.Attachment)
	}
	return out, nil
}

// CheckAddress tells whether ip can be asked for (AttachRequest.IP) on a
// network now: inside its range, not its gateway, network or broadcast
// address, and not held by a live endpoint. Attach checks again under the
// network's lock; this is for failing early, at create.
func (m *Manager) CheckAddress(ctx context.Context, network string, ip netip.Addr) error {
	n, err := m.Get(ctx, network)
	if err != nil {
		return err
	}
	l, eps, err := m.lockedEndpoints(n.ID)
	if err != nil {
		return err
	}
	defer l.Unlock()
	if ip.Is6() && !ip.Is4In6() {
		if !n.EnableIPv6 {
			return fmt.Errorf("--ip6 %s: network %s has no IPv6 (create it with --ipv6): %w", ip, n.Name, errdefs.ErrInvalidArgument)
		}
		used := map[netip.Addr]bool{}
		for _, ep := range eps {
			if ep.IP6.IsValid() && m.k.netnsAlive(ep.NetNSPath, ep.NetNSDev, ep.NetNSIno) {
				used[ep.IP6] = true
			}
		}
		_, err = allocateIP6(n, used, ip)
		return err
	}
	ip = ip.Unmap()
	used := map[netip.Addr]bool{}
	for _, ep := range eps {
		// An endpoint whose namespace is gone gives its address up at
		// the next attach.
		if m.k.netnsAlive(ep.NetNSPath, ep.NetNSDev, ep.NetNSIno) {
			used[ep.IP] = true
		}
	}
	_, err = allocateIP(n, used, ip)
	return err
}

// Attach connects a container's network namespace to a network: a veth pair
// with the container end as eth0 (or the next free ethN), an address, a
// default route through the bridge, NAT, published ports, and its names in
// the other members' hosts files.
func (m *Manager) Attach(ctx context.Context, req AttachRequest) (*Attachment, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	var n *Network
	var err error
	if req.Network == DefaultNetwork {
		n, err = m.defaultNetwork(ctx)
	} else {
		n, err = m.Get(ctx, req.Network)
	}
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	l, err := lockFile(m.netLock(n.ID))
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	// The network may have been removed while we waited for its lock.
	if err := readJSON(m.defPath(n.ID), n); err != nil {
		return nil, fmt.Errorf("attach: network %s was removed: %w", req.Network, errdefs.ErrNotFound)
	}
	eps, err := m.loadEndpoints(n.ID)
	if err != nil {
		return nil, err
	}
	// Endpoints of containers whose namespace is gone (kill -9, a crashed
	// engine) hold addresses and ports nobody uses: release them first. A
	// container coming back after such a crash re-attaches cleanly.
	if _, err := m.dropStale(n, eps); err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	if _, ok := eps[req.ContainerID]; ok {
		return nil, fmt.Errorf("attach: container %s is already attached to network %s: %w", req.ContainerID, n.Name, errdefs.ErrAlreadyExists)
	}
	dev, ino, err := m.k.netnsID(req.NetNSPath)
	if err != nil {
		return nil, fmt.Errorf("attach: network namespace %s: %w", req.NetNSPath, err)
	}
	used := map[netip.Addr]bool{}
	for _, ep := range eps {
		used[ep.IP] = true
	}
	ip, err := allocateIP(n, used, req.IP)
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	mac := macFor(ip)
	macUser := func(mac string) *endpoint {
		for _, other := range eps {
			if other.MAC == mac {
				return other
			}
		}
		return nil
	}
	if req.MAC != nil {
		mac = req.MAC.String()
		if other := macUser(mac); other != nil {
			return nil, fmt.Errorf("attach: mac address %s is already in use on network %s by container %s: %w", mac, n.Name, cmpOr(other.Name, other.ContainerID), errdefs.ErrConflict)
		}
	}
	var ip6 netip.Addr
	if n.EnableIPv6 {
		used6 := map[netip.Addr]bool{}
		for _, ep := range eps {
			if ep.IP6.IsValid() {
				used6[ep.IP6] = true
			}
		}
		if ip6, err = allocateIP6(n, used6, req.IP6); err != nil {
			return nil, fmt.Errorf("attach: %w", err)
		}
	} else if req.IP6.IsValid() {
		return nil, fmt.Errorf("attach: --ip6 %s: network %s has no IPv6 (create it with --ipv6): %w", req.IP6, n.Name, errdefs.ErrInvalidArgument)
	}
	for macUser(mac) != nil {
		// Another member chose (--mac-address) the address derived from
		// this IP: take a random locally administered one.
		b := make([]byte, 6)
		rand.Read(b)
		b[0] = b[0]&0xfc | 0x02
		mac = net.HardwareAddr(b).String()
	}
	ep := &endpoint{
		Attachment: Attachment{
			Network: n.Name, NetworkID: n.ID, ContainerID: req.ContainerID,
			Name: req.Name, Aliases: slices.Clone(req.Aliases),
			Interface: req.Interface, HostVeth: vethName(n.ID, req.ContainerID),
			IP: ip, PrefixLen: n.Subnet.Bits(), MAC: mac,
		},
		NetNSPath: req.NetNSPath, NetNSDev: dev, NetNSIno: ino,
		HostsPath: req.HostsPath, Hostname: req.Hostname, Created: time.Now().UTC(),
	}
	if !n.Internal {
		ep.Gateway = n.Gateway
	}
	if ip6.IsValid() {
		ep.IP6, ep.PrefixLen6 = ip6, n.Subnet6.Bits()
		if !n.Internal {
			ep.Gateway6 = n.Gateway6
		}
	}
	if ep.Ports, err = m.reservePorts(n.ID, req.ContainerID, req.Ports); err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	fail := func(err error) (*Attachment, error) {
		m.k.detach(n, ep, false)
		m.releasePorts(n.ID, req.ContainerID)
		return nil, fmt.Errorf("attaching container %s to network %s: %w", req.ContainerID, n.Name, err)
	}
	br, err := m.ready(n)
	if err != nil {
		return fail(err)
	}
	if err := m.k.attach(n, br, ep); err != nil {
		return fail(err)
	}
	eps[ep.ContainerID] = ep
	ep.DNS = ContainerDNS(HostResolvConf)
	ep.Hosts = hostEntries(sortedEndpoints(eps), ep, n.Discovery())
	if err := m.putEndpoint(n.ID, ep); err != nil {
		delete(eps, ep.ContainerID)
		return fail(err)
	}
	if n.Discovery() {
		m.syncHosts(n, eps, nil)
	} else if ep.HostsPath != "" {
		if err := updateHostsFile(ep.HostsPath, n.Name, ep.Hosts); err != nil {
			slog.Warn("updating hosts file", "network", n.Name, "container", ep.ContainerID, "err", err)
		}
	}
	att := ep.Attachment
	return &att, nil
}

// syncHosts writes the network's member list into every member's hosts
// file, and clears it from gone's, if any. Failures are logged: a container
// whose hosts file vanished is on its way out.
func (m *Manager) syncHosts(n *Network, eps map[string]*endpoint, gone *endpoint) {
	sorted := sortedEndpoints(eps)
	if n.Discovery() {
		for _, ep := range sorted {
			if ep.HostsPath == "" {
				continue
			}
			if err := updateHostsFile(ep.HostsPath, n.Name, hostEntries(sorted, ep, true)); err != nil {
				slog.Warn("updating hosts file", "network", n.Name, "container", ep.ContainerID, "err", err)
			}
		}
	}
	if gone != nil && gone.HostsPath != "" {
		if err := updateHostsFile(gone.HostsPath, n.Name, nil); err != nil {
			slog.Warn("updating hosts file", "network", n.Name, "container", gone.ContainerID, "err", err)
		}
	}
}

// Detach disconnects a container from a network and releases its address,
// veth pair, port rules and names. Detaching what is not attached is not an
// error, and a container whose namespace is already gone detaches cleanly.
func (m *Manager) Detach(ctx context.Context, network, containerID string) error {
	return m.detach(ctx, network, containerID, false)
}

// Release is Detach for a container whose network namespace is about to be
// destroyed (its processes are gone and the caller drops the last mount of
// it next): the address, port rules and names are released now, and the
// veth pair is left to the kernel, which deletes it with the namespace, in
// the background. Deleting a veth by hand waits for an RCU grace period
// (10-50 ms here); the namespace's teardown batches that off the caller's
// path. A namespace that outlives the call (another process still in it)
// keeps its device until `berth network repair` or the next Attach of the
// same container.
func (m *Manager) Release(ctx context.Context, network, containerID string) error {
	return m.detach(ctx, network, containerID, true)
}

func (m *Manager) detach(ctx context.Context, network, containerID string, keepLink bool) error {
	if network == "" {
		network = DefaultNetwork
	}
	n, err := m.Get(ctx, network)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	l, eps, err := m.lockedEndpoints(n.ID)
	if err != nil {
		return err
	}
	defer l.Unlock()
	ep, ok := eps[containerID]
	if !ok {
		return nil
	}
	return m.detachLocked(n, eps, ep, keepLink)
}

// detachLocked releases ep (the network's lock is held); keepLink leaves
// its veth pair to go with its namespace.
func (m *Manager) detachLocked(n *Network, eps map[string]*endpoint, ep *endpoint, keepLink bool) error {
	if err := m.k.detach(n, ep, keepLink); err != nil {
		return fmt.Errorf("detaching container %s from network %s: %w", ep.ContainerID, n.Name, err)
	}
	if len(ep.Ports) > 0 {
		if err := m.releasePorts(n.ID, ep.ContainerID); err != nil {
			return fmt.Errorf("detaching container %s from network %s: %w", ep.ContainerID, n.Name, err)
		}
	}
	delete(eps, ep.ContainerID)
	if err := m.dropEndpoint(n.ID, ep.ContainerID); err != nil {
		return fmt.Errorf("detaching container %s from network %s: %w", ep.ContainerID, n.Name, err)
	}
	m.syncHosts(n, eps, ep)
	return nil
}

// dropStale detaches every endpoint whose network namespace is gone (the
// network's lock is held) and reports how many it released.
func (m *Manager) dropStale(n *Network, eps map[string]*endpoint) (int, error) {
	count := 0
	for _, ep := range sortedEndpoints(eps) {
		if m.k.netnsAlive(ep.NetNSPath, ep.NetNSDev, ep.NetNSIno) {
			continue
		}
		slog.Info("releasing stale endpoint", "network", n.Name, "container", ep.ContainerID, "netns", ep.NetNSPath)
		if err := m.detachLocked(n, eps, ep, false); err != nil {
			return count, err
		}
		count++
	}
	return count, nil
}

// Repair releases every allocation whose container network namespace no
// longer exists (left behind by kill -9 or a reboot), and host-port
// reservations nobody holds, sets up again the bridges and rules of
// networks that still have members, and collects the kernel objects of
// deleted state roots (CollectOrphans).
func (m *Manager) Repair(ctx context.Context) error {
	all, err := m.List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range all {
		if err := m.repairNetwork(n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.repairPorts(); err != nil {
		errs = append(errs, err)
	}
	if err := CollectOrphans(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (m *Manager) repairNetwork(n *Network) error {
	l, eps, err := m.lockedEndpoints(n.ID)
	if err != nil {
		return err
	}
	defer l.Unlock()
	if _, err := m.dropStale(n, eps); err != nil {
		return fmt.Errorf("repairing network %s: %w", n.Name, err)
	}
	// Host ends no endpoint owns: released (Release) while something
	// else kept their namespace alive.
	keep := map[string]bool{}
	for _, ep := range eps {
		keep[ep.HostVeth] = true
	}
	if err := m.k.deleteStrayVeths(n, keep); err != nil {
		return fmt.Errorf("repairing network %s: %w", n.Name, err)
	}
	if len(eps) > 0 {
		if _, err := m.setUp(n); err != nil {
			return fmt.Errorf("repairing network %s: %w", n.Name, err)
		}
	}
	return nil
}

// Remove deletes networks by name or ID, with their bridges and rules. A
// network with containers attached is refused with ErrConflict; the default
// network cannot be removed.
func (m *Manager) Remove(ctx context.Context, ref string) error {
	n, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if n.Name == DefaultNetwork {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed: %w", n.Name, errdefs.ErrInvalidArgument)
	}
	return m.remove(ctx, n)
}

func (m *Manager) remove(ctx context.Context, n *Network) error {
	ml, err := lockFile(m.managerLock())
	if err != nil {
		return err
	}
	defer ml.Unlock()
	l, err := lockFile(m.netLock(n.ID))
	if err != nil {
		return err
	}
	defer l.Unlock()
	if _, err := os.Stat(m.defPath(n.ID)); err != nil {
		return fmt.Errorf("network %s not found: %w", n.Name, errdefs.ErrNotFound)
	}
	eps, err := m.loadEndpoints(n.ID)
	if err != nil {
		return err
	}
	if _, err := m.dropStale(n, eps); err != nil {
		return err
	}
	if len(eps) > 0 {
		var who []string
		for _, ep := range sortedEndpoints(eps) {
			who = append(who, cmpOr(ep.Name, ep.ContainerID))
		}
		return fmt.Errorf("network %s has active endpoints (%s): %w", n.Name, strings.Join(who, ", "), errdefs.ErrConflict)
	}
	if err := m.k.removeNetwork(n); err != nil {
		return fmt.Errorf("removing network %s: %w", n.Name, err)
	}
	if err := os.Remove(m.defPath(n.ID)); err != nil && !isNotExist(err) {
		return fmt.Errorf("removing network %s: %w", n.Name, err)
	}
	// The lock file goes with the directory; a waiter on it finds the
	// definition gone and gives up.
	os.RemoveAll(filepath.Join(m.runDir, n.ID))
	m.emit("destroy", n)
	// With the last network goes the table (the manager lock keeps Create out).
	if rest, err := m.List(ctx); err == nil && len(rest) == 0 {
		return m.k.destroy()
	}
	return nil
}

// Prune removes every user-defined network with no containers attached and
// returns their names.
func (m *Manager) Prune(ctx context.Context) ([]string, error) {
	all, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, n := range all {
		if n.Name == DefaultNetwork {
			continue
		}
		err := m.remove(ctx, n)
		switch {
		case err == nil:
			removed = append(removed, n.Name)
		case errors.Is(err, errdefs.ErrConflict), errors.Is(err, errdefs.ErrNotFound):
		default:
			return removed, err
		}
	}
	return removed, nil
}

// Destroy removes every network, the default one included, and berth's
// nftables table: a state root's whole footprint in the kernel. It refuses
// with ErrConflict while any container is attached. Tests call it to clean up.
func (m *Manager) Destroy(ctx context.Context) error {
	all, err := m.List(ctx)
	if err != nil {
		return err
	}
	for _, n := range all {
		if err := m.remove(ctx, n); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return err
		}
	}
	return m.k.destroy()
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// vethName is the host end of a container's veth pair: stable for a
// (network, container) pair so a retry finds a half-made one, and short
// enough for IFNAMSIZ.
func vethName(networkID, containerID string) string {
	sum := sha256.Sum256([]byte(networkID + "/" + containerID))
	return "vb" + hex.EncodeToString(sum[:5])
}

// Attachments lists a container's attachments on every network, in network
// name order: what the engine shows in inspect and `port`.
func (m *Manager) Attachments(ctx context.Context, containerID string) ([]Attachment, error) {
	all, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Attachment
	for _, n := range all {
		eps, err := m.Endpoints(ctx, n.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range eps {
			if a.ContainerID == containerID {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// DetachAll detaches a container from every network it is on (the engine
// calls it when a container stops or is removed). Like Detach it is
// idempotent and works when the namespace is already gone.
func (m *Manager) DetachAll(ctx context.Context, containerID string) error {
	atts, err := m.Attachments(ctx, containerID)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range atts {
		if err := m.Detach(ctx, a.NetworkID, containerID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
