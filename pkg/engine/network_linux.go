package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/netns"
)

// setupNetwork gives the container its network: nothing for host, a new
// namespace with loopback for none (the runtime makes it), another
// container's namespace for container:ID, and for bridge networks a
// namespace berth creates and pins, attached by the network manager. It
// writes the container's /etc files too.
func (e *Engine) setupNetwork(ctx context.Context, c *Container) (nsPath string, hostNet bool, err error) {
	mode := c.HostConfig.NetworkMode
	if id, ok := strings.CutPrefix(mode, "container:"); ok {
		return e.joinNetwork(ctx, c, id)
	}
	hostNet = mode == "host"
	if err := e.writeEtcFiles(c, hostNet); err != nil {
		return "", false, err
	}
	if mode == "host" || mode == "none" {
		gw := ""
		if hostNet {
			gw = "127.0.0.1"
		}
		return "", hostNet, e.finishEtcFiles(c, "", gw)
	}
	if e.opts.Network == nil {
		return "", false, fmt.Errorf("network %s: no network support in this build: %w", mode, errdefs.ErrNotImplemented)
	}
	start := time.Now()
	defer func() {
		slog.Debug("network set up", "container", c.ID, "network", mode, "took", time.Since(start), "err", err)
	}()
	nsPath = filepath.Join(e.store.runDir(c.ID), "netns")
	unix.Unmount(nsPath, unix.MNT_DETACH)
	os.Remove(nsPath)
	if err := netns.New(nsPath); err != nil {
		return "", false, fmt.Errorf("creating network namespace: %w", err)
	}
	names := append([]string{mode}, c.ExtraNetworks...)
	atts := make([]*Attachment, len(names))
	for i, name := range names {
		if atts[i], err = e.attachOne(ctx, c, name, nsPath, i == 0); err != nil {
			return "", false, err
		}
	}
	if err := e.recordNetworks(c, nsPath, names, atts); err != nil {
		return "", false, err
	}
	if len(c.HostConfig.Links) > 0 {
		lines, err := e.linkLines(ctx, c)
		if err == nil {
			err = appendInPlace(filepath.Join(e.store.dir(c.ID), "hosts"), lines)
		}
		if err != nil {
			return "", false, err
		}
	}
	primary := atts[0]
	resolv := ""
	if len(primary.DNS) > 0 {
		var b strings.Builder
		for _, ns := range primary.DNS {
			fmt.Fprintf(&b, "nameserver %s\n", ns)
		}
		if len(primary.Search) > 0 {
			fmt.Fprintf(&b, "search %s\n", strings.Join(primary.Search, " "))
		}
		if len(primary.Options) > 0 {
			fmt.Fprintf(&b, "options %s\n", strings.Join(primary.Options, " "))
		}
		resolv = b.String()
	}
	return nsPath, false, e.finishEtcFiles(c, resolv, primary.Gateway)
}

// finishEtcFiles writes what --dns..., --add-host add to the /etc files:
// resolv (when not empty) with the DNS flags laid over it, and the extra
// hosts, host-gateway being gateway.
func (e *Engine) finishEtcFiles(c *Container, resolv, gateway string) error {
	dir := e.store.dir(c.ID)
	h := &c.HostConfig
	if resolv != "" || len(h.Dns)+len(h.DnsSearch)+len(h.DnsOptions) > 0 {
		path := filepath.Join(dir, "resolv.conf")
		if resolv == "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			resolv = string(b)
		}
		if err := overwrite(path, resolvConf(resolv, h)); err != nil {
			return err
		}
	}
	if len(h.ExtraHosts) > 0 {
		lines, err := extraHostLines(h.ExtraHosts, gateway)
		if err != nil {
			return err
		}
		if err := appendInPlace(filepath.Join(dir, "hosts"), lines); err != nil {
			return err
		}
	}
	return nil
}

// overwrite replaces the content of the file at path in place: written
// over the old bytes, then cut to length. writeEtcFiles made it moments ago
// and nothing has it open; a rename over it (or a truncation to zero) would
// make ext4 force its write-back on every run.
func overwrite(path, data string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteAt([]byte(data), 0)
	if err == nil {
		err = f.Truncate(int64(len(data)))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// joinNetwork puts the container into the network namespace of container
// id (--network container:ID), which must be running, and gives it that
// container's /etc/hosts, /etc/resolv.conf and /etc/hostname (hard links,
// so the other's hosts file updates reach it). It registers as a user of the
// namespace, so the owner's clean-up deletes its devices itself rather than
// leaving them to the namespace's end.
func (e *Engine) joinNetwork(ctx context.Context, c *Container, id string) (string, bool, error) {
	other, err := e.Load(ctx, id)
	if err != nil {
		return "", false, fmt.Errorf("joining the network of container %s: %w", id, err)
	}
	if !other.State.Running || other.State.Pid <= 0 {
		return "", false, fmt.Errorf("cannot join the network of container %s: it is not running: %w", other.Name, errdefs.ErrConflict)
	}
	hostNet := false
	var netns string
	switch {
	case other.HostConfig.NetworkMode == "host":
		hostNet = true
	case other.NetworkSettings.SandboxKey != "":
		netns = other.NetworkSettings.SandboxKey
	default:
		netns = fmt.Sprintf("/proc/%d/ns/net", other.State.Pid)
	}
	if netns != "" {
		if _, err := os.Stat(netns); err != nil {
			return "", false, fmt.Errorf("the network namespace of container %s: %w", other.Name, err)
		}
	}
	dir, odir := e.store.dir(c.ID), e.store.dir(other.ID)
	for _, name := range []string{"hosts", "resolv.conf", "hostname"} {
		dst := filepath.Join(dir, name)
		os.Remove(dst)
		if err := os.Link(filepath.Join(odir, name), dst); err != nil {
			b, rerr := os.ReadFile(filepath.Join(odir, name))
			if rerr != nil {
				return "", false, fmt.Errorf("the /etc/%s of container %s: %w", name, other.Name, rerr)
			}
			if err := writeFile(dst, b, 0o644, false); err != nil {
				return "", false, err
			}
		}
	}
	users := filepath.Join(e.store.runDir(other.ID), "netns-users")
	if err := os.MkdirAll(users, 0o700); err != nil {
		return "", false, err
	}
	if err := os.WriteFile(filepath.Join(users, c.ID), nil, 0o600); err != nil {
		return "", false, err
	}
	_, err = e.Update(c.ID, func(rec *Container) error {
		rec.NetworkSettings.SandboxKey = netns
		return nil
	})
	return netns, hostNet, err
}

// publishedPorts lists -p (and -P) for the network manager.
func publishedPorts(c *Container) []PortMapping {
	var ports []PortMapping
	bound := map[string]bool{}
	for port, binds := range c.HostConfig.PortBindings {
		p, proto, _ := strings.Cut(port, "/")
		cp, _ := strconv.Atoi(p)
		bound[port] = true
		for _, b := range binds {
			hp, _ := strconv.Atoi(b.HostPort)
			ports = append(ports, PortMapping{HostIP: b.HostIP, HostPort: hp, ContainerPort: cp, Protocol: proto})
		}
	}
	if c.HostConfig.PublishAllPorts {
		for port := range c.Config.ExposedPorts {
			if bound[port] {
				continue
			}
			p, proto, _ := strings.Cut(port, "/")
			cp, _ := strconv.Atoi(p)
			if proto == "" {
				proto = "tcp"
			}
			ports = append(ports, PortMapping{ContainerPort: cp, Protocol: proto})
		}
	}
	return ports
}

// attachOne joins the container's namespace to one network; the primary
// network also publishes ports and takes the static address (--ip).
func (e *Engine) attachOne(ctx context.Context, c *Container, name, netns string, primary bool) (*Attachment, error) {
	req := AttachRequest{Network: name, ContainerID: c.ID, Name: c.Name, Aliases: aliasesOn(c, name),
		NetNSPath: netns, HostsPath: filepath.Join(e.store.dir(c.ID), "hosts")}
	if primary {
		req.Ports = publishedPorts(c)
		req.MAC = c.Config.MacAddress
	}
	if ep := c.NetworkSettings.Networks[name]; ep != nil && ep.IPAMConfig != nil {
		req.IP, req.IP6 = ep.IPAMConfig.IPv4Address, ep.IPAMConfig.IPv6Address
	}
	att, err := e.opts.Network.Attach(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("attaching to network %s: %w", name, err)
	}
	if att.IP != "" {
		if err := appendInPlace(req.HostsPath, fmt.Sprintf("%s\t%s\n", att.IP, c.Config.Hostname)); err != nil {
			return nil, err
		}
	}
	if att.IP6 != "" {
		if err := appendInPlace(req.HostsPath, fmt.Sprintf("%s\t%s\n", att.IP6, c.Config.Hostname)); err != nil {
			return nil, err
		}
	}
	e.EmitNetwork("connect", att.NetworkID, name, c.ID)
	return att, nil
}

// recordNetworks saves what the networks gave the container, in one
// update of its record; the first network's ports are the published ones.
func (e *Engine) recordNetworks(c *Container, netns string, names []string, atts []*Attachment) error {
	_, err := e.Update(c.ID, func(rec *Container) error {
		rec.NetworkSettings.SandboxKey = netns
		if rec.NetworkSettings.Networks == nil {
			rec.NetworkSettings.Networks = map[string]*EndpointSettings{}
		}
		for i, name := range names {
			att := atts[i]
			ep := &EndpointSettings{NetworkID: att.NetworkID, IPAddress: att.IP, IPPrefixLen: att.PrefixLen,
				Gateway: att.Gateway, MacAddress: att.MAC, Aliases: aliasesOn(c, name),
				GlobalIPv6Address: att.IP6, GlobalIPv6PrefixLen: att.PrefixLen6, IPv6Gateway: att.Gateway6}
			if old := rec.NetworkSettings.Networks[name]; old != nil {
				ep.IPAMConfig = old.IPAMConfig
			}
			rec.NetworkSettings.Networks[name] = ep
		}
		published := PortMap{}
		for _, p := range atts[0].Ports {
			key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
			published[key] = append(published[key], PortBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(p.HostPort)})
		}
		rec.NetworkSettings.Ports = published
		return nil
	})
	return err
}

// Connect attaches a container to another network: at once when it runs,
// and at every start.
func (e *Engine) Connect(ctx context.Context, ref, name string) error {
	return e.ConnectWith(ctx, ref, name, ConnectOptions{})
}

// ConnectOptions are what `network connect` may ask for on the network.
type ConnectOptions struct {
	// IP is a static IPv4 address (--ip); empty picks a free one.
	IP string
	// IP6 is a static IPv6 address (--ip6) on a dual-stack network.
	IP6 string
	// Aliases are more names the container answers to on the network (--alias).
	Aliases []string
}

// ConnectWith is Connect with a static address and aliases on the network.
func (e *Engine) ConnectWith(ctx context.Context, ref, name string, opts ConnectOptions) error {
	c, err := e.Load(ctx, ref)
	if err != nil {
		return err
	}
	if e.opts.Network == nil || !e.opts.Network.Exists(ctx, name) {
		return fmt.Errorf("network %s not found: %w", name, errdefs.ErrNotFound)
	}
	mode := c.HostConfig.NetworkMode
	if mode == "none" || mode == "host" {
		return fmt.Errorf("container %s is on network %s, which cannot be combined with others: %w", c.Name, mode, errdefs.ErrConflict)
	}
	if mode == name || slices.Contains(c.ExtraNetworks, name) {
		return fmt.Errorf("endpoint with name %s already exists in network %s: %w", c.Name, name, errdefs.ErrAlreadyExists)
	}
	if strings.HasPrefix(mode, "container:") {
		return fmt.Errorf("container %s shares the network of another container and cannot join networks of its own: %w", c.Name, errdefs.ErrConflict)
	}
	want, err := e.checkConnect(ctx, name, opts)
	if err != nil {
		return err
	}
	if c.NetworkSettings.Networks == nil {
		c.NetworkSettings.Networks = map[string]*EndpointSettings{}
	}
	c.NetworkSettings.Networks[name] = want
	if c.State.Running {
		att, err := e.attachOne(ctx, c, name, c.NetworkSettings.SandboxKey, false)
		if err != nil {
			return err
		}
		if _, err := e.Update(c.ID, func(rec *Container) error {
			if rec.NetworkSettings.Networks == nil {
				rec.NetworkSettings.Networks = map[string]*EndpointSettings{}
			}
			rec.NetworkSettings.Networks[name] = &EndpointSettings{IPAMConfig: want.IPAMConfig, NetworkID: att.NetworkID, IPAddress: att.IP,
				IPPrefixLen: att.PrefixLen, Gateway: att.Gateway, MacAddress: att.MAC, Aliases: want.Aliases,
				GlobalIPv6Address: att.IP6, GlobalIPv6PrefixLen: att.PrefixLen6, IPv6Gateway: att.Gateway6}
			return nil
		}); err != nil {
			return err
		}
	}
	_, err = e.Update(c.ID, func(rec *Container) error {
		rec.ExtraNetworks = append(rec.ExtraNetworks, name)
		if rec.NetworkSettings.Networks == nil {
			rec.NetworkSettings.Networks = map[string]*EndpointSettings{}
		}
		if !c.State.Running || rec.NetworkSettings.Networks[name] == nil {
			rec.NetworkSettings.Networks[name] = want
		}
		return nil
	})
	return err
}

// checkConnect validates `network connect --ip --alias` as docker does and
// returns the endpoint's configuration.
func (e *Engine) checkConnect(ctx context.Context, name string, opts ConnectOptions) (*EndpointSettings, error) {
	ep := &EndpointSettings{}
	for _, a := range opts.Aliases {
		if strings.HasPrefix(a, "/") || !validName(a) {
			return nil, fmt.Errorf("invalid --alias %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", a, errdefs.ErrInvalidArgument)
		}
	}
	if len(opts.Aliases) > 0 {
		if name == "bridge" {
			return nil, fmt.Errorf("network-scoped alias is supported only for containers in user defined networks: %w", errdefs.ErrInvalidArgument)
		}
		ep.Aliases = slices.Clone(opts.Aliases)
	}
	if opts.IP6 != "" {
		a, err := netip.ParseAddr(opts.IP6)
		if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
			return nil, fmt.Errorf("invalid IPv6 address: %s: %w", opts.IP6, errdefs.ErrInvalidArgument)
		}
		if name == "bridge" {
			return nil, fmt.Errorf("user specified IP address is supported on user defined networks only: %w", errdefs.ErrInvalidArgument)
		}
		if ac, ok := e.opts.Network.(AddressChecker); ok {
			if err := ac.CheckAddress(ctx, name, a.String()); err != nil {
				return nil, err
			}
		}
		ep.IPAMConfig = &EndpointIPAMConfig{IPv6Address: a.String()}
	}
	if opts.IP == "" {
		return ep, nil
	}
	a, err := netip.ParseAddr(opts.IP)
	if err != nil || !a.Is4() {
		return nil, fmt.Errorf("invalid IPv4 address: %s: %w", opts.IP, errdefs.ErrInvalidArgument)
	}
	if name == "bridge" {
		return nil, fmt.Errorf("user specified IP address is supported on user defined networks only: %w", errdefs.ErrInvalidArgument)
	}
	if ac, ok := e.opts.Network.(AddressChecker); ok {
		if err := ac.CheckAddress(ctx, name, a.String()); err != nil {
			return nil, err
		}
	}
	if ep.IPAMConfig == nil {
		ep.IPAMConfig = &EndpointIPAMConfig{}
	}
	ep.IPAMConfig.IPv4Address = a.String()
	return ep, nil
}

// Disconnect detaches a container from a network it was connected to.
func (e *Engine) Disconnect(ctx context.Context, ref, name string) error {
	c, err := e.Load(ctx, ref)
	if err != nil {
		return err
	}
	if !slices.Contains(c.ExtraNetworks, name) {
		if c.HostConfig.NetworkMode == name {
			return fmt.Errorf("container %s cannot leave %s, the network it was created on: %w", c.Name, name, errdefs.ErrNotImplemented)
		}
		return fmt.Errorf("container %s is not connected to network %s: %w", c.Name, name, errdefs.ErrNotFound)
	}
	if c.State.Running && e.opts.Network != nil {
		if err := e.opts.Network.Detach(ctx, name, c.ID); err != nil {
			return err
		}
		e.emitDisconnect(c, name)
	}
	_, err = e.Update(c.ID, func(rec *Container) error {
		rec.ExtraNetworks = slices.DeleteFunc(rec.ExtraNetworks, func(n string) bool { return n == name })
		delete(rec.NetworkSettings.Networks, name)
		return nil
	})
	return err
}

// appendInPlace appends line to a file without replacing it (it is
// bind-mounted into a container), under the file's flock as the network
// manager takes it.
func appendInPlace(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	_, err = f.WriteString(line)
	return err
}

// teardownNetwork detaches the container and drops its namespace. The
// namespace dies with its last mount (the container's processes are gone),
// taking the veth pairs with it: the network only releases addresses,
// rules and names (Releaser), unless other containers joined the namespace
// (--network container:) and keep it alive, when the devices are deleted.
func (e *Engine) teardownNetwork(ctx context.Context, c *Container) {
	if id, ok := strings.CutPrefix(c.HostConfig.NetworkMode, "container:"); ok {
		os.Remove(filepath.Join(e.store.runDir(id), "netns-users", c.ID))
		return
	}
	netns := filepath.Join(e.store.runDir(c.ID), "netns")
	if _, err := os.Stat(netns); err != nil {
		return
	}
	start := time.Now()
	defer func() { slog.Debug("network torn down", "container", c.ID, "took", time.Since(start)) }()
	if e.opts.Network != nil {
		rel, release := e.opts.Network.(Releaser)
		if users, _ := os.ReadDir(filepath.Join(e.store.runDir(c.ID), "netns-users")); len(users) > 0 {
			release = false
		}
		for _, name := range append([]string{c.HostConfig.NetworkMode}, c.ExtraNetworks...) {
			var err error
			if release {
				err = rel.Release(ctx, name, c.ID)
			} else {
				err = e.opts.Network.Detach(ctx, name, c.ID)
			}
			if err != nil {
				slog.Warn("detaching from network", "container", c.ID, "network", name, "err", err)
			}
			e.emitDisconnect(c, name)
		}
	}
	unix.Unmount(netns, unix.MNT_DETACH)
	os.Remove(netns)
}

// emitDisconnect records docker's disconnect event of c from network name.
func (e *Engine) emitDisconnect(c *Container, name string) {
	id := ""
	if ep := c.NetworkSettings.Networks[name]; ep != nil {
		id = ep.NetworkID
	}
	e.EmitNetwork("disconnect", id, name, c.ID)
}

// aliasesOn is the container's aliases on network name: --network-alias on
// the network it was created on, `network connect --alias` on the others.
func aliasesOn(c *Container, name string) []string {
	if name == c.HostConfig.NetworkMode {
		return c.HostConfig.Aliases
	}
	if ep := c.NetworkSettings.Networks[name]; ep != nil {
		return ep.Aliases
	}
	return nil
}
