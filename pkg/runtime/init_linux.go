package runtime

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/runtime/nsenter"
)

func init() {
	if os.Getenv(envInit) != "" {
		// Credentials, capabilities and some namespaces are per thread:
		// everything the init does, and its final execve, happen on the
		// main thread.
		goruntime.LockOSThread()
	}
}

// IsChild reports whether this process is the runtime re-executed as a
// container init or exec helper; the program's main must then call
// ChildMain before anything else.
func IsChild() bool { return os.Getenv(envInit) != "" }

// ChildMain runs the container init or exec helper. It execs the
// container's process on success and exits with status 1 otherwise, after
// telling the parent why.
func ChildMain() {
	mode := os.Getenv(envInit)
	switch mode {
	case reapMode:
		reapMain() // never returns
	case usernsMode:
		usernsMain() // never returns
	}
	fd, err := strconv.Atoi(os.Getenv(envSync))
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth-runtime: bad sync fd")
		os.Exit(1)
	}
	conn := newSyncConn(os.NewFile(uintptr(fd), "sync"))
	if mode == cinitMode {
		// The nsenter constructor runs the C init and never returns to
		// Go: a binary that gets here lacks it (built without cgo).
		err = fmt.Errorf("this binary has no C init (built without cgo): %w", errNotSupported)
	} else if err = childNsenterCheck(os.Getenv(envNsenter), nsenter.Available); err == nil {
		err = childMain(mode, conn)
	}
	if conn.send(&syncMsg{Type: msgError, Msg: err.Error()}) != nil {
		// The parent is gone (the init failed after create returned): stderr is all we have.
		fmt.Fprintf(os.Stderr, "berth-runtime %s: %v\n", mode, err)
	}
	os.Exit(1)
}

func childMain(mode string, conn *syncConn) error {
	env := map[string]string{}
	for _, k := range []string{envFifo, envConsole, envPreserve} {
		env[k] = os.Getenv(k)
	}
	for _, k := range []string{envInit, envSync, envNsenter, envFifo, envConsole, envPreserve, "GOMAXPROCS", "GOGC"} {
		os.Unsetenv(k)
	}
	preserve, _ := strconv.Atoi(env[envPreserve])
	var cfg initConfig
	if err := conn.dec.Decode(&cfg); err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	console := -1
	if s := env[envConsole]; s != "" {
		console, _ = strconv.Atoi(s)
	}
	if mode == "exec" {
		return execMain(&cfg, conn, console, preserve)
	}
	fifo, err := strconv.Atoi(env[envFifo])
	if err != nil {
		return errors.New("no exec.fifo fd")
	}
	if cfg.Spec == nil || cfg.Process == nil {
		return errors.New("the config has no spec")
	}
	cfg.spec = cfg.Spec.spec(cfg.Process)
	return initMain(&cfg, conn, console, fifo, preserve)
}

// initMain sets the container up and waits on exec.fifo for Start.
func initMain(cfg *initConfig, conn *syncConn, console, fifo, preserve int) error {
	spec := cfg.spec
	unix.Umask(0)
	// Our own cgroup lines, read before a new cgroup namespace hides them,
	// say which host directories the container's /sys/fs/cgroup shows.
	var hostCgroups []string
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		hostCgroups = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	if cfg.CgroupNS {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("creating the cgroup namespace: %w", err)
		}
	}
	if !cfg.NoNewKeyring {
		name := "_ses." + cfg.ID
		if _, err := unix.KeyctlJoinSessionKeyring(name); err != nil && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EACCES) {
			return fmt.Errorf("creating a session keyring: %w", err)
		}
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
	}
	if newNetNS(spec) {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return fmt.Errorf("domainname: %w", err)
		}
	}
	root := -1
	if hasNS(spec, specs.MountNamespace) {
		var err error
		if root, err = prepareRootfs(cfg, hostCgroups); err != nil {
			return err
		}
	} else {
		return invalid("linux.namespaces: a mount namespace is required")
	}
	if spec.Hooks != nil && (len(spec.Hooks.Prestart) > 0 || len(spec.Hooks.CreateRuntime) > 0) {
		if err := conn.send(&syncMsg{Type: msgHooks}); err != nil {
			return err
		}
		if _, err := conn.expect(msgOK); err != nil {
			return err
		}
	}
	if spec.Hooks != nil && len(spec.Hooks.CreateContainer) > 0 {
		if err := runHooks("createContainer", spec.Hooks.CreateContainer, initState(cfg, specs.StateCreating)); err != nil {
			return err
		}
	}
	var err error
	if cfg.NoPivot {
		err = chrootInto(root)
	} else {
		err = pivotRoot(root)
	}
	unix.Close(root)
	if err != nil {
		return err
	}
	if cfg.Process.Terminal {
		if err := setupConsole(console, cfg.Process, true); err != nil {
			return err
		}
	}
	if err := writeSysctls(spec.Linux.Sysctl); err != nil {
		return err
	}
	if err := finishRootfs(spec, cfg.UserNS); err != nil {
		return err
	}
	// Limits, cwd and the program are checked now, so create fails on them.
	argv0, err := prepareProcess(cfg.Process)
	if err != nil {
		return err
	}
	if err := conn.send(&syncMsg{Type: msgReady, Init: "go"}); err != nil {
		return err
	}
	conn.f.Close()
	// Block until Start opens the other end of exec.fifo.
	if err := checkProcfs(); err != nil {
		return err
	}
	w, err := unix.Open(fdPath(fifo), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening exec.fifo: %w", err)
	}
	if _, err := unix.Write(w, []byte("0")); err != nil {
		return fmt.Errorf("writing exec.fifo: %w", err)
	}
	unix.Close(w)
	unix.Close(fifo)
	if spec.Hooks != nil && len(spec.Hooks.StartContainer) > 0 {
		if err := runHooks("startContainer", spec.Hooks.StartContainer, initState(cfg, specs.StateCreated)); err != nil {
			return err
		}
	}
	return finalize(cfg.Process, argv0, spec.Linux.Seccomp, preserve)
}

func initState(cfg *initConfig, st specs.ContainerState) *specs.State {
	return &specs.State{Version: specs.Version, ID: cfg.ID, Status: st, Pid: os.Getpid(), Bundle: cfg.Bundle, Annotations: cfg.spec.Annotations}
}

// execMain runs in a process that has joined the container's namespaces.
func execMain(cfg *initConfig, conn *syncConn, console, preserve int) error {
	unix.Umask(0o022)
	if _, err := unix.Setsid(); err != nil && cfg.Process.Terminal {
		return fmt.Errorf("setsid: %w", err)
	}
	if cfg.Process.Terminal {
		if err := setupConsole(console, cfg.Process, false); err != nil {
			return err
		}
	}
	argv0, err := prepareProcess(cfg.Process)
	if err != nil {
		return err
	}
	return finalize(cfg.Process, argv0, cfg.Seccomp, preserve)
}

var rlimitNames = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// prepareProcess checks the process's limits, applies its cwd and finds
// its program; it returns the path to exec.
func prepareProcess(p *specs.Process) (string, error) {
	// Checked now, set just before execve (rlimit_linux.go).
	if err := checkRlimits(p.Rlimits); err != nil {
		return "", err
	}
	if p.OOMScoreAdj != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*p.OOMScoreAdj)), 0); err != nil {
			return "", fmt.Errorf("process.oomScoreAdj: %w", err)
		}
	}
	if err := unix.Chdir(p.Cwd); err != nil {
		return "", fmt.Errorf("process.cwd %q: %w", p.Cwd, err)
	}
	// A cwd reached through a leaked fd lies outside the root, and getcwd
	// says so (CVE-2024-21626).
	if wd, err := unix.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
		return "", fmt.Errorf("process.cwd %q is outside the container root", p.Cwd)
	}
	return lookPath(p)
}

// finalize turns the calling thread into the container process:
// credentials, capabilities, seccomp, then execve.
func finalize(p *specs.Process, argv0 string, seccomp *specs.LinuxSeccomp, preserve int) error {
	umask := 0o022
	if p.User.Umask != nil {
		umask = int(*p.User.Umask)
	}
	unix.Umask(umask)
	// What allocates comes before the rlimits (rlimit_linux.go).
	exe, err := prepareExec(argv0, p.Args, p.Env)
	if err != nil {
		return fmt.Errorf("exec %q: %w", argv0, err)
	}
	loadSeccomp, err := prepareSeccomp(seccomp)
	if err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	// Read /proc now: once the filter is loaded, a system call that blocks
	// may make the Go scheduler start a thread, which the profile may
	// refuse (rlimit_linux.go).
	lastCap()
	// Before seccomp, whose profile may not allow setrlimit, and while we
	// still hold CAP_SYS_RESOURCE to raise a hard limit; the memory limits
	// are set by exe.exec.
	if exe.late, err = applyRlimits(p.Rlimits); err != nil {
		return err
	}
	// Before seccomp, whose profile may not allow these. Nothing of the runtime may leak into the container (CVE-2024-21626).
	if err := unix.CloseRange(uint(3+preserve), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("process.noNewPrivileges: %w", err)
		}
	} else if err := loadSeccomp(); err != nil {
		// Without no_new_privs loading needs CAP_SYS_ADMIN, which we drop below.
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	// Our bounding set is read before dropBounding changes it: what
	// capsFor keeps is in both ours and the spec's.
	cs := capsFor(p.Capabilities, lastCap(), boundingHas)
	if err := dropBounding(&cs); err != nil {
		return fmt.Errorf("process.capabilities.bounding: %w", err)
	}
	if err := setUser(p); err != nil {
		return err
	}
	if err := applyCaps(&cs); err != nil {
		return fmt.Errorf("process.capabilities: %w", err)
	}
	if p.NoNewPrivileges {
		if err := loadSeccomp(); err != nil {
			return fmt.Errorf("linux.seccomp: %w", err)
		}
	}
	return fmt.Errorf("exec %q: %w", argv0, exe.exec())
}

// setUser switches the calling thread to process.user, keeping capabilities
// across the switch so applyCaps can set exactly the ones asked for.
func setUser(p *specs.Process) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return err
	}
	groups := make([]uint32, 0, len(p.User.AdditionalGids))
	groups = append(groups, p.User.AdditionalGids...)
	if err := rawSetgroups(groups); err != nil {
		if !(errors.Is(err, unix.EPERM) && len(groups) == 0) {
			return fmt.Errorf("process.user.additionalGids: %w", err)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(p.User.GID), uintptr(p.User.GID), uintptr(p.User.GID)); e != 0 {
		return fmt.Errorf("process.user.gid %d: %w", p.User.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(p.User.UID), uintptr(p.User.UID), uintptr(p.User.UID)); e != 0 {
		return fmt.Errorf("process.user.uid %d: %w", p.User.UID, e)
	}
	return unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
}

func rawSetgroups(gids []uint32) error {
	var ptr uintptr
	if len(gids) > 0 {
		ptr = uintptr(unsafePointer(&gids[0]))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), ptr, 0); e != 0 {
		return e
	}
	return nil
}

// lookPath finds args[0] in the container, with the process's PATH.
func lookPath(p *specs.Process) (string, error) {
	name := p.Args[0]
	if strings.Contains(name, "/") {
		if err := unix.Access(name, unix.X_OK); err != nil {
			return "", fmt.Errorf("process.args[0] %q: %w", name, err)
		}
		return name, nil
	}
	for _, dir := range strings.Split(processPath(p), ":") {
		if dir == "" {
			dir = "."
		}
		c := dir + "/" + name
		var st unix.Stat_t
		if unix.Stat(c, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR && unix.Access(c, unix.X_OK) == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("process.args[0] %q: executable file not found in $PATH", name)
}

// processPath is the PATH args[0] is looked up in: the process's, or a default.
func processPath(p *specs.Process) string {
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range p.Env {
		if strings.HasPrefix(e, "PATH=") {
			path = e[5:]
		}
	}
	return path
}
