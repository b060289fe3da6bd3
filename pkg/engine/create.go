package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/volume"
)

// ImageStore is what the engine needs from the image store: resolving a
// reference to an image config, and a writable rootfs snapshot on top of it.
type ImageStore interface {
	Resolve(ctx context.Context, ref string) (*Image, error)
	// Prepare makes the writable snapshot key on top of img (and marks img
	// as in use by key).
	Prepare(ctx context.Context, key string, img *Image) error
	// Mount mounts snapshot key on target.
	Mount(ctx context.Context, key, target string) error
	// Remove deletes snapshot key and ends its use of image imageID.
	Remove(ctx context.Context, key, imageID string) error
}

// VolatileMounter is an ImageStore that can mount a rootfs whose writable
// layer is never synced to disk (overlayfs "volatile"). The engine uses it
// for --rm containers: their writable layer does not outlive them, and
// skipping the sync saves the unmount's syncfs of the whole upper
// filesystem, which costs up to hundreds of milliseconds on a busy disk.
type VolatileMounter interface {
	MountVolatile(ctx context.Context, key, target string) error
}

// EphemeralPreparer is an ImageStore that can prepare the rootfs of a
// container that does not outlive a crash (--rm) without making its records
// durable: no fsync of the image hold or the snapshot record. After a crash
// the engine's repair removes such a container and its snapshot.
type EphemeralPreparer interface {
	PrepareEphemeral(ctx context.Context, key string, img *Image) error
}

// Image is a resolved image.
type Image struct {
	ID      string // config digest
	Ref     string // the reference as resolved
	ChainID string // top layer's chain ID
	Config  ImageConfig
}

// ImageConfig is the part of an image's config that running it honours.
type ImageConfig struct {
	User         string
	Env          []string
	Entrypoint   []string
	Cmd          []string
	WorkingDir   string
	Labels       map[string]string
	StopSignal   string
	ExposedPorts map[string]struct{}
	Volumes      map[string]struct{}
	Healthcheck  *HealthConfig
}

// CreateRequest is what a user asks `create` or `run` for.
type CreateRequest struct {
	Name string
	// Image is the image reference; Rootfs, when set, is a directory used
	// as the read-only base of the container's rootfs instead of an image.
	Image  string
	Rootfs string
	// Config holds the user's settings; Config.Cmd is the command after IMAGE.
	Config Config
	// EntrypointSet tells an empty --entrypoint "" from no --entrypoint.
	EntrypointSet bool
	HostConfig    HostConfig
	// IPv4Address is a static address on the container's network (--ip).
	IPv4Address string
	// IPv6Address is a static IPv6 address there (--ip6).
	IPv6Address string
}

// Create records a new container; nothing runs until Start.
func (e *Engine) Create(ctx context.Context, req CreateRequest) (_ *Container, retErr error) {
	img, err := e.resolveImage(ctx, req)
	if err != nil {
		return nil, err
	}
	id := newID()
	name := strings.TrimPrefix(req.Name, "/")
	if name == "" {
		name = randomName()
	} else if !validName(name) {
		return nil, fmt.Errorf("invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", name, errdefs.ErrInvalidArgument)
	}
	c := &Container{
		ID: id, Name: name, Created: time.Now().UTC(), Image: img.ID, ImageRef: req.Image, Rootfs: req.Rootfs,
		Config: mergeConfig(req, img), HostConfig: req.HostConfig,
		State: State{Status: StatusCreated},
	}
	if c.Config.Hostname == "" {
		c.Config.Hostname = id[:12]
	}
	if req.Rootfs != "" {
		c.Config.Image = req.Rootfs
	}
	if len(c.Config.Entrypoint)+len(c.Config.Cmd) == 0 {
		return nil, fmt.Errorf("no command specified: %w", errdefs.ErrInvalidArgument)
	}
	full := append(append([]string{}, c.Config.Entrypoint...), c.Config.Cmd...)
	c.Path, c.Args = full[0], full[1:]
	if c.HostConfig.NetworkMode == "" || c.HostConfig.NetworkMode == "default" {
		c.HostConfig.NetworkMode = "bridge"
	}
	if err := e.checkNetwork(ctx, c, req.IPv4Address); err != nil {
		return nil, err
	}
	if err := e.checkIP6(ctx, c, req.IPv6Address); err != nil {
		return nil, err
	}
	if p := c.HostConfig.RestartPolicy.Name; c.HostConfig.AutoRemove && p != "" && p != "no" {
		return nil, fmt.Errorf("conflicting options: cannot specify both --restart and --rm: %w", errdefs.ErrInvalidArgument)
	}
	if c.HostConfig.LogConfig.Type == "" {
		c.HostConfig.LogConfig.Type = "json-file"
	}
	if _, err := logRotation(c.HostConfig.LogConfig); err != nil {
		return nil, err
	}
	if c.HostConfig.Runtime == "" {
		c.HostConfig.Runtime = e.opts.Runtime
	}
	if err := checkResources(c.HostConfig); err != nil {
		return nil, err
	}
	if err := checkCapabilities(c.HostConfig); err != nil {
		return nil, err
	}
	if _, err := rlimits(c.HostConfig.Ulimits); err != nil {
		return nil, err
	}
	if err := e.reservePorts(c); err != nil {
		return nil, err
	}
	c.LogPath = filepath.Join(e.store.dir(id), id+"-json.log")

	if err := e.store.reserveName(name, id); err != nil {
		return nil, err
	}
	var made []string // anonymous volumes made here, removed on failure
	defer func() {
		if retErr != nil {
			for _, v := range made {
				e.removeVolume(v)
			}
			if req.Rootfs == "" && e.opts.Images != nil {
				e.opts.Images.Remove(ctx, id, img.ID)
			}
			os.RemoveAll(e.store.dir(id))
			os.RemoveAll(e.store.runDir(id))
			e.store.releaseName(name, id)
		}
	}()
	if err := os.MkdirAll(e.store.dir(id), 0o700); err != nil {
		return nil, err
	}
	mounts, err := e.planMounts(c, &made)
	if err != nil {
		return nil, err
	}
	c.Mounts = mounts
	if req.Rootfs == "" {
		prepare := e.opts.Images.Prepare
		if ep, ok := e.opts.Images.(EphemeralPreparer); ok && c.HostConfig.AutoRemove {
			prepare = ep.PrepareEphemeral
		}
		if err := prepare(ctx, id, img); err != nil {
			return nil, fmt.Errorf("preparing rootfs of %s: %w", name, err)
		}
	}
	if err := e.store.save(c); err != nil {
		return nil, err
	}
	e.EmitContainer(c, "create", nil)
	return c, nil
}

func (e *Engine) resolveImage(ctx context.Context, req CreateRequest) (*Image, error) {
	if req.Rootfs != "" {
		st, err := os.Stat(req.Rootfs)
		if err != nil || !st.IsDir() {
			return nil, fmt.Errorf("rootfs %s is not a directory: %w", req.Rootfs, errdefs.ErrInvalidArgument)
		}
		abs, err := filepath.Abs(req.Rootfs)
		if err != nil {
			return nil, err
		}
		return &Image{ID: "rootfs:" + abs, Ref: abs}, nil
	}
	if req.Image == "" {
		return nil, fmt.Errorf("an image (or --rootfs) is required: %w", errdefs.ErrInvalidArgument)
	}
	if e.opts.Images == nil {
		return nil, fmt.Errorf("no image store in this build: run from a directory with --rootfs DIR: %w", errdefs.ErrNotImplemented)
	}
	img, err := e.opts.Images.Resolve(ctx, req.Image)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, fmt.Errorf("unable to find image %q locally: pull it first with `berth pull %s` (or `berth import ROOTFS.tar %s`): %w", req.Image, req.Image, req.Image, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("resolving image %q: %w", req.Image, err)
	}
	return img, nil
}

// mergeConfig lays the user's settings over the image's config as docker does.
func mergeConfig(req CreateRequest, img *Image) Config {
	u, ic := req.Config, img.Config
	c := u
	c.Image = req.Image
	c.Env = mergeEnv(ic.Env, u.Env)
	if req.EntrypointSet {
		c.Entrypoint = u.Entrypoint
		if len(c.Entrypoint) == 1 && c.Entrypoint[0] == "" {
			c.Entrypoint = nil
		}
	} else {
		c.Entrypoint = ic.Entrypoint
	}
	if len(u.Cmd) == 0 && !req.EntrypointSet {
		c.Cmd = ic.Cmd
	}
	if c.WorkingDir == "" {
		c.WorkingDir = ic.WorkingDir
	}
	if c.User == "" {
		c.User = ic.User
	}
	if c.StopSignal == "" {
		c.StopSignal = ic.StopSignal
	}
	c.Labels = map[string]string{}
	for k, v := range ic.Labels {
		c.Labels[k] = v
	}
	for k, v := range u.Labels {
		c.Labels[k] = v
	}
	if len(ic.ExposedPorts)+len(u.ExposedPorts) > 0 {
		c.ExposedPorts = map[string]struct{}{}
		for p := range ic.ExposedPorts {
			c.ExposedPorts[p] = struct{}{}
		}
		for p := range u.ExposedPorts {
			c.ExposedPorts[p] = struct{}{}
		}
	}
	c.Volumes = ic.Volumes
	c.Healthcheck = mergeHealth(ic.Healthcheck, u.Healthcheck)
	return c
}

func mergeHealth(img, user *HealthConfig) *HealthConfig {
	if user == nil {
		return img
	}
	if img == nil {
		img = &HealthConfig{}
	}
	h := *img
	if len(user.Test) > 0 {
		h.Test = user.Test
	}
	if user.Interval != 0 {
		h.Interval = user.Interval
	}
	if user.Timeout != 0 {
		h.Timeout = user.Timeout
	}
	if user.StartPeriod != 0 {
		h.StartPeriod = user.StartPeriod
	}
	if user.Retries != 0 {
		h.Retries = user.Retries
	}
	if len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil
	}
	return &h
}

// planMounts checks -v, --mount and --tmpfs and creates the volumes they
// name, plus an anonymous volume for each image VOLUME not otherwise covered.
func (e *Engine) planMounts(c *Container, made *[]string) ([]MountPoint, error) {
	var specsList []MountSpec
	for _, b := range c.HostConfig.Binds {
		ms, err := ParseVolumeFlag(b)
		if err != nil {
			return nil, err
		}
		specsList = append(specsList, ms)
	}
	specsList = append(specsList, c.HostConfig.Mounts...)
	for dst, opts := range c.HostConfig.Tmpfs {
		ms := MountSpec{Type: "tmpfs", Target: dst}
		if opts != "" {
			ms.Options = strings.Split(opts, ",")
		}
		specsList = append(specsList, ms)
	}
	seen := map[string]bool{}
	var out []MountPoint
	for _, ms := range specsList {
		dst := filepath.Clean(ms.Target)
		if !filepath.IsAbs(ms.Target) {
			return nil, fmt.Errorf("invalid mount config: the mount destination %q must be an absolute path: %w", ms.Target, errdefs.ErrInvalidArgument)
		}
		if dst == "/" {
			return nil, fmt.Errorf("invalid mount config: the destination cannot be \"/\": %w", errdefs.ErrInvalidArgument)
		}
		if seen[dst] {
			return nil, fmt.Errorf("duplicate mount point: %s: %w", dst, errdefs.ErrInvalidArgument)
		}
		seen[dst] = true
		mp := MountPoint{Type: ms.Type, Destination: dst, RW: !ms.ReadOnly, Mode: strings.Join(ms.Options, ",")}
		switch ms.Type {
		case "bind":
			st, err := os.Stat(ms.Source)
			if err != nil {
				return nil, fmt.Errorf("invalid mount config for type \"bind\": bind source path does not exist: %s: %w", ms.Source, errdefs.ErrInvalidArgument)
			}
			if c.Rootfs != "" && !st.IsDir() {
				if ist, err := os.Stat(filepath.Join(c.Rootfs, dst)); err == nil && ist.IsDir() {
					return nil, fmt.Errorf("cannot mount file %s onto directory %s of the image: %w", ms.Source, dst, errdefs.ErrInvalidArgument)
				}
			}
			mp.Source = ms.Source
		case "volume":
			anon := ms.Source == ""
			if !anon {
				if _, err := e.volumes.Get(ms.Source); err != nil {
					if _, err := e.CreateVolume(ms.Source, nil, false); err != nil {
						return nil, err
					}
				}
			}
			v, err := e.CreateVolume(ms.Source, nil, anon)
			if err != nil {
				return nil, err
			}
			if anon {
				*made = append(*made, v.Name)
			}
			mp.Name, mp.Source, mp.Anonymous = v.Name, v.Mountpoint, anon
		case "tmpfs":
			if ms.Source != "" {
				return nil, fmt.Errorf("invalid mount config for type \"tmpfs\": a tmpfs takes no source: %w", errdefs.ErrInvalidArgument)
			}
		default:
			return nil, fmt.Errorf("invalid mount type %q: want bind, volume or tmpfs: %w", ms.Type, errdefs.ErrInvalidArgument)
		}
		out = append(out, mp)
	}
	var imgVols []string
	for v := range c.Config.Volumes {
		imgVols = append(imgVols, v)
	}
	sort.Strings(imgVols)
	for _, dst := range imgVols {
		dst = filepath.Clean(dst)
		if seen[dst] || !filepath.IsAbs(dst) {
			continue
		}
		v, err := e.CreateVolume("", nil, true)
		if err != nil {
			return nil, err
		}
		*made = append(*made, v.Name)
		out = append(out, MountPoint{Type: "volume", Name: v.Name, Source: v.Mountpoint, Destination: dst, RW: true, Anonymous: true})
	}
	return out, nil
}

// ParseVolumeFlag parses -v SRC:DST[:OPTS] or -v DST (an anonymous volume).
func ParseVolumeFlag(s string) (MountSpec, error) {
	parts := strings.Split(s, ":")
	var ms MountSpec
	switch len(parts) {
	case 1:
		ms = MountSpec{Type: "volume", Target: parts[0]}
	case 2, 3:
		ms = MountSpec{Source: parts[0], Target: parts[1]}
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro":
					ms.ReadOnly = true
				case "rw", "z", "Z", "":
				default:
					return ms, fmt.Errorf("invalid mode: %s: %w", o, errdefs.ErrInvalidArgument)
				}
			}
		}
		switch {
		case filepath.IsAbs(ms.Source):
			ms.Type = "bind"
		case volume.ValidName(ms.Source):
			ms.Type = "volume"
		default:
			return ms, fmt.Errorf("invalid volume specification %q: %q is neither an absolute path nor a volume name: %w", s, ms.Source, errdefs.ErrInvalidArgument)
		}
	default:
		return ms, fmt.Errorf("invalid volume specification: %q: %w", s, errdefs.ErrInvalidArgument)
	}
	if ms.Target == "" {
		return ms, fmt.Errorf("invalid volume specification: %q: %w", s, errdefs.ErrInvalidArgument)
	}
	return ms, nil
}

// ParseMountFlag parses --mount type=...,source=...,target=...[,readonly].
func ParseMountFlag(s string) (MountSpec, error) {
	ms := MountSpec{Type: "volume"}
	for _, f := range strings.Split(s, ",") {
		k, v, hasV := strings.Cut(f, "=")
		switch strings.ToLower(k) {
		case "type":
			ms.Type = v
		case "source", "src":
			ms.Source = v
		case "target", "destination", "dst":
			ms.Target = v
		case "readonly", "ro":
			ms.ReadOnly = !hasV || v == "true" || v == "1"
		case "tmpfs-size":
			ms.Options = append(ms.Options, "size="+v)
		case "tmpfs-mode":
			ms.Options = append(ms.Options, "mode="+v)
		case "bind-propagation", "consistency", "volume-nocopy":
		default:
			return ms, fmt.Errorf("invalid field %q in --mount %q: %w", k, s, errdefs.ErrInvalidArgument)
		}
	}
	if ms.Target == "" {
		return ms, fmt.Errorf("invalid --mount %q: target is required: %w", s, errdefs.ErrInvalidArgument)
	}
	if ms.Type == "bind" && !filepath.IsAbs(ms.Source) {
		return ms, fmt.Errorf("invalid --mount %q: a bind source must be an absolute path: %w", s, errdefs.ErrInvalidArgument)
	}
	return ms, nil
}
