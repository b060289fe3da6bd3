// Package backend plugs berth's image store (pkg/image) and network manager
// (pkg/network) into the engine. It lives apart from pkg/engine so that the
// container monitor, which links the engine, stays free of both.
package backend

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/image"
	"github.com/berth/berth/pkg/network"
	"github.com/berth/berth/pkg/snapshot"
)

// Images serves the engine from berth's image store: images resolve
// by reference, and each container's rootfs is a writable snapshot (keyed
// by the container ID) on top of the image's top layer. A container holds
// its image so that `image rm` refuses to remove it.
type Images struct{ Store *image.Store }

var (
	_ engine.ImageStore        = Images{}
	_ engine.VolatileMounter   = Images{}
	_ engine.EphemeralPreparer = Images{}
)

// Resolve implements ImageStore.
func (s Images) Resolve(ctx context.Context, ref string) (*engine.Image, error) {
	img, err := s.Store.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := &engine.Image{ID: img.ID.String(), Ref: ref, ChainID: img.ChainID.String()}
	if img.Config != nil {
		c := img.Config.Config
		out.Config = engine.ImageConfig{User: c.User, Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd, WorkingDir: c.WorkingDir,
			Labels: c.Labels, StopSignal: c.StopSignal, ExposedPorts: c.ExposedPorts, Volumes: c.Volumes}
		if h := c.Healthcheck; h != nil {
			out.Config.Healthcheck = &engine.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		}
	}
	return out, nil
}

// Prepare implements ImageStore.
func (s Images) Prepare(ctx context.Context, key string, img *engine.Image) error {
	return s.prepare(ctx, key, img, true)
}

// PrepareEphemeral implements EphemeralPreparer: the hold and the snapshot
// record of a --rm container are not fsynced.
func (s Images) PrepareEphemeral(ctx context.Context, key string, img *engine.Image) error {
	return s.prepare(ctx, key, img, false)
}

func (s Images) prepare(ctx context.Context, key string, img *engine.Image, durable bool) error {
	id, err := digest.Parse(img.ID)
	if err != nil {
		return err
	}
	hold, prepare := s.Store.Hold, s.Store.Snapshots().Prepare
	if !durable {
		hold, prepare = s.Store.HoldVolatile, s.Store.Snapshots().PrepareVolatile
	}
	if err := hold(ctx, id, key); err != nil {
		return err
	}
	if _, err := prepare(ctx, key, digest.Digest(img.ChainID)); err != nil {
		s.Store.Release(ctx, id, key)
		return err
	}
	return nil
}

// Mount implements ImageStore.
func (s Images) Mount(ctx context.Context, key, target string) error {
	ms, err := s.Store.Snapshots().Mounts(ctx, key)
	if err != nil {
		return err
	}
	return snapshot.MountAll(ms, target)
}

// MountVolatile implements VolatileMounter: the snapshot's overlay is
// mounted with "volatile" (no syncfs of the writable layer, at unmount
// either), falling back to a plain mount on kernels without it (< 5.10).
func (s Images) MountVolatile(ctx context.Context, key, target string) error {
	ms, err := s.Store.Snapshots().Mounts(ctx, key)
	if err != nil {
		return err
	}
	vms := make([]snapshot.Mount, len(ms))
	copy(vms, ms)
	for i := range vms {
		if vms[i].Type == "overlay" {
			vms[i].Options = append(append([]string{}, vms[i].Options...), "volatile")
		}
	}
	if err := snapshot.MountAll(vms, target); err == nil {
		return nil
	}
	return snapshot.MountAll(ms, target)
}

// Remove implements ImageStore.
func (s Images) Remove(ctx context.Context, key, imageID string) error {
	err := s.Store.Snapshots().Remove(ctx, key)
	if id, perr := digest.Parse(imageID); perr == nil {
		s.Store.Release(ctx, id, key)
	}
	return err
}

// Networks serves the engine from berth's network manager.
type Networks struct{ Manager *network.Manager }

var (
	_ engine.Network        = Networks{}
	_ engine.Releaser       = Networks{}
	_ engine.AddressChecker = Networks{}
)

// Attach implements Network.
func (n Networks) Attach(ctx context.Context, req engine.AttachRequest) (*engine.Attachment, error) {
	nr := network.AttachRequest{Network: req.Network, ContainerID: req.ContainerID, Name: req.Name, Aliases: req.Aliases,
		NetNSPath: req.NetNSPath, HostsPath: req.HostsPath}
	if req.IP != "" {
		ip, err := netip.ParseAddr(req.IP)
		if err != nil {
			return nil, fmt.Errorf("invalid IPv4 address %q: %w", req.IP, errdefs.ErrInvalidArgument)
		}
		nr.IP = ip
	}
	if req.IP6 != "" {
		ip6, err := netip.ParseAddr(req.IP6)
		if err != nil {
			return nil, fmt.Errorf("invalid IPv6 address %q: %w", req.IP6, errdefs.ErrInvalidArgument)
		}
		nr.IP6 = ip6
	}
	if req.MAC != "" {
		mac, err := net.ParseMAC(req.MAC)
		if err != nil {
			return nil, fmt.Errorf("%s is not a valid mac address: %w", req.MAC, errdefs.ErrInvalidArgument)
		}
		nr.MAC = mac
	}
	for _, p := range req.Ports {
		pm := network.PortMapping{HostPort: uint16(p.HostPort), ContainerPort: uint16(p.ContainerPort), Protocol: p.Protocol}
		if p.HostIP != "" {
			ip, err := netip.ParseAddr(p.HostIP)
			if err != nil {
				return nil, fmt.Errorf("host ip %q: %w", p.HostIP, err)
			}
			pm.HostIP = ip
		}
		nr.Ports = append(nr.Ports, pm)
	}
	att, err := n.Manager.Attach(ctx, nr)
	if err != nil {
		return nil, err
	}
	out := &engine.Attachment{NetworkID: att.NetworkID, IP: att.IP.String(), PrefixLen: att.PrefixLen, MAC: att.MAC,
		DNS: att.DNS.Nameservers, Search: att.DNS.Search, Options: att.DNS.Options}
	if att.Gateway.IsValid() {
		out.Gateway = att.Gateway.String()
	}
	if att.IP6.IsValid() {
		out.IP6, out.PrefixLen6 = att.IP6.String(), att.PrefixLen6
		if att.Gateway6.IsValid() {
			out.Gateway6 = att.Gateway6.String()
		}
	}
	for _, p := range att.Ports {
		pm := engine.PortMapping{HostPort: int(p.HostPort), ContainerPort: int(p.ContainerPort), Protocol: p.Protocol}
		if p.HostIP.IsValid() {
			pm.HostIP = p.HostIP.String()
		}
		out.Ports = append(out.Ports, pm)
	}
	return out, nil
}

// Detach implements Network.
func (n Networks) Detach(ctx context.Context, name, containerID string) error {
	return n.Manager.Detach(ctx, name, containerID)
}

// Release implements Releaser.
func (n Networks) Release(ctx context.Context, name, containerID string) error {
	return n.Manager.Release(ctx, name, containerID)
}

// CheckAddress implements AddressChecker.
func (n Networks) CheckAddress(ctx context.Context, name, ip string) error {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return fmt.Errorf("invalid IPv4 address %q: %w", ip, errdefs.ErrInvalidArgument)
	}
	return n.Manager.CheckAddress(ctx, name, a)
}

// Exists implements Network.
func (n Networks) Exists(ctx context.Context, name string) bool {
	_, err := n.Manager.Get(ctx, name)
	return err == nil
}
