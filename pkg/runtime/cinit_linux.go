package runtime

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/runtime/nsenter"
)

// The C init. A container init that is a Go program pays for a second Go
// runtime start per container (the runtime itself is the first), which on
// small VMs is most of the init's cost. For the specs it can express, the
// runtime instead computes here, before the init runs, a plan of every step
// the init takes — mounts with their flags, data and propagation, device
// nodes, masked and read-only paths, sysctls, the compiled seccomp program,
// capability masks, ids, limits, the program to exec — and the nsenter
// constructor of the re-executed runtime (nsenter/cinit.c) carries it out
// and execs the container's process before the Go runtime ever starts.
// The plan follows initMain step by step and uses the same helpers for
// every decision (parseMountOptions, createDevices' device list, the
// capability sets...), so the two inits differ only in who executes.
//
// What the plan cannot express stays with the Go init (cinitReason): a
// joined mount namespace together with a shared or unbindable
// linux.rootfsPropagation.
// BERTH_GO_INIT=1 in the runtime's environment forces the Go init.

// cinitMode is the _BERTH_INIT value that selects the C init.
const cinitMode = "cinit"

// EnvGoInit, set to anything non-empty in the runtime's environment, makes
// every container use the Go init.
const EnvGoInit = "BERTH_GO_INIT"

// Limits of the C init's fixed buffers (nsenter/cinit.c); a spec beyond
// them uses the Go init.
const (
	planMagic     = 0x31494342 // "BCI1"
	planMax       = 1 << 20
	planMaxVec    = 16384
	planMaxGroups = 65536
)

// Steps of the plan; the numbers are nsenter/cinit.c's.
const (
	opStep = iota + 1
	opUmask
	opUnshare
	opKeyring
	opHostname
	opDomainname
	opLoUp
	opPropagate
	opRoot
	opMount
	opRemount
	opSetattr
	opPropagateIn
	opMknod
	opSymlink
	opHooks
	opPivot
	opChroot
	opSysctl
	opReadonly
	opMask
	opRlimit
	opOOM
	opChdir
	opLookPath
	opReady
	opFifo
	opCloseFrom
	opNNP
	opSeccomp
	opBoundingDrop
	opUser
	opCaps
	opExec
	opConsole
	opSetsid
	opAttach
	opTmpcopyup
	opHook
)

// opMount's mk bits and opSymlink's sym bits.
const (
	mkBind   = 1
	mkNoSym  = 2
	mkDir    = 4
	mkSrcDir = 8
	// mkSysfsFallback: on EPERM bind the host's /sys read-only instead.
	mkSysfsFallback = 16

	symIgnore  = 1
	symReplace = 2
	symNoSym   = 4
)

// cinitReason says why spec needs the Go init, or "" when the C init can
// set it up. initBinary is the binary the init re-executes ("" for this one).
func cinitReason(spec *specs.Spec, initBinary string) string {
	switch {
	case os.Getenv(EnvGoInit) != "":
		return EnvGoInit + " is set"
	case initBinary == "" && !nsenter.Available:
		return "built without cgo"
	}
	for _, ns := range spec.Linux.Namespaces {
		if prop, err := mountNSPropagation(spec); ns.Type == specs.MountNamespace && ns.Path != "" &&
			(err != nil || prop&(unix.MS_SHARED|unix.MS_UNBINDABLE) != 0) {
			// The runtime finds the mount holding the rootfs in its own
			// mount table to make it private for pivot_root.
			return "a joined mount namespace with shared or unbindable linux.rootfsPropagation"
		}
	}
	if !planFits(spec) {
		return "a spec beyond the C init's buffers"
	}
	return ""
}

// planFits reports whether spec's plan fits the C init's buffers, so that
// buildPlan, run once the init has started, never finds it too large.
func planFits(spec *specs.Spec) bool {
	p := spec.Process
	if len(p.Args)+len(p.Env)+2 > planMaxVec || len(p.User.AdditionalGids) > planMaxGroups {
		return false
	}
	// Everything variable in the plan, counted three times over (a path
	// appears in a step's label, its step and a remount) with room for
	// framing; the fixed part (devices, links, cgroup hierarchies, a
	// seccomp program of at most 4096 instructions) takes well under a
	// quarter of planMax.
	n := 0
	add := func(ss ...string) {
		for _, s := range ss {
			n += 3*len(s) + 64
		}
	}
	add(p.Cwd, spec.Root.Path, spec.Hostname, spec.Domainname)
	add(spec.Linux.MaskedPaths...)
	add(spec.Linux.ReadonlyPaths...)
	for _, m := range spec.Mounts {
		add(m.Destination, m.Source, strings.Join(m.Options, ","))
	}
	for _, d := range spec.Linux.Devices {
		add(d.Path)
	}
	for k, v := range spec.Linux.Sysctl {
		add(k, v)
	}
	if h := spec.Hooks; h != nil {
		state := 512
		for k, v := range spec.Annotations {
			state += 2*(len(k)+len(v)) + 8
		}
		for _, hook := range append(append([]specs.Hook{}, h.CreateContainer...), h.StartContainer...) {
			add(hook.Path)
			add(hook.Args...)
			add(hook.Env...)
			n += state
		}
	}
	for _, s := range append(append([]string{}, p.Args...), p.Env...) {
		n += len(s) + 8
	}
	return n+16*len(p.User.AdditionalGids) < planMax*3/4
}

// plan is a plan being written: native-endian 64-bit numbers, strings and
// blobs as a 32-bit length and the bytes (strings with their NUL).
type plan struct {
	b   []byte
	err error
}

func (p *plan) op(code int) { p.num(uint64(code)) }

func (p *plan) num(v uint64) { p.b = binary.NativeEndian.AppendUint64(p.b, v) }

func (p *plan) blob(b []byte) {
	p.b = binary.NativeEndian.AppendUint32(p.b, uint32(len(b)))
	p.b = append(p.b, b...)
}

// str adds s with its NUL. A path longer than the kernel takes
// (PATH_MAX) fails in the init with ENAMETOOLONG, as it does in the Go init.
func (p *plan) str(s string) {
	if strings.IndexByte(s, 0) >= 0 && p.err == nil {
		p.err = invalid("%q contains a NUL byte", s)
	}
	p.b = binary.NativeEndian.AppendUint32(p.b, uint32(len(s)+1))
	p.b = append(p.b, s...)
	p.b = append(p.b, 0)
}

// step names the steps that follow in the init's errors (the init keeps
// the first 511 bytes).
func (p *plan) step(format string, args ...any) {
	p.op(opStep)
	p.str(fmt.Sprintf(format, args...))
}

// errTooBig marks a spec beyond the C init's buffers (the Go init takes it).
var errTooBig = fmt.Errorf("the spec is too large for the C init: %w", errNotSupported)

// framed returns the plan with its header.
func (p *plan) framed() ([]byte, error) {
	if p.err != nil {
		return nil, p.err
	}
	if len(p.b) > planMax {
		return nil, errTooBig
	}
	out := binary.NativeEndian.AppendUint32(nil, planMagic)
	out = binary.NativeEndian.AppendUint32(out, uint32(len(p.b)))
	return append(out, p.b...), nil
}

// seccompCompiler compiles a seccomp profile to a classic BPF program (as
// bytes) and its seccomp(2) filter flags.
type seccompCompiler func(*specs.LinuxSeccomp) ([]byte, uintptr, error)

// cinitFDs are the numbers of the init's descriptors the plan names.
type cinitFDs struct {
	fifo     int
	console  int   // -1 for none
	idmaps   []int // the idmapped trees, in spec order
	preserve int   // count of preserved fds after stdio
}

// buildPlan computes the C init's plan for cfg; pid is the init, already
// in its cgroup (its cgroup lines say what /sys/fs/cgroup shows).
// compile turns the seccomp profile into the program the init loads.
func buildPlan(cfg *initConfig, pid int, fds cinitFDs, compile seccompCompiler) ([]byte, error) {
	spec := cfg.spec
	p := &plan{}
	p.step("container init")
	p.op(opUmask)
	p.num(0)
	if cfg.CgroupNS {
		p.step("creating the cgroup namespace")
		p.op(opUnshare)
		p.num(unix.CLONE_NEWCGROUP)
	}
	if !cfg.NoNewKeyring {
		p.step("creating a session keyring")
		p.op(opKeyring)
		p.str("_ses." + cfg.ID)
	}
	if spec.Hostname != "" {
		p.op(opHostname)
		p.str(spec.Hostname)
	}
	if newNetNS(spec) {
		p.op(opLoUp)
	}
	if spec.Domainname != "" {
		p.op(opDomainname)
		p.str(spec.Domainname)
	}
	if !hasNS(spec, specs.MountNamespace) {
		return nil, invalid("linux.namespaces: a mount namespace is required")
	}
	if err := planRootfs(p, cfg, pid, fds.idmaps); err != nil {
		return nil, err
	}
	if spec.Hooks != nil && (len(spec.Hooks.Prestart) > 0 || len(spec.Hooks.CreateRuntime) > 0) {
		p.step("hooks")
		p.op(opHooks)
	}
	var pidInNS int
	if spec.Hooks != nil && len(spec.Hooks.CreateContainer)+len(spec.Hooks.StartContainer) > 0 {
		var err error
		if pidInNS, err = nsPid(pid); err != nil {
			return nil, err
		}
	}
	if spec.Hooks != nil {
		if err := planHooks(p, "createContainer", spec.Hooks.CreateContainer, cfg, pidInNS, specs.StateCreating); err != nil {
			return nil, err
		}
	}
	if cfg.NoPivot {
		p.step("chroot")
		p.op(opChroot)
	} else {
		p.step("pivot_root")
		p.op(opPivot)
	}
	if cfg.Process.Terminal {
		if fds.console < 0 {
			return nil, invalid("process.terminal is true but there is no console socket")
		}
		planConsole(p, cfg.Process, fds.console, true)
	}
	if err := planSysctls(p, spec.Linux.Sysctl); err != nil {
		return nil, err
	}
	planFinishRootfs(p, spec)
	if err := planProcess(p, cfg.Process); err != nil {
		return nil, err
	}
	p.op(opReady)
	p.op(opFifo)
	p.num(uint64(fds.fifo))
	if spec.Hooks != nil {
		if err := planHooks(p, "startContainer", spec.Hooks.StartContainer, cfg, pidInNS, specs.StateCreated); err != nil {
			return nil, err
		}
	}
	if err := planFinalize(p, cfg.Process, spec.Linux.Seccomp, fds.preserve, compile); err != nil {
		return nil, err
	}
	return p.framed()
}

// planRootfs follows prepareRootfs.
func planRootfs(p *plan, cfg *initConfig, pid int, idmaps []int) error {
	spec := cfg.spec
	prop, err := mountNSPropagation(spec)
	if err != nil {
		return err
	}
	p.step("rootfs")
	p.op(opPropagate)
	p.str("/")
	p.num(uint64(prop))
	if prop&(unix.MS_SHARED|unix.MS_UNBINDABLE) != 0 && !cfg.NoPivot {
		// privatePivotMounts: the init's mount namespace is a copy of ours.
		mp, err := mountPointOf(cfg.Rootfs)
		if err != nil {
			return err
		}
		p.step("making / private for pivot_root")
		p.op(opPropagate)
		p.str("/")
		p.num(unix.MS_PRIVATE)
		p.step("making %s (the mount holding the rootfs) private for pivot_root", mp)
		p.op(opPropagate)
		p.str(mp)
		p.num(unix.MS_PRIVATE)
	}
	p.step("rootfs")
	p.op(opRoot)
	p.str(cfg.Rootfs)
	p.num(boolNum(cfg.UserNS))
	var hostCgroups []string
	devBound := false
	for i, m := range spec.Mounts {
		p.step("mounts[%d] (%s on %s)", i, m.Type, m.Destination)
		if (m.Type == "cgroup" || m.Type == "cgroup2") && !isBind(m) && hostCgroups == nil {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
			if err != nil {
				return fmt.Errorf("reading the init's cgroups: %w", err)
			}
			hostCgroups = strings.Split(strings.TrimSpace(string(b)), "\n")
		}
		tree := -1
		if idmapKind(m) != "" {
			if len(idmaps) == 0 {
				return fmt.Errorf("mounts[%d] (%s on %s): option %s: the runtime made no idmapped mount", i, m.Type, m.Destination, idmapKind(m))
			}
			tree, idmaps = idmaps[0], idmaps[1:]
		}
		if err := planMount(p, cfg, m, hostCgroups, tree, pid); err != nil {
			return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
		if path.Clean(m.Destination) == "/dev" && isBind(m) {
			devBound = true
		}
	}
	if !devBound {
		planDevices(p, spec, cfg.UserNS)
	}
	return nil
}

// planMount follows mountOne.
// tree is the fd of m's idmapped tree in the init, or -1.
func planMount(p *plan, cfg *initConfig, m specs.Mount, hostCgroups []string, tree, pid int) error {
	flags, props, data, _, err := parseMountOptions(m.Options)
	if err != nil {
		return err
	}
	var mk uint64
	if strictMount(m) {
		mk |= mkNoSym | mkDir
	}
	bind := isBind(m)
	switch {
	case bind:
		flags |= unix.MS_BIND
		source := m.Source
		if !filepath.IsAbs(source) {
			source = filepath.Join(cfg.Bundle, source)
		}
		if tree >= 0 {
			p.op(opAttach)
			p.str(m.Destination)
			p.str(source)
			p.num(uint64(tree))
		} else {
			p.op(opMount)
			p.str(m.Destination)
			p.num(mk | mkBind)
			p.str(source)
			p.str("")
			p.num(uint64(flags & (unix.MS_BIND | unix.MS_REC)))
			p.str("")
		}
		if bindNeedsRemount(flags) {
			p.op(opRemount)
			p.str(relPath(m.Destination))
			p.num(uint64(flags))
			p.num(boolNum(cfg.UserNS))
		}
	case m.Type == "cgroup" || m.Type == "cgroup2":
		if err := planCgroups(p, m.Destination, mk, flags, cfg, hostCgroups, pid); err != nil {
			return err
		}
	case hasMountOption(m.Options, "tmpcopyup"):
		p.op(opTmpcopyup)
		p.str(m.Destination)
		p.str(m.Source)
		p.num(uint64(flags &^ unix.MS_REC))
		p.str(data)
	default:
		if m.Type == "sysfs" && cfg.UserNS {
			mk |= mkSysfsFallback
		}
		p.op(opMount)
		p.str(m.Destination)
		p.num(mk)
		p.str(m.Source)
		p.str(m.Type)
		p.num(uint64(flags &^ unix.MS_REC))
		p.str(data)
	}
	if attr, ok := mountAttrOf(m.Options); ok {
		p.op(opSetattr)
		p.str(relPath(m.Destination))
		p.num(attr.Attr_set)
		p.num(attr.Attr_clr)
	}
	for _, f := range props {
		p.op(opPropagateIn)
		p.str(relPath(m.Destination))
		p.num(uint64(f))
	}
	return nil
}

// planCgroups follows mountCgroups.
func planCgroups(p *plan, dest string, mk uint64, flags int, cfg *initConfig, hostCgroups []string, pid int) error {
	// The init's view: it may have joined a mount namespace by path.
	mounts, err := cgroupMounts("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		return err
	}
	if ownCgroup2(mounts, cfg.CgroupNS) {
		p.op(opMount)
		p.str(dest)
		p.num(mk)
		p.str("cgroup2")
		p.str("cgroup2")
		p.num(uint64(flags &^ unix.MS_REC))
		p.str("")
		return nil
	}
	p.op(opMount)
	p.str(dest)
	p.num(mk)
	p.str("tmpfs")
	p.str("tmpfs")
	p.num(uint64(flags &^ (unix.MS_RDONLY | unix.MS_REC)))
	p.str("mode=755")
	for _, b := range cgroupBinds(mounts, hostCgroups) {
		name := b.name
		target := path.Join(dest, name)
		p.op(opMount)
		p.str(target)
		p.num(mkBind | mkNoSym | mkSrcDir)
		p.str(b.source)
		p.str("")
		p.num(unix.MS_BIND | unix.MS_REC)
		p.str("")
		p.op(opRemount)
		p.str(relPath(target))
		p.num(uint64(unix.MS_BIND | (flags &^ unix.MS_REC)))
		p.num(boolNum(cfg.UserNS))
		if strings.Contains(name, ",") {
			for _, c := range strings.Split(name, ",") {
				p.op(opSymlink)
				p.str(relPath(dest))
				p.str(name)
				p.str(c)
				p.num(symIgnore | symNoSym)
			}
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		p.op(opRemount)
		p.str(relPath(dest))
		p.num(uint64(unix.MS_BIND | (flags &^ unix.MS_REC)))
		p.num(boolNum(cfg.UserNS))
	}
	return nil
}

// planDevices follows createDevices.
func planDevices(p *plan, spec *specs.Spec, userns bool) {
	for _, d := range deviceList(spec) {
		p.step("linux.devices %s", d.Path)
		if userns {
			// No mknod in a user namespace: bind the host's node instead.
			p.op(opMount)
			p.str(d.Path)
			p.num(mkBind)
			p.str(d.Path)
			p.str("")
			p.num(unix.MS_BIND)
			p.str("")
			continue
		}
		dir, base := path.Split(path.Clean(d.Path))
		mode := deviceMode(d)
		var uid, gid uint64
		if d.UID != nil {
			uid = uint64(*d.UID)
		}
		if d.GID != nil {
			gid = uint64(*d.GID)
		}
		p.op(opMknod)
		p.str(dir)
		p.str(base)
		p.num(uint64(mode))
		p.num(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
		p.num(uid)
		p.num(gid)
	}
	p.step("/dev links")
	for _, l := range devLinks(spec) {
		p.op(opSymlink)
		p.str("/dev")
		p.str(l.target)
		p.str(l.name)
		var sym uint64
		if l.replace {
			sym = symReplace
		}
		p.num(sym)
	}
}

// planHooks follows runHooks for the hooks that run in the container: the
// state they read names the init by its pid in its own pid namespace.
func planHooks(p *plan, kind string, hooks []specs.Hook, cfg *initConfig, pid int, status specs.ContainerState) error {
	if len(hooks) == 0 {
		return nil
	}
	st := &specs.State{Version: specs.Version, ID: cfg.ID, Status: status, Pid: pid, Bundle: cfg.Bundle, Annotations: cfg.spec.Annotations}
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		args := h.Args
		if len(args) == 0 {
			args = []string{h.Path}
		}
		p.step("hooks.%s[%d] (%s)", kind, i, h.Path)
		p.op(opHook)
		p.str(h.Path)
		p.num(uint64(len(args)))
		for _, a := range args {
			p.str(a)
		}
		p.num(uint64(len(h.Env)))
		for _, e := range h.Env {
			p.str(e)
		}
		var timeout uint64
		if h.Timeout != nil && *h.Timeout > 0 {
			timeout = uint64(*h.Timeout)
		}
		p.num(timeout)
		p.str(string(state))
	}
	return nil
}

// nsPid is pid as its own (innermost) pid namespace numbers it.
func nsPid(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("container init: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.Atoi(f[len(f)-1])
			}
		}
	}
	return 0, fmt.Errorf("container init: no NSpid in /proc/%d/status", pid)
}

// planConsole follows setupConsole.
func planConsole(p *plan, proc *specs.Process, sock int, devConsole bool) {
	p.step("process.terminal")
	p.op(opConsole)
	p.num(uint64(sock))
	if cs := proc.ConsoleSize; cs != nil {
		p.num(1)
		p.num(uint64(cs.Height))
		p.num(uint64(cs.Width))
	} else {
		p.num(0)
		p.num(0)
		p.num(0)
	}
	if devConsole {
		p.num(1)
	} else {
		p.num(0)
	}
}

// cexecReason says why an exec'd process needs the Go exec helper, or ""
// when the C init can start it (a plan of process steps only).
func cexecReason(proc *specs.Process, initBinary string) string {
	switch {
	case os.Getenv(EnvGoInit) != "":
		return EnvGoInit + " is set"
	case initBinary == "" && !nsenter.Available:
		return "built without cgo"
	case len(proc.Args)+len(proc.Env)+2 > planMaxVec || len(proc.User.AdditionalGids) > planMaxGroups:
		return "a process beyond the C init's buffers"
	}
	n := 3 * len(proc.Cwd)
	for _, s := range append(append([]string{}, proc.Args...), proc.Env...) {
		n += len(s) + 8
	}
	if n > planMax/2 {
		return "a process beyond the C init's buffers"
	}
	return ""
}

// buildExecPlan computes the plan of an exec'd process: execMain's steps.
func buildExecPlan(proc *specs.Process, sc *specs.LinuxSeccomp, fds cinitFDs, compile seccompCompiler) ([]byte, error) {
	p := &plan{}
	p.step("exec")
	p.op(opUmask)
	p.num(0o022)
	p.op(opSetsid)
	if proc.Terminal {
		p.num(1)
		if fds.console < 0 {
			return nil, invalid("process.terminal is true but there is no console socket")
		}
		planConsole(p, proc, fds.console, false)
	} else {
		p.num(0)
	}
	if err := planProcess(p, proc); err != nil {
		return nil, err
	}
	if err := planFinalize(p, proc, sc, fds.preserve, compile); err != nil {
		return nil, err
	}
	return p.framed()
}

// planSysctls follows writeSysctls (in sorted order).
func planSysctls(p *plan, sysctl map[string]string) error {
	keys := make([]string, 0, len(sysctl))
	for k := range sysctl {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rel, err := sysctlPath(k)
		if err != nil {
			return err
		}
		p.step("linux.sysctl %q=%q", k, sysctl[k])
		p.op(opSysctl)
		p.str(rel)
		p.str(sysctl[k])
	}
	return nil
}

// planFinishRootfs follows finishRootfs.
func planFinishRootfs(p *plan, spec *specs.Spec) {
	for _, path := range spec.Linux.ReadonlyPaths {
		p.step("linux.readonlyPaths %s", path)
		p.op(opReadonly)
		p.str(relPath(path))
	}
	for _, path := range spec.Linux.MaskedPaths {
		p.step("linux.maskedPaths %s", path)
		p.op(opMask)
		p.str(relPath(path))
	}
	if spec.Root.Readonly {
		p.step("root.readonly")
		p.op(opRemount)
		p.str("")
		p.num(unix.MS_BIND | unix.MS_RDONLY)
		p.num(1)
	}
	if spec.Linux.RootfsPropagation != "" {
		f, _ := propagationFlag(spec.Linux.RootfsPropagation)
		p.step("linux.rootfsPropagation")
		p.op(opPropagate)
		p.str("/")
		p.num(uint64(f))
	}
}

// planProcess follows prepareProcess.
func planProcess(p *plan, proc *specs.Process) error {
	if err := checkRlimits(proc.Rlimits); err != nil {
		return err
	}
	for _, rl := range proc.Rlimits {
		res := rlimitNames[rl.Type]
		p.step("process.rlimits %s (soft %d, hard %d)", rl.Type, rl.Soft, rl.Hard)
		p.op(opRlimit)
		p.num(uint64(res))
		p.num(rl.Soft)
		p.num(rl.Hard)
	}
	if proc.OOMScoreAdj != nil {
		p.step("process.oomScoreAdj")
		p.op(opOOM)
		p.str(strconv.Itoa(*proc.OOMScoreAdj))
	}
	p.step("container init")
	p.op(opChdir)
	p.str(proc.Cwd)
	p.op(opLookPath)
	p.str(proc.Args[0])
	p.str(processPath(proc))
	return nil
}

// planFinalize follows finalize.
func planFinalize(p *plan, proc *specs.Process, sc *specs.LinuxSeccomp, preserve int, compile seccompCompiler) error {
	umask := uint64(0o022)
	if proc.User.Umask != nil {
		umask = uint64(*proc.User.Umask)
	}
	p.step("container init")
	p.op(opUmask)
	p.num(umask)
	p.op(opCloseFrom)
	p.num(uint64(3 + preserve))
	var filter []byte
	var flags uintptr
	if sc != nil {
		var err error
		if filter, flags, err = compile(sc); err != nil {
			return fmt.Errorf("linux.seccomp: %w", err)
		}
	}
	loadSeccomp := func() {
		if filter != nil {
			p.step("linux.seccomp")
			p.op(opSeccomp)
			p.num(uint64(flags))
			p.blob(filter)
		}
	}
	if proc.NoNewPrivileges {
		p.step("process.noNewPrivileges")
		p.op(opNNP)
	} else {
		// Without no_new_privs loading needs CAP_SYS_ADMIN, which we drop below.
		loadSeccomp()
	}
	cs := capsFor(proc.Capabilities, lastCap(), boundingHas)
	p.step("process.capabilities.bounding")
	p.op(opBoundingDrop)
	p.num(cs.drop.mask())
	if len(proc.User.AdditionalGids) > planMaxGroups {
		return errTooBig
	}
	p.step("container init")
	p.op(opUser)
	p.num(uint64(proc.User.UID))
	p.num(uint64(proc.User.GID))
	p.num(uint64(len(proc.User.AdditionalGids)))
	for _, g := range proc.User.AdditionalGids {
		p.num(uint64(g))
	}
	p.step("process.capabilities")
	p.op(opCaps)
	p.num(cs.effective.mask())
	p.num(cs.permitted.mask())
	p.num(cs.inheritable.mask())
	p.num(cs.ambient.mask())
	if proc.NoNewPrivileges {
		loadSeccomp()
	}
	if len(proc.Args)+len(proc.Env)+2 > planMaxVec {
		return errTooBig
	}
	p.step("container init")
	p.op(opExec)
	p.num(uint64(len(proc.Args)))
	for _, a := range proc.Args {
		p.str(a)
	}
	p.num(uint64(len(proc.Env)))
	for _, e := range proc.Env {
		p.str(e)
	}
	return nil
}

func boolNum(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
