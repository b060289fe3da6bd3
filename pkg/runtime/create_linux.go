package runtime

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// CreateOptions are the inputs of Create beyond the container id.
type CreateOptions struct {
	// Bundle is the directory holding config.json.
	Bundle string
	// PidFile, if set, receives the init's pid before Create returns.
	PidFile string
	// ConsoleSocket is the path of a unix socket that receives the pty
	// master (SCM_RIGHTS) when process.terminal is true.
	ConsoleSocket string
	// NoPivot uses MS_MOVE and chroot instead of pivot_root.
	NoPivot bool
	// NoNewKeyring keeps the caller's session keyring.
	NoNewKeyring bool
	// PreserveFDs passes the caller's fds 3 .. 3+N-1 to the container.
	PreserveFDs int
	// ExtraFiles, when set, are passed instead as fds 3, 4, ... (library callers).
	ExtraFiles []*os.File
	// Stdin, Stdout and Stderr become the container's stdio (nil: /dev/null).
	Stdin, Stdout, Stderr *os.File

	// console is our end of a socketpair standing in for ConsoleSocket
	// (foreground Run with a terminal).
	console *os.File
	// spec and rootfs, when set, are Bundle's config already loaded (Run).
	spec   *specs.Spec
	rootfs string
}

// initConfig is what the parent sends the child over the sync socket.
type initConfig struct {
	ID           string         `json:"id"`
	Spec         *initSpec      `json:"spec,omitempty"`
	Process      *specs.Process `json:"process"`
	Rootfs       string         `json:"rootfs,omitempty"`
	Bundle       string         `json:"bundle,omitempty"`
	NoPivot      bool           `json:"noPivot,omitempty"`
	NoNewKeyring bool           `json:"noNewKeyring,omitempty"`
	CgroupNS     bool           `json:"cgroupNS,omitempty"`
	UserNS       bool           `json:"userNS,omitempty"`
	// Seccomp applies to exec'd processes: the container's profile.
	Seccomp *specs.LinuxSeccomp `json:"seccomp,omitempty"`

	// spec is Spec rebuilt by the init (not sent).
	spec *specs.Spec
}

// Create sets up container id from opts.Bundle and leaves its init waiting
// for Start. It returns the init's pid. On failure nothing is left behind.
func (r *Runtime) Create(id string, opts *CreateOptions) (int, error) {
	s, _, err := r.create(id, opts)
	if err != nil {
		return 0, err
	}
	// The init is our child; it is not reaped here: its new parent (or
	// our caller's subreaper) reaps it once we have gone.
	return s.pid, nil
}

func (r *Runtime) create(id string, opts *CreateOptions) (s *started, rec *record, err error) {
	if err := validateID(id); err != nil {
		return nil, nil, err
	}
	bundle, err := filepath.Abs(opts.Bundle)
	if err != nil {
		return nil, nil, err
	}
	spec, rootfs := opts.spec, opts.rootfs
	if spec == nil {
		if spec, rootfs, err = LoadSpec(bundle); err != nil {
			return nil, nil, err
		}
	}
	if spec.Process.Terminal && opts.ConsoleSocket == "" && opts.console == nil {
		return nil, nil, invalid("process.terminal is true but no --console-socket was given")
	}
	if spec.Process.ApparmorProfile != "" && apparmorEnabled() {
		return nil, nil, fmt.Errorf("process.apparmorProfile %q: AppArmor profiles are not supported by berth-runtime: %w", spec.Process.ApparmorProfile, errNotSupported)
	}
	if !spec.Process.Terminal && opts.ConsoleSocket != "" {
		return nil, nil, invalid("--console-socket given but process.terminal is false")
	}
	dir := r.dir(id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, nil, fmt.Errorf("container %q already exists: %w", id, errdefs.ErrAlreadyExists)
		}
		return nil, nil, fmt.Errorf("creating state dir: %w", err)
	}
	var cg cgroup
	var saved chan error // the durable record being written
	defer func() {
		if err == nil {
			return
		}
		if saved != nil {
			<-saved // before the directory goes
		}
		if s != nil {
			s.kill()
		}
		if cg != nil {
			cg.Destroy()
		}
		os.RemoveAll(dir)
	}()
	unlock, err := r.lock(id)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()

	rec = &record{
		ID: id, Bundle: bundle, Rootfs: rootfs, Created: time.Now().UTC(),
		Owner: "", Annotations: spec.Annotations, Config: spec,
		CgroupPath: cgroupPath(spec, id),
	}
	if u, err := userName(os.Geteuid()); err == nil {
		rec.Owner = u
	}
	// Recorded before anything is made, so that a create killed half way
	// (kill -9) leaves a stopped container that delete cleans up. Not
	// flushed: a power cut takes the cgroup and processes it describes
	// with it (and an empty record reads as no container).
	if err := r.save(rec, false); err != nil {
		return nil, nil, err
	}
	fifoPath := filepath.Join(dir, fifoName)
	if err := unix.Mkfifo(fifoPath, 0o622); err != nil {
		return nil, nil, fmt.Errorf("creating %s: %w", fifoPath, err)
	}
	// The init may run as an unmapped user: it must be able to open the
	// fifo for writing (through its fd, never by path).
	if err := os.Chmod(fifoPath, 0o622); err != nil {
		return nil, nil, err
	}
	fifo, err := os.OpenFile(fifoPath, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	defer fifo.Close()

	c, err := childFor(spec, nil)
	if err != nil {
		return nil, nil, err
	}
	c.exe = r.initBinary
	c.mode = "init"
	if why := cinitReason(spec, r.initBinary); why == "" {
		c.mode = cinitMode
	}
	c.fifo = fifo
	c.stdio = [3]*os.File{opts.Stdin, opts.Stdout, opts.Stderr}
	c.preserve = preserved(opts.PreserveFDs, opts.ExtraFiles)
	rec.Init = "go"
	if c.mode == cinitMode {
		rec.Init = "c"
	}
	if c.idmaps, err = r.idmapTrees(spec, bundle); err != nil {
		return nil, nil, err
	}
	defer closeFiles(c.idmaps)
	if opts.console != nil {
		c.console = opts.console
	} else if opts.ConsoleSocket != "" {
		con, err := dialConsole(opts.ConsoleSocket)
		if err != nil {
			return nil, nil, err
		}
		defer con.Close()
		c.console = con
	}

	// The init starts first: while its Go runtime boots (it then waits
	// for its config) we make the cgroup, so the two overlap. It is moved
	// into the cgroup before it is told anything, so nothing of the
	// container runs outside it.
	s, err = c.start()
	if err != nil {
		return nil, nil, err
	}
	cg, err = newCgroup(rec.CgroupPath)
	if err != nil {
		return nil, nil, fmt.Errorf("linux.cgroupsPath %q: %w", rec.CgroupPath, err)
	}
	if cg.Exists() {
		pids, _ := cg.Pids()
		if len(pids) > 0 {
			cg = nil // not ours to remove
			return nil, nil, fmt.Errorf("linux.cgroupsPath %q is in use by another container: %w", rec.CgroupPath, errdefs.ErrConflict)
		}
	}
	if err := cg.Set(withDefaultDevices(spec)); err != nil {
		return nil, nil, fmt.Errorf("linux.resources: %w", err)
	}
	if err := cg.Apply(s.pid); err != nil {
		return nil, nil, fmt.Errorf("moving init into cgroup %q: %w", rec.CgroupPath, err)
	}
	if rec.PidStart, _, err = procStart(s.pid); err != nil {
		return nil, nil, fmt.Errorf("container init exited early: %w", err)
	}
	rec.Pid = s.pid
	// The durable record is written while the init sets the container up.
	saved = make(chan error, 1)
	go func(rec record) { saved <- r.save(&rec, true) }(*rec)
	cfg := &initConfig{
		ID: id, Spec: initSpecOf(spec), Process: spec.Process, Rootfs: rootfs, Bundle: bundle,
		NoPivot: opts.NoPivot, NoNewKeyring: opts.NoNewKeyring,
		CgroupNS: hasNewNS(spec, specs.CgroupNamespace),
		UserNS:   hasNS(spec, specs.UserNamespace),
	}
	if c.mode == cinitMode {
		cfg.spec = spec
		plan, err := buildPlan(cfg, s.pid, cinitFDs{fifo: c.fifoFD, console: c.consoleFD, idmaps: c.idmapFDs, preserve: len(c.preserve)}, r.compileSeccomp)
		if err != nil {
			return nil, nil, err
		}
		if _, err := s.conn.f.Write(plan); err != nil {
			return nil, nil, fmt.Errorf("sending the plan to init: %w", err)
		}
	} else if err := s.conn.send(cfg); err != nil {
		return nil, nil, fmt.Errorf("sending config to init: %w", err)
	}
	for {
		m, err := s.conn.recv()
		if err != nil {
			return nil, nil, initError(err, s)
		}
		if m.Type == msgReady {
			// The init we chose is the one that answers: a C init that
			// silently became the Go init would hide a broken build.
			if m.Init != rec.Init {
				return nil, nil, fmt.Errorf("container init: the %q init answered, the runtime started the %q one", m.Init, rec.Init)
			}
			break
		}
		if m.Type != msgHooks {
			return nil, nil, fmt.Errorf("container init sent %q", m.Type)
		}
		if spec.Hooks != nil {
			st := r.ociState(rec, Created)
			if err := runHooks("prestart", spec.Hooks.Prestart, st); err != nil {
				return nil, nil, err
			}
			if err := runHooks("createRuntime", spec.Hooks.CreateRuntime, st); err != nil {
				return nil, nil, err
			}
		}
		if err := s.conn.send(&syncMsg{Type: msgOK}); err != nil {
			return nil, nil, initError(err, s)
		}
	}
	s.conn.f.Close()
	err = <-saved
	saved = nil
	if err != nil {
		return nil, nil, err
	}
	if sharesPidNS(spec) {
		if err := r.startReaper(s.pid, rec.CgroupPath, cg); err != nil {
			return nil, nil, err
		}
	}
	if opts.PidFile != "" {
		if err := writeFileAtomic(opts.PidFile, []byte(strconv.Itoa(s.pid)), 0o644, true); err != nil {
			return nil, nil, fmt.Errorf("--pid-file: %w", err)
		}
	}
	return s, rec, nil
}

// initError turns a broken sync channel into the init's own complaint.
func initError(err error, s *started) error {
	if err.Error() == "EOF" {
		if werr := s.wait(); werr != nil {
			return fmt.Errorf("container init exited before it was ready: %w", werr)
		}
		return errors.New("container init exited before it was ready")
	}
	return fmt.Errorf("container init: %w", err)
}

// childFor works out how to create or join the namespaces of spec. With
// joinPid set it joins every namespace of that process instead (exec).
func childFor(spec *specs.Spec, join map[specs.LinuxNamespaceType]string) (*child, error) {
	c := &child{}
	paths := map[specs.LinuxNamespaceType]string{}
	var newFlags uintptr
	if join != nil {
		paths = join
	} else {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Path != "" {
				paths[ns.Type] = ns.Path
			} else if ns.Type != specs.CgroupNamespace {
				// A new cgroup namespace is made by the init once it is in its cgroup.
				newFlags |= uintptr(nsFlags[ns.Type])
			}
		}
	}
	for _, t := range joinOrder {
		p, ok := paths[t]
		if !ok {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			c.closeJoins()
			return nil, fmt.Errorf("namespace %s path %q: %w", t, p, err)
		}
		same, err := sameNS(f, t)
		if err == nil && same {
			f.Close() // already there: setns would fail for user namespaces
			continue
		}
		c.joins = append(c.joins, nsJoin{typ: nsFlags[t], file: f})
	}
	_, joinPid := paths[specs.PIDNamespace]
	switch {
	case hasJoin(c.joins, unix.CLONE_NEWUSER):
		// New namespaces must belong to the joined user namespace: make them after joining.
		c.unshare = newFlags
	case newFlags&unix.CLONE_NEWUSER != 0 && len(c.joins) > 0:
		// Join first, with the host's privileges, then make the user
		// namespace and the rest in it (see userns_linux.go).
		if err := checkJoinsWithNewUser(spec, paths); err != nil {
			c.closeJoins()
			return nil, err
		}
		c.unshare = newFlags
	default:
		c.cloneflags = newFlags
	}
	c.fork = (joinPid && hasJoin(c.joins, unix.CLONE_NEWPID)) || c.unshare&unix.CLONE_NEWPID != 0
	if newFlags&unix.CLONE_NEWUSER != 0 {
		maps := [2][]syscall.SysProcIDMap{idMaps(spec.Linux.UIDMappings), idMaps(spec.Linux.GIDMappings)}
		if c.cloneflags&unix.CLONE_NEWUSER != 0 {
			c.uidMap, c.gidMap = maps[0], maps[1]
		} else {
			c.userMaps = maps // written by mapUser when nsenter asks
		}
	}
	return c, nil
}

func hasJoin(js []nsJoin, typ int) bool {
	for _, j := range js {
		if j.typ == typ {
			return true
		}
	}
	return false
}

func (c *child) closeJoins() {
	for _, j := range c.joins {
		j.file.Close()
	}
}

// sameNS reports whether f is the namespace of type t we are already in.
func sameNS(f *os.File, t specs.LinuxNamespaceType) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &a); err != nil {
		return false, err
	}
	if err := unix.Stat("/proc/self/ns/"+nsProcName[t], &b); err != nil {
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

func idMaps(ms []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	var out []syscall.SysProcIDMap
	for _, m := range ms {
		out = append(out, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	return out
}

// dialConsole connects to the caller's console socket; the child sends the pty master on it.
func dialConsole(path string) (*os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("--console-socket %q: %w", path, err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("--console-socket %q: %w", path, err)
	}
	return f, nil
}

func userName(uid int) (string, error) {
	if uid == 0 {
		return "root", nil
	}
	return "", exec.ErrNotFound
}

// preserved are the files a container or exec'd process gets from fd 3 on.
func preserved(n int, extra []*os.File) []*os.File {
	if len(extra) > 0 {
		return extra
	}
	var out []*os.File
	for i := 0; i < n; i++ {
		out = append(out, os.NewFile(uintptr(3+i), "preserved-"+strconv.Itoa(3+i)))
	}
	return out
}

// withDefaultDevices returns the spec's resources with the device rules
// every container needs appended after the spec's own (as runc does): the
// default nodes, the container's linux.devices, ptys and the console.
func withDefaultDevices(spec *specs.Spec) *specs.LinuxResources {
	if spec.Linux.Resources == nil {
		return nil
	}
	res := *spec.Linux.Resources
	if len(res.Devices) == 0 {
		return &res
	}
	i64 := func(v int64) *int64 { return &v }
	rules := append([]specs.LinuxDeviceCgroup{}, res.Devices...)
	for _, d := range append(append([]specs.LinuxDevice{}, defaultDevices...), spec.Linux.Devices...) {
		typ := d.Type
		if typ == "u" {
			typ = "c"
		}
		if typ == "p" {
			continue
		}
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: i64(d.Major), Minor: i64(d.Minor), Access: "rwm"})
	}
	rules = append(rules,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(136), Access: "rwm"},              // /dev/pts/*
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(5), Minor: i64(2), Access: "rwm"}, // /dev/ptmx
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(5), Minor: i64(1), Access: "rwm"}, // /dev/console
	)
	res.Devices = rules
	return &res
}

// apparmorEnabled reports whether the host enforces AppArmor; without it a
// profile in the spec means nothing (runc ignores it too).
func apparmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && len(b) > 0 && b[0] == 'Y'
}
