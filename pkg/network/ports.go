package network

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth/berth/pkg/errdefs"
)

// portEntry is one host port held by one endpoint.
type portEntry struct {
	Protocol    string     `json:"protocol"`
	HostIP      netip.Addr `json:"hostIP,omitzero"`
	HostPort    uint16     `json:"hostPort"`
	NetworkID   string     `json:"networkID"`
	ContainerID string     `json:"containerID"`
}

// clashes reports whether two host bindings cannot both exist: same
// protocol and port, and the same address or either one on every address.
func clashes(a portEntry, proto string, ip netip.Addr, port uint16) bool {
	return a.Protocol == proto && a.HostPort == port &&
		(!a.HostIP.IsValid() || !ip.IsValid() || a.HostIP == ip)
}

// reservePorts records the host ports of a new endpoint, picking free ones
// for HostPort 0. A port already held by a berth container or bound by a
// process on the host is refused with ErrConflict.
func (m *Manager) reservePorts(networkID, containerID string, want []PortMapping) ([]PortMapping, error) {
	if len(want) == 0 {
		return nil, nil
	}
	l, err := lockFile(m.portsLock())
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	var table []portEntry
	if err := readJSON(m.portsPath(), &table); err != nil && !isNotExist(err) {
		return nil, err
	}
	taken := func(proto string, ip netip.Addr, port uint16) bool {
		for _, e := range table {
			if clashes(e, proto, ip, port) {
				return true
			}
		}
		return false
	}
	out := make([]PortMapping, len(want))
	// Fixed ports first, so a picked port never takes one asked for later.
	for i, p := range want {
		out[i] = p
		if p.HostPort == 0 {
			continue
		}
		if taken(p.Protocol, p.HostIP, p.HostPort) {
			return nil, fmt.Errorf("bind for %s failed: port is already allocated: %w", bindAddr(p.HostIP, p.HostPort), errdefs.ErrConflict)
		}
		if err := probePort(p.Protocol, p.HostIP, p.HostPort); err != nil {
			return nil, err
		}
		table = append(table, portEntry{p.Protocol, p.HostIP, p.HostPort, networkID, containerID})
	}
	lo, hi := ephemeralRange()
	for i, p := range want {
		if p.HostPort != 0 {
			continue
		}
		span := hi - lo + 1
		start := rand.IntN(span)
		found := false
		for k := 0; k < span && !found; k++ {
			port := uint16(lo + (start+k)%span)
			if taken(p.Protocol, p.HostIP, port) || probePort(p.Protocol, p.HostIP, port) != nil {
				continue
			}
			out[i].HostPort = port
			table = append(table, portEntry{p.Protocol, p.HostIP, port, networkID, containerID})
			found = true
		}
		if !found {
			return nil, fmt.Errorf("no free host port for %s: %w", p, errdefs.ErrUnavailable)
		}
	}
	if err := writeJSON(m.portsPath(), table, false); err != nil {
		return nil, err
	}
	return out, nil
}

// releasePorts drops every host port an endpoint holds.
func (m *Manager) releasePorts(networkID, containerID string) error {
	return m.editPorts(func(e portEntry) bool { return e.NetworkID == networkID && e.ContainerID == containerID })
}

// repairPorts drops reservations whose endpoint no longer exists.
func (m *Manager) repairPorts() error {
	cache := map[string]map[string]*endpoint{}
	return m.editPorts(func(e portEntry) bool {
		eps, ok := cache[e.NetworkID]
		if !ok {
			eps, _ = m.loadEndpoints(e.NetworkID)
			cache[e.NetworkID] = eps
		}
		_, held := eps[e.ContainerID]
		return !held
	})
}

func (m *Manager) editPorts(drop func(portEntry) bool) error {
	l, err := lockFile(m.portsLock())
	if err != nil {
		return err
	}
	defer l.Unlock()
	var table []portEntry
	if err := readJSON(m.portsPath(), &table); err != nil {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	kept := table[:0]
	for _, e := range table {
		if !drop(e) {
			kept = append(kept, e)
		}
	}
	if len(kept) == len(table) {
		return nil
	}
	return writeJSON(m.portsPath(), kept, false)
}

func bindAddr(ip netip.Addr, port uint16) string {
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(ip, port).String()
}

// probePort checks that no process on the host holds the port, by binding
// it for a moment.
func probePort(proto string, ip netip.Addr, port uint16) error {
	addr := bindAddr(ip, port)
	var err error
	if proto == "udp" {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp4", addr); err == nil {
			c.Close()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen("tcp4", addr); err == nil {
			l.Close()
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("bind for %s/%s failed: port is already allocated: %w", addr, proto, errdefs.ErrConflict)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("bind for %s/%s failed: %s is not an address of this host: %w", addr, proto, ip, errdefs.ErrInvalidArgument)
	default:
		return fmt.Errorf("bind for %s/%s failed: %w", addr, proto, err)
	}
}

// ephemeralRange is the kernel's local port range, where picked host ports
// come from (as docker does).
func ephemeralRange() (int, int) {
	lo, hi := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			a, e1 := strconv.Atoi(f[0])
			z, e2 := strconv.Atoi(f[1])
			if e1 == nil && e2 == nil && a > 0 && a <= z && z <= 65535 {
				lo, hi = a, z
			}
		}
	}
	return lo, hi
}
