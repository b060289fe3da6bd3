package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/volume"
)

// Bundle is a container ready for the runtime's create.
type Bundle struct {
	Dir  string
	Spec *specs.Spec
}

// Prepare mounts the container's rootfs, fills its volumes, writes its /etc
// files, joins its networks and writes the OCI bundle. The monitor calls it
// before each (re)start; Cleanup undoes it.
func (e *Engine) Prepare(ctx context.Context, c *Container) (_ *Bundle, retErr error) {
	run := e.store.runDir(c.ID)
	if e.lean() && (c.Rootfs == "" || (c.HostConfig.NetworkMode != "none" && c.HostConfig.NetworkMode != "host")) {
		if err := e.runHelper(ctx, HelperPrepare, c.ID); err != nil {
			return nil, err
		}
		spec, err := LoadBundleSpec(run)
		if err != nil {
			return nil, err
		}
		return &Bundle{Dir: run, Spec: spec}, nil
	}
	rootfs := filepath.Join(run, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			e.Cleanup(ctx, c)
		}
	}()
	if err := e.mountRootfs(ctx, c, rootfs); err != nil {
		return nil, fmt.Errorf("mounting rootfs: %w", err)
	}
	var mounts []specs.Mount
	for _, m := range c.Mounts {
		switch m.Type {
		case "volume":
			if err := fillVolume(rootfs, m); err != nil {
				return nil, err
			}
			fallthrough
		case "bind":
			st, err := os.Stat(m.Source)
			if err != nil {
				return nil, fmt.Errorf("mount source %s: %w", m.Source, errdefs.ErrInvalidArgument)
			}
			if !st.IsDir() {
				if f, err := os.OpenInRoot(rootfs, strings.TrimPrefix(m.Destination, "/")); err == nil {
					ist, _ := f.Stat()
					f.Close()
					if ist != nil && ist.IsDir() {
						return nil, fmt.Errorf("cannot mount file %s onto directory %s: %w", m.Source, m.Destination, errdefs.ErrInvalidArgument)
					}
				}
			}
			opts := []string{"rbind", "rprivate"}
			if !m.RW {
				opts = append(opts, "ro")
			}
			mounts = append(mounts, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts})
		case "tmpfs":
			opts := []string{"nosuid", "nodev", "noexec"}
			if m.Mode != "" {
				opts = append(opts, strings.Split(m.Mode, ",")...)
			}
			if !m.RW {
				opts = append(opts, "ro")
			}
			mounts = append(mounts, specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts})
		}
	}
	netns, hostNet, err := e.setupNetwork(ctx, c)
	if err != nil {
		return nil, err
	}
	spec, err := buildSpec(specInput{c: c, rootfs: rootfs, etcDir: e.store.dir(c.ID), mounts: mounts, netns: netns, hostNet: hostNet})
	if err != nil {
		return nil, err
	}
	b, err := marshalSpec(spec)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(run, "config.json"), b, 0o600, false); err != nil {
		return nil, err
	}
	e.emitVolumeMounts(c)
	return &Bundle{Dir: run, Spec: spec}, nil
}

// fillVolume copies the image's content at the mount point into an empty volume.
func fillVolume(rootfs string, m MountPoint) error {
	f, err := os.OpenInRoot(rootfs, strings.TrimPrefix(m.Destination, "/"))
	if err != nil {
		return nil // nothing in the image there
	}
	defer f.Close()
	return volume.FillIfEmpty(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), m.Source)
}

func (e *Engine) mountRootfs(ctx context.Context, c *Container, target string) error {
	if c.Rootfs == "" {
		if e.opts.Images == nil {
			return fmt.Errorf("container %s needs the image store: %w", c.Name, errdefs.ErrUnavailable)
		}
		if vm, ok := e.opts.Images.(VolatileMounter); ok && c.HostConfig.AutoRemove {
			return vm.MountVolatile(ctx, c.ID, target)
		}
		return e.opts.Images.Mount(ctx, c.ID, target)
	}
	upper, work := filepath.Join(e.store.dir(c.ID), "upper"), filepath.Join(e.store.dir(c.ID), "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	opts := "lowerdir=" + c.Rootfs + ",upperdir=" + upper + ",workdir=" + work
	if c.HostConfig.AutoRemove {
		// Never synced (see VolatileMounter); kernels before 5.10 lack it.
		if unix.Mount("overlay", target, "overlay", 0, opts+",volatile") == nil {
			return nil
		}
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", target, err)
	}
	return nil
}

// Cleanup undoes Prepare: network, rootfs mount.
func (e *Engine) Cleanup(ctx context.Context, c *Container) {
	if e.lean() && e.hasNetNS(c.ID) && e.runHelper(ctx, HelperCleanup, c.ID) == nil {
		return
	}
	e.teardownNetwork(ctx, c)
	e.emitVolumeUnmounts(c)
	rootfs := filepath.Join(e.store.runDir(c.ID), "rootfs")
	for i := 0; i < 8; i++ {
		if err := unix.Unmount(rootfs, unix.MNT_DETACH); err != nil {
			break
		}
	}
}

// writeEtcFiles writes the container's /etc/hosts, /etc/hostname and /etc/resolv.conf.
func (e *Engine) writeEtcFiles(c *Container, hostNet bool) error {
	dir := e.store.dir(c.ID)
	hostname := c.Config.Hostname
	if hostNet {
		hostname, _ = os.Hostname()
	}
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	if hostNet {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts.Reset()
			hosts.Write(b)
		}
	}
	resolv := hostResolvConf(hostNet)
	for name, data := range map[string]string{"hosts": hosts.String(), "hostname": hostname + "\n", "resolv.conf": resolv} {
		if err := writeFile(filepath.Join(dir, name), []byte(data), 0o644, false); err != nil {
			return err
		}
	}
	return nil
}

// hostResolvConf is the host's resolv.conf; on a private network namespace,
// loopback resolvers cannot be reached, so they are dropped (docker does the same).
func hostResolvConf(hostNet bool) string {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return ""
	}
	if hostNet {
		return string(b)
	}
	var out []string
	servers := 0
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil && ip.IsLoopback() {
				continue
			}
			servers++
		}
		out = append(out, l)
	}
	s := strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
	if servers == 0 {
		s += "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
	}
	return s
}

// repair brings the record of a container whose monitor died back to the
// truth, and restarts it when its policy says so.
func (e *Engine) repair(ctx context.Context, id string) (*Container, error) {
	restart := false
	c, err := e.Update(id, func(c *Container) error {
		if !(c.State.Running || c.State.Restarting) || e.MonitorAlive(id) {
			return nil
		}
		rt := e.RuntimeFor(c)
		code := 255
		if st, err := rt.State(ctx, id); err == nil {
			if st.Status == "running" || st.Status == "created" || st.Status == "paused" {
				rt.Kill(ctx, id, syscall.SIGKILL, true)
				code = 137
				deadline := time.Now().Add(5 * time.Second)
				for time.Now().Before(deadline) {
					if st, err := rt.State(ctx, id); err != nil || st.Status == "stopped" {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			rt.Delete(ctx, id, true)
		} else {
			// The runtime lost its state: whatever is left in the
			// container's cgroup is killed directly.
			for _, pid := range CgroupPids(id) {
				unix.Kill(pid, unix.SIGKILL)
				code = 137
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(CgroupPids(id)) > 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			removeCgroups(id)
		}
		e.Cleanup(ctx, c)
		c.ClearNetwork()
		c.State.Running, c.State.Restarting, c.State.Paused, c.State.Pid, c.State.MonitorPid = false, false, false, 0, 0
		c.State.Status = StatusExited
		c.State.ExitCode = code
		c.State.Error = "the container's monitor died"
		c.State.FinishedAt = time.Now().UTC()
		if c.State.Health != nil {
			c.State.Health.Status = HealthUnhealthy
		}
		restart = ShouldRestart(c, code)
		return nil
	})
	if err != nil {
		return c, err
	}
	if restart && !c.HostConfig.AutoRemove {
		if err := e.launch(ctx, id, false, nil); err != nil {
			return c, fmt.Errorf("restarting %s after its monitor died: %w", c.Name, err)
		}
		return e.store.load(id)
	}
	if c.HostConfig.AutoRemove {
		e.RemoveStopped(ctx, id, true)
		return nil, fmt.Errorf("no such container: %s: %w", id, errdefs.ErrNotFound)
	}
	return c, nil
}

// ShouldRestart applies the container's restart policy to an exit.
func ShouldRestart(c *Container, exitCode int) bool {
	if c.State.Status == StatusRemoving {
		return false
	}
	switch c.HostConfig.RestartPolicy.Name {
	case "always":
		return !c.ManuallyStopped
	case "unless-stopped":
		return !c.ManuallyStopped
	case "on-failure":
		max := c.HostConfig.RestartPolicy.MaximumRetryCount
		return !c.ManuallyStopped && exitCode != 0 && (max == 0 || c.RestartCount < max)
	}
	return false
}

// syncMsg is the monitor's first report to whoever started it.
type syncMsg struct {
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
}

// WriteSync reports the monitor's start result (err nil: running) on w.
func WriteSync(w io.Writer, err error) {
	m := syncMsg{}
	if err != nil {
		m.Error, m.Code = err.Error(), errdefs.ExitCode(err)
		if m.Code == 1 {
			m.Code = 125
		}
	}
	json.NewEncoder(w).Encode(m)
}

// ReadSync waits for the monitor's report.
func ReadSync(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return &errdefs.ExitError{Code: 125, Err: errors.New("the container's monitor exited before it reported: see monitor.log in the container's run directory")}
	}
	var m syncMsg
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("monitor report %q: %w", b, err)
	}
	if m.Error != "" {
		return &errdefs.ExitError{Code: m.Code, Err: errors.New(m.Error)}
	}
	return nil
}

func saveJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o600)
}

func loadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// linuxSpec is how a Linux spec is written: the platforms berth never
// fills are shadowed by always-empty fields, so encoding/json does not
// build their codecs (it builds the codecs of every type reachable from
// the one it encodes, in each process, and the spec is the largest type
// `run` encodes). The output is the plain spec's.
type linuxSpec struct {
	*specs.Spec
	Solaris json.RawMessage `json:"solaris,omitempty"`
	Windows json.RawMessage `json:"windows,omitempty"`
	VM      json.RawMessage `json:"vm,omitempty"`
	ZOS     json.RawMessage `json:"zos,omitempty"`
	FreeBSD json.RawMessage `json:"freebsd,omitempty"`
}

// marshalSpec encodes spec as json.Marshal does.
func marshalSpec(spec *specs.Spec) ([]byte, error) {
	if spec.Solaris != nil || spec.Windows != nil || spec.VM != nil || spec.ZOS != nil || spec.FreeBSD != nil {
		return json.Marshal(spec)
	}
	return json.Marshal(linuxSpec{Spec: spec})
}
