package engine

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/berth/berth/pkg/errdefs"
)

// Network attaches containers to bridge networks (pkg/network implements it).
type Network interface {
	Attach(ctx context.Context, req AttachRequest) (*Attachment, error)
	Detach(ctx context.Context, network, containerID string) error
	// Exists reports whether a network of that name exists.
	Exists(ctx context.Context, network string) bool
}

// Releaser is a Network that can detach a container whose network
// namespace is about to be destroyed without deleting its veth pair, which
// the kernel then deletes with the namespace, off the container's path.
type Releaser interface {
	Release(ctx context.Context, network, containerID string) error
}

// AddressChecker is a Network that can tell at create whether a static
// address (--ip) is usable and free on a network.
type AddressChecker interface {
	CheckAddress(ctx context.Context, network, ip string) error
}

// AttachRequest asks for a container's place on one network.
type AttachRequest struct {
	Network     string
	ContainerID string
	Name        string
	Aliases     []string
	NetNSPath   string
	Ports       []PortMapping
	// HostsPath is the container's hosts file; the network keeps the other
	// members' names in it.
	HostsPath string
	// IP is a static address (--ip); empty picks a free one.
	IP string
	// MAC is the device's address (--mac-address); empty derives one.
	MAC string
	// IP6 is a static IPv6 address (--ip6) on a dual-stack network.
	IP6 string
}

// PortMapping is one published port.
type PortMapping struct {
	HostIP        string
	HostPort      int
	ContainerPort int
	Protocol      string
}

// Attachment is what a network gave a container.
type Attachment struct {
	NetworkID string
	IP        string
	PrefixLen int
	Gateway   string
	MAC       string
	// DNS, Search and Options are what the container's resolv.conf says.
	DNS     []string
	Search  []string
	Options []string
	// Ports are the published ports, with host ports picked where asked.
	Ports []PortMapping
	// IP6, PrefixLen6 and Gateway6 are the IPv6 side on a dual-stack network.
	IP6        string
	PrefixLen6 int
	Gateway6   string
}

// checkNetwork validates the container's network settings at create:
// --network, and what goes with it (--ip, --dns..., --add-host, -p), the
// way docker refuses combinations that cannot work. A container:REF mode is
// resolved to the container's full ID.
func (e *Engine) checkNetwork(ctx context.Context, c *Container, ip string) error {
	h := &c.HostConfig
	mode := h.NetworkMode
	if err := ValidateDNS(h.Dns, h.DnsSearch, h.DnsOptions); err != nil {
		return err
	}
	for _, eh := range h.ExtraHosts {
		_, addr, err := ParseExtraHost(eh)
		if err != nil {
			return err
		}
		if addr == HostGateway && mode == "none" {
			return fmt.Errorf("--add-host %s: %s needs a network (bridge, host or a network name), not --network none: %w", eh, HostGateway, errdefs.ErrInvalidArgument)
		}
	}
	if c.Config.MacAddress != "" {
		mac, err := ParseMAC(c.Config.MacAddress)
		if err != nil {
			return err
		}
		if mode == "none" || mode == "host" || strings.HasPrefix(mode, "container:") {
			return fmt.Errorf("conflicting options: mac-address and the network mode (--network %s): %w", mode, errdefs.ErrInvalidArgument)
		}
		c.Config.MacAddress = mac
	}
	if err := e.checkLinks(c); err != nil {
		return err
	}
	if ref, ok := strings.CutPrefix(mode, "container:"); ok {
		return e.checkJoin(c, ref, ip)
	}
	for _, a := range h.Aliases {
		if strings.HasPrefix(a, "/") || !validName(a) {
			return fmt.Errorf("invalid --network-alias %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", a, errdefs.ErrInvalidArgument)
		}
	}
	if len(h.Aliases) > 0 && (mode == "none" || mode == "host" || mode == "bridge") {
		return fmt.Errorf("--network-alias: network-scoped aliases are supported only for containers on user-defined networks, not %s: %w", mode, errdefs.ErrInvalidArgument)
	}
	switch mode {
	case "none", "host":
		if ip != "" {
			return fmt.Errorf("--ip %s: user specified IP address is supported on user defined networks only: %w", ip, errdefs.ErrInvalidArgument)
		}
		return nil
	}
	if e.opts.Network == nil {
		return fmt.Errorf("--network %s: bridge networking is not available in this build: use --network none or host: %w", mode, errdefs.ErrNotImplemented)
	}
	if mode != "bridge" && !e.opts.Network.Exists(ctx, mode) {
		return fmt.Errorf("network %s not found: %w", mode, errdefs.ErrNotFound)
	}
	if ip == "" {
		return nil
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return fmt.Errorf("invalid IPv4 address: %s: %w", ip, errdefs.ErrInvalidArgument)
	}
	if mode == "bridge" {
		return fmt.Errorf("--ip %s: user specified IP address is supported on user defined networks only: %w", ip, errdefs.ErrInvalidArgument)
	}
	if ac, ok := e.opts.Network.(AddressChecker); ok {
		if err := ac.CheckAddress(ctx, mode, a.String()); err != nil {
			return err
		}
	}
	if c.NetworkSettings.Networks == nil {
		c.NetworkSettings.Networks = map[string]*EndpointSettings{}
	}
	c.NetworkSettings.Networks[mode] = &EndpointSettings{IPAMConfig: &EndpointIPAMConfig{IPv4Address: a.String()}}
	return nil
}

// checkIP6 validates --ip6 at create: an IPv6 address, on a user-defined
// dual-stack network, free. It is recorded as the endpoint's IPAMConfig.
func (e *Engine) checkIP6(ctx context.Context, c *Container, ip6 string) error {
	if ip6 == "" {
		return nil
	}
	mode := c.HostConfig.NetworkMode
	a, err := netip.ParseAddr(ip6)
	if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
		return fmt.Errorf("invalid IPv6 address: %s: %w", ip6, errdefs.ErrInvalidArgument)
	}
	if strings.HasPrefix(mode, "container:") {
		return fmt.Errorf("conflicting options: a static IP address and the container type network mode (--network %s): %w", mode, errdefs.ErrInvalidArgument)
	}
	if mode == "none" || mode == "host" || mode == "bridge" || e.opts.Network == nil {
		return fmt.Errorf("--ip6 %s: user specified IP address is supported on user defined networks only: %w", ip6, errdefs.ErrInvalidArgument)
	}
	if ac, ok := e.opts.Network.(AddressChecker); ok {
		if err := ac.CheckAddress(ctx, mode, a.String()); err != nil {
			return err
		}
	}
	if c.NetworkSettings.Networks == nil {
		c.NetworkSettings.Networks = map[string]*EndpointSettings{}
	}
	ep := c.NetworkSettings.Networks[mode]
	if ep == nil {
		ep = &EndpointSettings{}
		c.NetworkSettings.Networks[mode] = ep
	}
	if ep.IPAMConfig == nil {
		ep.IPAMConfig = &EndpointIPAMConfig{}
	}
	ep.IPAMConfig.IPv6Address = a.String()
	return nil
}

// checkJoin validates --network container:REF: the container exists, and
// nothing asks for what only a network of one's own can give. The joiner
// takes the other container's host name, as in docker.
func (e *Engine) checkJoin(c *Container, ref, ip string) error {
	conflict := func(what string) error {
		return fmt.Errorf("conflicting options: %s and the container type network mode (--network container:%s): %w", what, ref, errdefs.ErrInvalidArgument)
	}
	h := &c.HostConfig
	switch {
	case ref == "":
		return fmt.Errorf("--network container: needs a container name or ID (container:NAME|ID): %w", errdefs.ErrInvalidArgument)
	case len(h.PortBindings) > 0 || h.PublishAllPorts:
		return conflict("port publishing")
	case len(h.Dns)+len(h.DnsSearch)+len(h.DnsOptions) > 0:
		return conflict("dns")
	case len(h.ExtraHosts) > 0:
		return conflict("custom host-to-IP mapping")
	case len(h.Aliases) > 0:
		return conflict("network-scoped aliases")
	case ip != "":
		return conflict("a static IP address")
	case c.Config.Hostname != "" && c.Config.Hostname != c.ID[:min(12, len(c.ID))]:
		return conflict("hostname")
	}
	id, err := e.store.resolve(ref)
	if err != nil {
		return fmt.Errorf("joining the network of container %s: %w", ref, err)
	}
	other, err := e.store.load(id)
	if err != nil {
		return fmt.Errorf("joining the network of container %s: %w", ref, err)
	}
	h.NetworkMode = "container:" + id
	c.Config.Hostname = other.Config.Hostname
	return nil
}

// HostGateway is docker's special --add-host address: the host as the
// container reaches it (its network's gateway; 127.0.0.1 on the host network).
const HostGateway = "host-gateway"

// ParseExtraHost parses --add-host HOST:IP (or HOST=IP). IP may be IPv4,
// IPv6 (brackets optional) or HostGateway.
func ParseExtraHost(s string) (host, ip string, err error) {
	host, ip, ok := strings.Cut(s, "=")
	if !ok {
		host, ip, ok = strings.Cut(s, ":")
	}
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("invalid --add-host %q: %s (want HOST:IP or HOST:%s): %w", s, why, HostGateway, errdefs.ErrInvalidArgument)
	}
	if !ok {
		return bad("no IP")
	}
	if host == "" || len(host) > 255 || strings.ContainsAny(host, " \t\n#") {
		return bad("bad host name")
	}
	if ip == HostGateway {
		return host, ip, nil
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	a, perr := netip.ParseAddr(ip)
	if perr != nil || a.Zone() != "" {
		return bad(fmt.Sprintf("%q is not an IP address", ip))
	}
	return host, a.String(), nil
}

// domainRE is compiled on first use: every berth command would pay for it.
var domainRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*\.?$`)
})

// ValidateDNS checks --dns (IP addresses), --dns-search (domains, or "."
// for none) and --dns-option (one resolv.conf option each).
func ValidateDNS(servers, search, options []string) error {
	for _, s := range servers {
		if a, err := netip.ParseAddr(s); err != nil || a.Zone() != "" {
			return fmt.Errorf("invalid --dns %q: not an IP address: %w", s, errdefs.ErrInvalidArgument)
		}
	}
	for _, d := range search {
		if d == "." {
			continue
		}
		if len(d) > 253 || !domainRE().MatchString(d) {
			return fmt.Errorf("invalid --dns-search %q: not a domain name: %w", d, errdefs.ErrInvalidArgument)
		}
	}
	for _, o := range options {
		if o == "" || strings.ContainsAny(o, " \t\n#;") {
			return fmt.Errorf("invalid --dns-option %q: want one option such as ndots:2 or edns0: %w", o, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// resolvConf lays --dns, --dns-search and --dns-option over a resolv.conf:
// each given kind replaces every line of that kind, the rest is kept, as
// docker does. A search of "." alone means no search domains.
func resolvConf(base string, h *HostConfig) string {
	if len(h.Dns)+len(h.DnsSearch)+len(h.DnsOptions) == 0 {
		return base
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(base, "\n"), "\n") {
		f := strings.Fields(l)
		if len(f) > 0 {
			switch {
			case f[0] == "nameserver" && len(h.Dns) > 0,
				(f[0] == "search" || f[0] == "domain") && len(h.DnsSearch) > 0,
				f[0] == "options" && len(h.DnsOptions) > 0:
				continue
			}
		}
		if l != "" {
			out = append(out, l)
		}
	}
	for _, ns := range h.Dns {
		out = append(out, "nameserver "+ns)
	}
	if len(h.DnsSearch) > 0 && !(len(h.DnsSearch) == 1 && h.DnsSearch[0] == ".") {
		out = append(out, "search "+strings.Join(h.DnsSearch, " "))
	}
	if len(h.DnsOptions) > 0 {
		out = append(out, "options "+strings.Join(h.DnsOptions, " "))
	}
	return strings.Join(out, "\n") + "\n"
}

// extraHostLines renders --add-host entries for /etc/hosts, with gateway
// standing for HostGateway.
func extraHostLines(hosts []string, gateway string) (string, error) {
	var b strings.Builder
	for _, eh := range hosts {
		host, ip, err := ParseExtraHost(eh)
		if err != nil {
			return "", err
		}
		if ip == HostGateway {
			if gateway == "" {
				return "", fmt.Errorf("--add-host %s: the container's network has no gateway for %s: %w", eh, HostGateway, errdefs.ErrInvalidArgument)
			}
			ip = gateway
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, host)
	}
	return b.String(), nil
}

// reservePorts checks that each published host port is free now, so that a
// port already in use fails create rather than start.
func (e *Engine) reservePorts(c *Container) error {
	if len(c.HostConfig.PortBindings) == 0 && !c.HostConfig.PublishAllPorts {
		return nil
	}
	if c.HostConfig.NetworkMode == "none" || c.HostConfig.NetworkMode == "host" {
		if len(c.HostConfig.PortBindings) > 0 {
			// docker ignores published ports on these modes, with a warning.
			c.HostConfig.PortBindings = nil
		}
		return nil
	}
	for port, binds := range c.HostConfig.PortBindings {
		proto := "tcp"
		if _, p, ok := strings.Cut(port, "/"); ok {
			proto = p
		}
		for _, b := range binds {
			if b.HostPort == "" || b.HostPort == "0" {
				continue
			}
			addr := net.JoinHostPort(b.HostIP, b.HostPort)
			if proto == "udp" {
				l, err := net.ListenPacket("udp", addr)
				if err != nil {
					return fmt.Errorf("bind for %s failed: port is already allocated: %w", addr, errdefs.ErrConflict)
				}
				l.Close()
			} else {
				l, err := net.Listen("tcp", addr)
				if err != nil {
					return fmt.Errorf("bind for %s failed: port is already allocated: %w", addr, errdefs.ErrConflict)
				}
				l.Close()
			}
		}
	}
	return nil
}

// ParsePort parses -p [IP:][HOST:]CTR[/PROTO] into its container port key and binding.
func ParsePort(s string) (string, PortBinding, error) {
	proto := "tcp"
	spec := s
	if i := strings.LastIndex(s, "/"); i >= 0 {
		spec, proto = s[:i], strings.ToLower(s[i+1:])
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return "", PortBinding{}, fmt.Errorf("invalid proto: %s: %w", proto, errdefs.ErrInvalidArgument)
		}
	}
	var ip, host, ctr string
	parts := strings.Split(spec, ":")
	if strings.HasPrefix(spec, "[") { // [v6]:host:ctr
		end := strings.Index(spec, "]")
		if end < 0 {
			return "", PortBinding{}, fmt.Errorf("invalid ip address in %q: %w", s, errdefs.ErrInvalidArgument)
		}
		ip = spec[1:end]
		parts = append([]string{""}, strings.Split(strings.TrimPrefix(spec[end+1:], ":"), ":")...)
	}
	switch len(parts) {
	case 1:
		ctr = parts[0]
	case 2:
		host, ctr = parts[0], parts[1]
	case 3:
		if ip == "" {
			ip = parts[0]
		}
		host, ctr = parts[1], parts[2]
	default:
		return "", PortBinding{}, fmt.Errorf("invalid port specification: %q: %w", s, errdefs.ErrInvalidArgument)
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return "", PortBinding{}, fmt.Errorf("invalid ip address: %s: %w", ip, errdefs.ErrInvalidArgument)
	}
	if n, err := strconv.Atoi(ctr); err != nil || n < 1 || n > 65535 {
		return "", PortBinding{}, fmt.Errorf("invalid containerPort: %s: %w", ctr, errdefs.ErrInvalidArgument)
	}
	if host != "" {
		if n, err := strconv.Atoi(host); err != nil || n < 0 || n > 65535 {
			return "", PortBinding{}, fmt.Errorf("invalid hostPort: %s: %w", host, errdefs.ErrInvalidArgument)
		}
	}
	return ctr + "/" + proto, PortBinding{HostIP: ip, HostPort: host}, nil
}

// ClearNetwork forgets what a stopped container's networks gave it.
func (c *Container) ClearNetwork() {
	c.NetworkSettings.Ports = nil
	c.NetworkSettings.SandboxKey = ""
	for _, ep := range c.NetworkSettings.Networks {
		ep.IPAddress, ep.Gateway, ep.MacAddress, ep.IPPrefixLen = "", "", "", 0
		ep.GlobalIPv6Address, ep.GlobalIPv6PrefixLen, ep.IPv6Gateway = "", 0, ""
	}
}
