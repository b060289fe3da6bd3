package network

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/berth/berth/pkg/errdefs"
)

// Well-known network names. DefaultNetwork is made on first use; "none" and
// "host" are reserved for the engine's own modes and cannot be created.
const (
	DefaultNetwork = "bridge"
	NoneNetwork    = "none"
	HostNetwork    = "host"
	// DriverBridge is the only driver: a Linux bridge with veth pairs.
	DriverBridge = "bridge"
)

// Network is a persistent network definition.
type Network struct {
	// Name is unique among networks; ID is 64 hex digits.
	Name string `json:"name"`
	ID   string `json:"id"`
	// Created is when the network was defined.
	Created time.Time `json:"created"`
	// Driver is always DriverBridge for now.
	Driver string `json:"driver"`
	// Bridge is the kernel bridge device the network lives on.
	Bridge string `json:"bridge"`
	// Subnet holds every address of the network; Gateway is the bridge's
	// address in it; containers get addresses from IPRange (Subnet when unset).
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
	IPRange netip.Prefix `json:"ipRange,omitzero"`
	// Internal networks have no route to the outside and no NAT.
	Internal bool `json:"internal,omitempty"`
	// Labels are user metadata.
	Labels map[string]string `json:"labels,omitempty"`
	// EnableIPv6 networks are dual-stack: Subnet6 holds the containers'
	// IPv6 addresses and Gateway6 is the bridge's.
	EnableIPv6 bool         `json:"enableIPv6,omitempty"`
	Subnet6    netip.Prefix `json:"subnet6,omitzero"`
	Gateway6   netip.Addr   `json:"gateway6,omitzero"`
}

// Discovery reports whether members of n find each other by name. As in
// docker, only user-defined networks have it.
func (n *Network) Discovery() bool { return n.Name != DefaultNetwork }

// allocRange is the prefix container addresses are taken from.
func (n *Network) allocRange() netip.Prefix {
	if n.IPRange.IsValid() {
		return n.IPRange
	}
	return n.Subnet
}

// CreateOptions are the settings of a new network. Zero values are picked:
// Subnet is a free private range (not routed on the host, not used by another
// network), Gateway its first address.
type CreateOptions struct {
	Subnet   netip.Prefix
	Gateway  netip.Addr
	IPRange  netip.Prefix
	Internal bool
	Labels   map[string]string
	// IPv6 makes the network dual-stack on Subnet6 (required: there is no
	// default IPv6 pool); Gateway6 defaults to its first address.
	IPv6     bool
	Subnet6  netip.Prefix
	Gateway6 netip.Addr
}

// PortMapping publishes a container port on the host.
type PortMapping struct {
	// HostIP is the host address to listen on; unset means every address.
	HostIP netip.Addr `json:"hostIP,omitzero"`
	// HostPort is the host port; 0 picks a free one from the ephemeral range.
	HostPort uint16 `json:"hostPort"`
	// ContainerPort is the port inside the container.
	ContainerPort uint16 `json:"containerPort"`
	// Protocol is "tcp" (the default) or "udp".
	Protocol string `json:"protocol"`
}

// String renders the mapping as docker's -p does: [IP:]HOST:CTR/PROTO.
func (p PortMapping) String() string {
	s := fmt.Sprintf("%d:%d/%s", p.HostPort, p.ContainerPort, p.Protocol)
	if p.HostIP.IsValid() {
		s = p.HostIP.String() + ":" + s
	}
	return s
}

// AttachRequest asks for a container to join a network.
type AttachRequest struct {
	// Network is the network's name or ID; empty means DefaultNetwork.
	Network string
	// ContainerID identifies the container (required); Name is its name.
	ContainerID string
	Name        string
	// Aliases are more names the container answers to on this network.
	Aliases []string
	// NetNSPath is the container's network namespace (/proc/PID/ns/net or a
	// bind-mounted nsfs file).
	NetNSPath string
	// IP asks for a fixed address (docker's --ip); unset picks a free one.
	IP netip.Addr
	// IP6 asks for a fixed IPv6 address on a dual-stack network (--ip6).
	IP6 netip.Addr
	// Interface names the device in the container; unset picks eth0, eth1...
	Interface string
	// MAC is the container device's address (docker's --mac-address); unset
	// derives one from the IP address (02:42 and its four bytes).
	MAC net.HardwareAddr
	// Ports are published on the host.
	Ports []PortMapping
	// HostsPath is the file the engine bind-mounts at the container's
	// /etc/hosts; write it (localhost lines) before Attach and never
	// replace it after. The Manager keeps one block per network in it,
	// rewritten in place as members come and go: the container's own
	// address with Hostname, Name and aliases, and on networks with
	// discovery every other member's names too.
	HostsPath string
	// Hostname is the container's host name, listed for its own address in
	// its own hosts file (not in the other members').
	Hostname string
}

// Attachment is a container's endpoint on a network: what the engine shows in
// inspect and writes into the container's resolv.conf and hosts.
type Attachment struct {
	Network     string     `json:"network"`
	NetworkID   string     `json:"networkID"`
	ContainerID string     `json:"containerID"`
	Name        string     `json:"name,omitempty"`
	Aliases     []string   `json:"aliases,omitempty"`
	Interface   string     `json:"interface"`
	HostVeth    string     `json:"hostVeth"`
	IP          netip.Addr `json:"ip"`
	PrefixLen   int        `json:"prefixLen"`
	// Gateway is unset on internal networks (no default route).
	Gateway netip.Addr `json:"gateway,omitzero"`
	// IP6, PrefixLen6 and Gateway6 are the IPv6 side on dual-stack networks.
	IP6        netip.Addr    `json:"ip6,omitzero"`
	PrefixLen6 int           `json:"prefixLen6,omitempty"`
	Gateway6   netip.Addr    `json:"gateway6,omitzero"`
	MAC        string        `json:"mac"`
	Ports      []PortMapping `json:"ports,omitempty"`
	// DNS is what the container's /etc/resolv.conf should say.
	DNS DNSConfig `json:"dns"`
	// Hosts are the lines the Manager put in HostsPath for this network at
	// attach time: the container's own, and on networks with discovery the
	// other members'.
	Hosts []HostEntry `json:"hosts,omitempty"`
}

// Endpoint is the recorded state of one Attachment.
type endpoint struct {
	Attachment
	NetNSPath string    `json:"netnsPath"`
	NetNSDev  uint64    `json:"netnsDev"`
	NetNSIno  uint64    `json:"netnsIno"`
	HostsPath string    `json:"hostsPath,omitempty"`
	Hostname  string    `json:"hostname,omitempty"`
	Created   time.Time `json:"created"`
}

// DNSConfig is the content of a resolv.conf.
type DNSConfig struct {
	Nameservers []string `json:"nameservers,omitempty"`
	Search      []string `json:"search,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// HostEntry is one /etc/hosts line.
type HostEntry struct {
	IP    netip.Addr `json:"ip"`
	Names []string   `json:"names"`
}

var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// validName checks a network, container or alias name: docker's rule.
func validName(kind, s string) error {
	if len(s) > 253 || !nameRE().MatchString(s) {
		return fmt.Errorf("invalid %s name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", kind, s, errdefs.ErrInvalidArgument)
	}
	return nil
}

var idRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`) })

// ParsePort parses docker's -p syntax: [IP:][HOST:]CTR[/PROTO]. IPv6 host
// addresses are written in brackets. A missing HOST means "pick one".
func ParsePort(s string) (PortMapping, error) {
	bad := func(why string) (PortMapping, error) {
		return PortMapping{}, fmt.Errorf("invalid port mapping %q: %s: %w", s, why, errdefs.ErrInvalidArgument)
	}
	p := PortMapping{Protocol: "tcp"}
	rest := s
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		p.Protocol = strings.ToLower(rest[i+1:])
		rest = rest[:i]
	}
	if p.Protocol != "tcp" && p.Protocol != "udp" {
		return bad("protocol must be tcp or udp")
	}
	var ipPart, hostPart, ctrPart string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 || len(rest) < end+2 || rest[end+1] != ':' {
			return bad("unterminated [IPv6] address")
		}
		ipPart = rest[1:end]
		rest = rest[end+2:]
		parts := strings.Split(rest, ":")
		if len(parts) != 2 {
			return bad("want [IP]:HOST:CONTAINER")
		}
		hostPart, ctrPart = parts[0], parts[1]
	} else {
		parts := strings.Split(rest, ":")
		switch len(parts) {
		case 1:
			ctrPart = parts[0]
		case 2:
			hostPart, ctrPart = parts[0], parts[1]
		case 3:
			ipPart, hostPart, ctrPart = parts[0], parts[1], parts[2]
		default:
			return bad("want [IP:][HOST:]CONTAINER[/PROTO]")
		}
	}
	if ipPart != "" {
		ip, err := netip.ParseAddr(ipPart)
		if err != nil {
			return bad("bad host IP")
		}
		p.HostIP = ip
	}
	var err error
	if p.ContainerPort, err = parsePortNum(ctrPart, false); err != nil {
		return bad("container port: " + err.Error())
	}
	if hostPart != "" {
		if p.HostPort, err = parsePortNum(hostPart, true); err != nil {
			return bad("host port: " + err.Error())
		}
	}
	return p, nil
}

func parsePortNum(s string, zeroOK bool) (uint16, error) {
	if s == "" || len(s) > 5 {
		return 0, fmt.Errorf("want a number 1-65535")
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("want a number 1-65535 (ranges are not supported)")
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 || (n == 0 && !zeroOK) {
		return 0, fmt.Errorf("%d is out of range 1-65535", n)
	}
	return uint16(n), nil
}

// validate checks and normalises a request at the boundary.
func (r *AttachRequest) validate() error {
	inval := func(format string, a ...any) error {
		return fmt.Errorf("attach: "+format+": %w", append(a, errdefs.ErrInvalidArgument)...)
	}
	if r.Network == "" {
		r.Network = DefaultNetwork
	}
	if r.Network == NoneNetwork || r.Network == HostNetwork {
		return inval("network %q has no endpoints; the engine handles it without attaching", r.Network)
	}
	if !idRE().MatchString(r.ContainerID) {
		return inval("container ID %q", r.ContainerID)
	}
	if r.Name != "" {
		if err := validName("container", r.Name); err != nil {
			return err
		}
	}
	if r.Hostname != "" {
		if err := validName("host", r.Hostname); err != nil {
			return err
		}
	}
	for _, a := range r.Aliases {
		if err := validName("alias", a); err != nil {
			return err
		}
	}
	if r.NetNSPath == "" {
		return inval("no network namespace path")
	}
	if r.IP.IsValid() && !r.IP.Is4() {
		return inval("IP %s: only IPv4 is supported", r.IP)
	}
	if r.IP6.IsValid() && (!r.IP6.Is6() || r.IP6.Is4In6() || r.IP6.Zone() != "") {
		return inval("IPv6 address %s", r.IP6)
	}
	if r.MAC != nil {
		if err := ValidateMAC(r.MAC); err != nil {
			return fmt.Errorf("attach: %w", err)
		}
	}
	if r.Interface != "" && (len(r.Interface) > 15 || !nameRE().MatchString(r.Interface)) {
		return inval("interface name %q", r.Interface)
	}
	seen := map[string]bool{}
	for i := range r.Ports {
		p := &r.Ports[i]
		if p.Protocol == "" {
			p.Protocol = "tcp"
		}
		if p.Protocol != "tcp" && p.Protocol != "udp" {
			return inval("port %s: protocol must be tcp or udp", p)
		}
		if p.ContainerPort == 0 {
			return inval("port %s: container port 0", p)
		}
		if p.HostIP.IsValid() {
			p.HostIP = p.HostIP.Unmap()
			if !p.HostIP.Is4() {
				return inval("port %s: only IPv4 host addresses are supported", p)
			}
			if p.HostIP.IsUnspecified() {
				p.HostIP = netip.Addr{}
			}
		}
		if p.HostPort != 0 {
			k := fmt.Sprintf("%s/%d", p.Protocol, p.HostPort)
			if seen[k] {
				return fmt.Errorf("attach: port %s is requested twice: %w", p, errdefs.ErrConflict)
			}
			seen[k] = true
		}
	}
	return nil
}

// ValidateMAC checks that mac can be an Ethernet device's own address: six
// bytes, not multicast (nor broadcast) and not all zeros.
func ValidateMAC(mac net.HardwareAddr) error {
	switch {
	case len(mac) != 6:
		return fmt.Errorf("%s is not a valid mac address: want six bytes such as 02:42:ac:11:00:02: %w", mac, errdefs.ErrInvalidArgument)
	case mac[0]&1 != 0:
		return fmt.Errorf("%s is not a valid mac address: it is a multicast address (the first byte must be even): %w", mac, errdefs.ErrInvalidArgument)
	case bytes.Equal(mac, make(net.HardwareAddr, 6)):
		return fmt.Errorf("%s is not a valid mac address: all zeros: %w", mac, errdefs.ErrInvalidArgument)
	}
	return nil
}
