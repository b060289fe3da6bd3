package engine

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// Network attaches containers to bridge networks (pkg/network implements it).
type Network interface {
	Attach(ctx context.Context, req AttachRequest) (*Attachment, error)
	Detach(ctx context.Context, network, containerID string) error
	// Exists reports whether a network of that name exists.
	Exists(ctx context.Context, network string) bool
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
}

// checkNetworkMode validates --network.
func (e *Engine) checkNetworkMode(mode string) error {
	switch mode {
	case "none", "host":
		return nil
	}
	if strings.HasPrefix(mode, "container:") {
		return fmt.Errorf("--network %s: joining another container's network is not supported yet: %w", mode, errdefs.ErrNotImplemented)
	}
	if e.opts.Network == nil {
		return fmt.Errorf("--network %s: bridge networking is not available in this build: use --network none or host: %w", mode, errdefs.ErrNotImplemented)
	}
	if mode != "bridge" && !e.opts.Network.Exists(context.Background(), mode) {
		return fmt.Errorf("network %s not found: %w", mode, errdefs.ErrNotFound)
	}
	return nil
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
	}
}
