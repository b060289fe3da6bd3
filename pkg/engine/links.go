package engine

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// ParseMAC validates --mac-address as docker does, and refuses what no
// Ethernet device can have (multicast, all zeros); it returns the address
// in its canonical spelling.
func ParseMAC(s string) (string, error) {
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return "", fmt.Errorf("%s is not a valid mac address: %w", s, errdefs.ErrInvalidArgument)
	}
	if mac[0]&1 != 0 {
		return "", fmt.Errorf("%s is not a valid mac address: a multicast address (the first byte must be even): %w", s, errdefs.ErrInvalidArgument)
	}
	if mac.String() == "00:00:00:00:00:00" {
		return "", fmt.Errorf("%s is not a valid mac address: all zeros: %w", s, errdefs.ErrInvalidArgument)
	}
	return mac.String(), nil
}

// ParseLink reads --link NAME[:ALIAS]; the alias defaults to the name.
func ParseLink(s string) (name, alias string, err error) {
	name, alias, _ = strings.Cut(s, ":")
	name = strings.TrimPrefix(name, "/")
	if alias == "" {
		alias = name
	}
	if name == "" || !validName(name) || !validName(alias) {
		return "", "", fmt.Errorf("invalid link %q: want NAME[:ALIAS] with names of [a-zA-Z0-9][a-zA-Z0-9_.-]: %w", s, errdefs.ErrInvalidArgument)
	}
	return name, alias, nil
}

// linkParts splits a recorded link, "/NAME:/SELF/ALIAS".
func linkParts(l string) (name, alias string) {
	name, self, _ := strings.Cut(l, ":")
	return strings.TrimPrefix(name, "/"), self[strings.LastIndex(self, "/")+1:]
}

// checkLinks validates --link at create: the linked containers exist, and
// the network mode can carry links. Links are recorded in docker's form.
func (e *Engine) checkLinks(c *Container) error {
	h := &c.HostConfig
	if len(h.Links) == 0 {
		return nil
	}
	mode := h.NetworkMode
	switch {
	case mode == "host", mode == "none":
		return fmt.Errorf("conflicting options: %s type networking can't be used with links. This would result in undefined behavior: %w", mode, errdefs.ErrInvalidArgument)
	case strings.HasPrefix(mode, "container:"):
		return fmt.Errorf("conflicting options: container type network can't be used with links. This would result in undefined behavior: %w", errdefs.ErrInvalidArgument)
	}
	out := make([]string, 0, len(h.Links))
	for _, l := range h.Links {
		name, alias, err := ParseLink(l)
		if err != nil {
			return err
		}
		id, err := e.store.resolve(name)
		if err != nil {
			return fmt.Errorf("could not get container for %s: %w", name, err)
		}
		other, err := e.store.load(id)
		if err != nil {
			return fmt.Errorf("could not get container for %s: %w", name, err)
		}
		if other.ID == c.ID {
			return fmt.Errorf("cannot link a container to itself: %w", errdefs.ErrInvalidArgument)
		}
		out = append(out, "/"+other.Name+":/"+c.Name+"/"+alias)
	}
	h.Links = out
	return nil
}

// linkLines renders the /etc/hosts lines of c's links at start: each
// linked container must be running and on c's network, as in docker.
func (e *Engine) linkLines(ctx context.Context, c *Container) (string, error) {
	var b strings.Builder
	mode := c.HostConfig.NetworkMode
	for _, l := range c.HostConfig.Links {
		name, alias := linkParts(l)
		other, err := e.Load(ctx, name)
		if err != nil {
			return "", fmt.Errorf("could not get container for %s: %w", name, err)
		}
		if !other.State.Running {
			return "", fmt.Errorf("Cannot link to a non running container: /%s AS /%s/%s: %w", other.Name, c.Name, alias, errdefs.ErrConflict)
		}
		ep := other.NetworkSettings.Networks[mode]
		if ep == nil || ep.IPAddress == "" {
			what := "network " + mode
			if mode == "bridge" {
				what = "the default network"
			}
			return "", fmt.Errorf("Cannot link to /%s, as it does not belong to %s: %w", other.Name, what, errdefs.ErrConflict)
		}
		names := alias + " " + other.Config.Hostname
		if alias != other.Name {
			names += " " + other.Name
		}
		fmt.Fprintf(&b, "%s\t%s\n", ep.IPAddress, names)
	}
	return b.String(), nil
}
