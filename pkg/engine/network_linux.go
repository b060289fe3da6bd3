package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// setupNetwork gives the container its network: nothing for host, a new
// namespace with loopback for none (the runtime makes it), and for bridge
// networks a namespace berth creates and pins, attached by pkg/network.
func (e *Engine) setupNetwork(ctx context.Context, c *Container) (netns string, hostNet bool, ips []string, err error) {
	mode := c.HostConfig.NetworkMode
	switch mode {
	case "host":
		return "", true, nil, nil
	case "none":
		return "", false, nil, nil
	}
	if e.opts.Network == nil {
		return "", false, nil, fmt.Errorf("network %s: no network support in this build", mode)
	}
	netns = filepath.Join(e.store.runDir(c.ID), "netns")
	if err := newNetNS(netns); err != nil {
		return "", false, nil, fmt.Errorf("creating network namespace: %w", err)
	}
	var ports []PortMapping
	for port, binds := range c.HostConfig.PortBindings {
		p, proto, _ := strings.Cut(port, "/")
		cp, _ := strconv.Atoi(p)
		for _, b := range binds {
			hp, _ := strconv.Atoi(b.HostPort)
			ports = append(ports, PortMapping{HostIP: b.HostIP, HostPort: hp, ContainerPort: cp, Protocol: proto})
		}
	}
	att, err := e.opts.Network.Attach(ctx, AttachRequest{Network: mode, ContainerID: c.ID, Name: c.Name,
		Aliases: c.HostConfig.Aliases, NetNSPath: netns, Ports: ports})
	if err != nil {
		return "", false, nil, fmt.Errorf("attaching to network %s: %w", mode, err)
	}
	e.Update(c.ID, func(rec *Container) error {
		rec.NetworkSettings.SandboxKey = netns
		rec.NetworkSettings.Networks = map[string]*EndpointSettings{mode: {NetworkID: att.NetworkID, IPAddress: att.IP,
			IPPrefixLen: att.PrefixLen, Gateway: att.Gateway, MacAddress: att.MAC, Aliases: c.HostConfig.Aliases}}
		rec.NetworkSettings.Ports = c.HostConfig.PortBindings
		return nil
	})
	if att.IP != "" {
		ips = append(ips, att.IP)
	}
	return netns, false, ips, nil
}

// teardownNetwork detaches the container and drops its namespace.
func (e *Engine) teardownNetwork(ctx context.Context, c *Container) {
	netns := filepath.Join(e.store.runDir(c.ID), "netns")
	if _, err := os.Stat(netns); err != nil {
		return
	}
	if e.opts.Network != nil {
		e.opts.Network.Detach(ctx, c.HostConfig.NetworkMode, c.ID)
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
