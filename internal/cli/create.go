package cli

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth/berth/pkg/engine"
)

// createFlags are the flags run and create share.
type createFlags struct {
	name, workdir, user, hostname, network, restart, stopSignal, memory, memorySwap, cpusetCpus, rootfs, runtime   string
	entrypoint                                                                                                     string
	env, envFile, volumes, mounts, tmpfs, publish, labels, capAdd, capDrop, securityOpt, ulimits, logOpts, aliases []string
	expose                                                                                                         []string
	interactive, tty, rm, publishAll, privileged, readOnly, init, noHealthcheck                                    bool
	cpus                                                                                                           float64
	cpuShares, pidsLimit                                                                                           int64
	stopTimeout                                                                                                    int
	healthCmd                                                                                                      string
	healthInterval, healthTimeout, healthStart                                                                     time.Duration
	healthRetries                                                                                                  int
	net                                                                                                            netFlags
	res                                                                                                            resFlags
}

func addCreateFlags(fs *pflag.FlagSet, f *createFlags) {
	fs.SetInterspersed(false)
	fs.Bool("help", false, "help for this command") // -h is --hostname, as in docker
	fs.StringVar(&f.name, "name", "", "assign a name to the container")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open even if not attached")
	fs.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fs.BoolVar(&f.rm, "rm", false, "automatically remove the container when it exits")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set environment variables")
	fs.StringArrayVar(&f.envFile, "env-file", nil, "read in a file of environment variables")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "overwrite the default ENTRYPOINT of the image")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount a volume (SRC:DST[:ro])")
	fs.StringArrayVar(&f.mounts, "mount", nil, "attach a filesystem mount to the container")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs directory (DST[:OPTS])")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a container's port(s) to the host")
	fs.BoolVarP(&f.publishAll, "publish-all", "P", false, "publish all exposed ports to random ports")
	fs.StringArrayVar(&f.expose, "expose", nil, "expose a port or a range of ports")
	fs.StringVar(&f.network, "network", "", "connect a container to a network (none, host, bridge, a network name or container:NAME|ID)")
	fs.StringArrayVar(&f.aliases, "network-alias", nil, "add network-scoped alias for the container")
	addNetFlags(fs, &f.net)
	fs.StringVarP(&f.hostname, "hostname", "h", "", "container host name")
	fs.StringVarP(&f.memory, "memory", "m", "", "memory limit")
	fs.StringVar(&f.memorySwap, "memory-swap", "", "swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fs.Float64Var(&f.cpus, "cpus", 0, "number of CPUs")
	fs.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "tune container pids limit (-1 for unlimited)")
	addResourceFlags(fs, &f.res)
	fs.StringArrayVar(&f.ulimits, "ulimit", nil, "ulimit options (name=soft[:hard])")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "add Linux capabilities")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "drop Linux capabilities")
	fs.BoolVar(&f.privileged, "privileged", false, "give extended privileges to this container")
	fs.BoolVar(&f.readOnly, "read-only", false, "mount the container's root filesystem as read only")
	fs.StringArrayVar(&f.securityOpt, "security-opt", nil, "security options (no-new-privileges, seccomp=unconfined)")
	fs.StringVar(&f.restart, "restart", "no", "restart policy: no, on-failure[:max-retries], always, unless-stopped")
	fs.StringVar(&f.healthCmd, "health-cmd", "", "command to run to check health")
	fs.DurationVar(&f.healthInterval, "health-interval", 0, "time between running the check (default 30s)")
	fs.DurationVar(&f.healthTimeout, "health-timeout", 0, "maximum time to allow one check to run (default 30s)")
	fs.DurationVar(&f.healthStart, "health-start-period", 0, "start period for the container to initialize before counting retries")
	fs.IntVar(&f.healthRetries, "health-retries", 0, "consecutive failures needed to report unhealthy (default 3)")
	fs.BoolVar(&f.noHealthcheck, "no-healthcheck", false, "disable any container-specified HEALTHCHECK")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "signal to stop the container")
	fs.IntVar(&f.stopTimeout, "stop-timeout", -1, "timeout (in seconds) to stop a container")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "set meta data on a container")
	fs.BoolVar(&f.init, "init", false, "run an init inside the container that forwards signals and reaps processes")
	fs.StringArrayVar(&f.logOpts, "log-opt", nil, "log driver options (max-size=, max-file=)")
	fs.StringVar(&f.rootfs, "rootfs", "", "run from this directory as the rootfs instead of an image (the directory is not modified)")
	fs.StringVar(&f.runtime, "runtime", "", "OCI runtime binary (env BERTH_RUNTIME; default berth-runtime beside berth, else runc)")
}

// request turns the flags and IMAGE [CMD...] into an engine request.
func (f *createFlags) request(cmd *cobra.Command, args []string) (engine.CreateRequest, error) {
	var req engine.CreateRequest
	bad := func(format string, a ...any) (engine.CreateRequest, error) {
		return req, usageError(cmd, fmt.Errorf(format, a...))
	}
	if f.rootfs != "" {
		req.Rootfs = f.rootfs
		req.Config.Cmd = args
	} else {
		if len(args) == 0 {
			return bad("%q requires at least 1 argument", cmd.CommandPath())
		}
		req.Image, req.Config.Cmd = args[0], args[1:]
	}
	req.Name = f.name
	c, h := &req.Config, &req.HostConfig
	c.Tty, c.OpenStdin, c.StdinOnce = f.tty, f.interactive, f.interactive
	c.AttachStdin = f.interactive
	c.AttachStdout, c.AttachStderr = true, true
	for _, path := range f.envFile {
		env, err := readEnvFile(path)
		if err != nil {
			return bad("%v", err)
		}
		c.Env = append(c.Env, env...)
	}
	for _, e := range f.env {
		if !strings.Contains(e, "=") {
			if v, ok := os.LookupEnv(e); ok {
				e += "=" + v
			} else {
				continue
			}
		}
		c.Env = append(c.Env, e)
	}
	c.WorkingDir, c.User, c.Hostname = f.workdir, f.user, f.hostname
	if c.WorkingDir != "" && !strings.HasPrefix(c.WorkingDir, "/") {
		return bad("the working directory '%s' is invalid, it needs to be an absolute path", c.WorkingDir)
	}
	if cmd.Flags().Changed("entrypoint") {
		req.EntrypointSet = true
		if f.entrypoint != "" {
			c.Entrypoint = []string{f.entrypoint}
		}
	}
	c.Labels = map[string]string{}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		c.Labels[k] = v
	}
	if f.stopSignal != "" {
		if _, err := engine.ParseSignal(f.stopSignal); err != nil {
			return bad("%v", err)
		}
		c.StopSignal = f.stopSignal
	}
	if f.stopTimeout >= 0 {
		t := f.stopTimeout
		c.StopTimeout = &t
	}
	switch {
	case f.noHealthcheck:
		c.Healthcheck = &engine.HealthConfig{Test: []string{"NONE"}}
	case f.healthCmd != "" || f.healthInterval != 0 || f.healthTimeout != 0 || f.healthRetries != 0 || f.healthStart != 0:
		c.Healthcheck = &engine.HealthConfig{Interval: f.healthInterval, Timeout: f.healthTimeout, StartPeriod: f.healthStart, Retries: f.healthRetries}
		if f.healthCmd != "" {
			c.Healthcheck.Test = []string{"CMD-SHELL", f.healthCmd}
		}
	}
	h.Binds = f.volumes
	for _, v := range f.volumes {
		if _, err := engine.ParseVolumeFlag(v); err != nil {
			return bad("%v", err)
		}
	}
	for _, m := range f.mounts {
		ms, err := engine.ParseMountFlag(m)
		if err != nil {
			return bad("%v", err)
		}
		h.Mounts = append(h.Mounts, ms)
	}
	if len(f.tmpfs) > 0 {
		h.Tmpfs = map[string]string{}
		for _, t := range f.tmpfs {
			dst, opts, _ := strings.Cut(t, ":")
			h.Tmpfs[dst] = opts
		}
	}
	if len(f.publish) > 0 {
		h.PortBindings = engine.PortMap{}
		c.ExposedPorts = map[string]struct{}{}
		for _, p := range f.publish {
			key, b, err := engine.ParsePort(p)
			if err != nil {
				return bad("%v", err)
			}
			h.PortBindings[key] = append(h.PortBindings[key], b)
			c.ExposedPorts[key] = struct{}{}
		}
	}
	for _, p := range f.expose {
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		c.ExposedPorts[p] = struct{}{}
	}
	h.PublishAllPorts = f.publishAll
	h.NetworkMode, h.Aliases = f.network, f.aliases
	if err := f.net.apply(&req); err != nil {
		return bad("%v", err)
	}
	h.AutoRemove, h.Privileged, h.ReadonlyRootfs, h.Init = f.rm, f.privileged, f.readOnly, f.init
	h.CapAdd, h.CapDrop, h.SecurityOpt = f.capAdd, f.capDrop, f.securityOpt
	var err error
	if f.memory != "" {
		if h.Memory, err = engine.ParseBytes(f.memory); err != nil || h.Memory < 6*1024*1024 {
			if err == nil {
				return bad("minimum memory limit allowed is 6MB")
			}
			return bad("invalid argument %q for \"-m, --memory\" flag: %v", f.memory, err)
		}
	}
	if f.memorySwap != "" {
		if f.memorySwap == "-1" {
			h.MemorySwap = -1
		} else if h.MemorySwap, err = engine.ParseBytes(f.memorySwap); err != nil {
			return bad("invalid argument %q for \"--memory-swap\" flag: %v", f.memorySwap, err)
		}
	}
	if f.cpus < 0 {
		return bad("range of CPUs is from 0.01 to the number of CPUs available")
	}
	h.NanoCpus = int64(f.cpus * 1e9)
	h.CpuShares, h.CpusetCpus = f.cpuShares, f.cpusetCpus
	h.PidsLimit = f.pidsLimit
	if err := f.res.apply(cmd.ErrOrStderr(), h); err != nil {
		return bad("%v", err)
	}
	for _, u := range f.ulimits {
		ul, err := parseUlimit(u)
		if err != nil {
			return bad("%v", err)
		}
		h.Ulimits = append(h.Ulimits, ul)
	}
	name, max, _ := strings.Cut(f.restart, ":")
	h.RestartPolicy.Name = name
	switch name {
	case "", "no":
		if max != "" {
			return bad("invalid restart policy %q: maximum retry count cannot be used with restart policy %q", f.restart, name)
		}
	case "always", "unless-stopped":
		if max != "" {
			return bad("invalid restart policy %q: maximum retry count cannot be used with restart policy %q", f.restart, name)
		}
	case "on-failure":
		if max != "" {
			n, err := strconv.Atoi(max)
			if err != nil || n < 0 {
				return bad("invalid restart policy %q: maximum retry count must be a positive integer", f.restart)
			}
			h.RestartPolicy.MaximumRetryCount = n
		}
	default:
		return bad("invalid restart policy %q: want no, always, unless-stopped or on-failure[:N]", f.restart)
	}
	if f.rm && name != "" && name != "no" {
		return bad("conflicting options: cannot specify both --restart and --rm")
	}
	if len(f.logOpts) > 0 {
		h.LogConfig.Config = map[string]string{}
		for _, o := range f.logOpts {
			k, v, ok := strings.Cut(o, "=")
			if !ok {
				return bad("invalid --log-opt %q: want key=value", o)
			}
			h.LogConfig.Config[k] = v
		}
	}
	h.Runtime = resolveRuntime(f.runtime)
	if f.runtime == "" {
		h.Runtime = defaultRuntime()
	}
	return req, nil
}

func parseUlimit(s string) (engine.Ulimit, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return engine.Ulimit{}, fmt.Errorf("invalid ulimit argument: %s", s)
	}
	softS, hardS, hasHard := strings.Cut(val, ":")
	soft, err := strconv.ParseInt(softS, 10, 64)
	if err != nil {
		return engine.Ulimit{}, fmt.Errorf("invalid ulimit soft value: %s", softS)
	}
	hard := soft
	if hasHard {
		if hard, err = strconv.ParseInt(hardS, 10, 64); err != nil {
			return engine.Ulimit{}, fmt.Errorf("invalid ulimit hard value: %s", hardS)
		}
	}
	if soft > hard && hard >= 0 {
		return engine.Ulimit{}, fmt.Errorf("ulimit soft limit must be less than or equal to hard limit: %d > %d", soft, hard)
	}
	return engine.Ulimit{Name: name, Soft: soft, Hard: hard}, nil
}

func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.Contains(l, "=") {
			if v, ok := os.LookupEnv(l); ok {
				l += "=" + v
			} else {
				continue
			}
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// NewCmdCreate creates a container without starting it.
func NewCmdCreate(opts *Options) *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := f.request(cmd, args)
			if err != nil {
				return err
			}
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			c, err := eng.Create(cmd.Context(), req)
			if err != nil {
				return engineError(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), c.ID)
			return nil
		},
	}
	addCreateFlags(cmd.Flags(), f)
	return cmd
}
