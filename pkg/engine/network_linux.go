package engine

import (
	"log/slog"

	"context"
	"fmt"
	"github.com/berth/berth/pkg/errdefs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// setupNetwork gives the container its network: nothing for host, a new
// namespace with loopback for none (the runtime makes it), and for bridge
// networks a namespace berth creates and pins, attached by the network
// manager. It writes the container's /etc files too.
func (e *Engine) setupNetwork(ctx context.Context, c *Container) (netns string, hostNet bool, err error) {
	mode := c.HostConfig.NetworkMode
	hostNet = mode == "host"
	if err := e.writeEtcFiles(c, hostNet); err != nil {
		return "", false, err
	}
	if mode == "host" || mode == "none" {
		return "", hostNet, nil
	}
	if e.opts.Network == nil {
		return "", false, fmt.Errorf("network %s: no network support in this build: %w", mode, errdefs.ErrNotImplemented)
	}
	netns = filepath.Join(e.store.runDir(c.ID), "netns")
	unix.Unmount(netns, unix.MNT_DETACH)
	os.Remove(netns)
	if err := newNetNS(netns); err != nil {
		return "", false, fmt.Errorf("creating network namespace: %w", err)
	}
	for i, name := range append([]string{mode}, c.ExtraNetworks...) {
		if err := e.attachNetwork(ctx, c, name, netns, i == 0); err != nil {
			return "", false, err
		}
	}
	return netns, false, nil
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

// attachNetwork joins the container's namespace to one network; the
// primary network also publishes ports and sets the container's DNS.
func (e *Engine) attachNetwork(ctx context.Context, c *Container, name, netns string, primary bool) error {
	var ports []PortMapping
	if primary {
		ports = publishedPorts(c)
	}
	hostsPath := filepath.Join(e.store.dir(c.ID), "hosts")
	att, err := e.opts.Network.Attach(ctx, AttachRequest{Network: name, ContainerID: c.ID, Name: c.Name,
		Aliases: c.HostConfig.Aliases, NetNSPath: netns, Ports: ports, HostsPath: hostsPath})
	if err != nil {
		return fmt.Errorf("attaching to network %s: %w", name, err)
	}
	if att.IP != "" {
		if err := appendInPlace(hostsPath, fmt.Sprintf("%s\t%s\n", att.IP, c.Config.Hostname)); err != nil {
			return err
		}
	}
	if primary && len(att.DNS) > 0 {
		var b strings.Builder
		for _, ns := range att.DNS {
			fmt.Fprintf(&b, "nameserver %s\n", ns)
		}
		if len(att.Search) > 0 {
			fmt.Fprintf(&b, "search %s\n", strings.Join(att.Search, " "))
		}
		if len(att.Options) > 0 {
			fmt.Fprintf(&b, "options %s\n", strings.Join(att.Options, " "))
		}
		if err := writeFile(filepath.Join(e.store.dir(c.ID), "resolv.conf"), []byte(b.String()), 0o644, false); err != nil {
			return err
		}
	}
	_, err = e.Update(c.ID, func(rec *Container) error {
		rec.NetworkSettings.SandboxKey = netns
		if rec.NetworkSettings.Networks == nil {
			rec.NetworkSettings.Networks = map[string]*EndpointSettings{}
		}
		rec.NetworkSettings.Networks[name] = &EndpointSettings{NetworkID: att.NetworkID, IPAddress: att.IP,
			IPPrefixLen: att.PrefixLen, Gateway: att.Gateway, MacAddress: att.MAC, Aliases: c.HostConfig.Aliases}
		if primary {
			published := PortMap{}
			for _, p := range att.Ports {
				key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
				published[key] = append(published[key], PortBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(p.HostPort)})
			}
			rec.NetworkSettings.Ports = published
		}
		return nil
	})
	return err
}

// Connect attaches a container to another network: at once when it runs,
// and at every start.
func (e *Engine) Connect(ctx context.Context, ref, name string) error {
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
	if c.State.Running {
		if err := e.attachNetwork(ctx, c, name, c.NetworkSettings.SandboxKey, false); err != nil {
			return err
		}
	}
	_, err = e.Update(c.ID, func(rec *Container) error {
		rec.ExtraNetworks = append(rec.ExtraNetworks, name)
		if rec.NetworkSettings.Networks == nil {
			rec.NetworkSettings.Networks = map[string]*EndpointSettings{}
		}
		if rec.NetworkSettings.Networks[name] == nil {
			rec.NetworkSettings.Networks[name] = &EndpointSettings{}
		}
		return nil
	})
	return err
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

// teardownNetwork detaches the container and drops its namespace.
func (e *Engine) teardownNetwork(ctx context.Context, c *Container) {
	netns := filepath.Join(e.store.runDir(c.ID), "netns")
	if _, err := os.Stat(netns); err != nil {
		return
	}
	if e.opts.Network != nil {
		for _, name := range append([]string{c.HostConfig.NetworkMode}, c.ExtraNetworks...) {
			if err := e.opts.Network.Detach(ctx, name, c.ID); err != nil {
				slog.Warn("detaching from network", "container", c.ID, "network", name, "err", err)
			}
		}
	}

	unix.Unmount(netns, unix.MNT_DETACH)
	os.Remove(netns)
}

// newNetNS creates a network namespace and pins it by a bind mount at path.
func newNetNS(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it ends with the goroutine, so
		// nothing else runs in the new namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		errc <- unix.Mount(src, path, "", unix.MS_BIND, "")
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
