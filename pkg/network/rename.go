package network

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/berth/berth/pkg/errdefs"
)

// Rename changes the name under which a container is known on every
// network it is attached to, and rewrites the members' hosts files, so
// that its peers resolve the new name (and no longer the old one).
func (m *Manager) Rename(ctx context.Context, containerID, name string) error {
	if !idRE().MatchString(containerID) {
		return fmt.Errorf("rename: container ID %q: %w", containerID, errdefs.ErrInvalidArgument)
	}
	if err := validName("container", name); err != nil {
		return err
	}
	nets, err := m.List(ctx)
	if err != nil {
		return err
	}
	for _, n := range nets {
		if err := m.renameOn(n, containerID, name); err != nil {
			return fmt.Errorf("renaming container %s on network %s: %w", containerID, n.Name, err)
		}
	}
	return nil
}

func (m *Manager) renameOn(n *Network, containerID, name string) error {
	l, eps, err := m.lockedEndpoints(n.ID)
	if err != nil {
		return err
	}
	defer l.Unlock()
	ep, ok := eps[containerID]
	if !ok || ep.Name == name {
		return nil
	}
	ep.Name = name
	ep.Hosts = hostEntries(sortedEndpoints(eps), ep, n.Discovery())
	if err := m.putEndpoint(n.ID, ep); err != nil {
		return err
	}
	if n.Discovery() {
		m.syncHosts(n, eps, nil)
	} else if ep.HostsPath != "" {
		if err := updateHostsFile(ep.HostsPath, n.Name, ep.Hosts); err != nil {
			slog.Warn("updating hosts file", "network", n.Name, "container", containerID, "err", err)
		}
	}
	return nil
}
