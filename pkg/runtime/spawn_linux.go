package runtime

import (
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/runtime/nsenter"
)

// Environment variables the re-executed runtime reads before anything else.
const (
	envInit     = "_BERTH_INIT"     // "init", "cinit" or "exec": run as container init / exec helper
	envSync     = "_BERTH_SYNC"     // fd of the sync socket
	envNsenter  = "_BERTH_NSENTER"  // instructions for the nsenter constructor
	envConsole  = "_BERTH_CONSOLE"  // fd of the console socket, if any
	envFifo     = "_BERTH_FIFO"     // fd of exec.fifo (O_PATH), init only
	envPreserve = "_BERTH_PRESERVE" // number of preserved fds after stdio
)

// nsJoin is a namespace the child joins by fd before the Go runtime starts.
type nsJoin struct {
	typ  int // CLONE_NEW*
	file *os.File
}

// child describes a re-executed runtime process to start.
type child struct {
	mode       string // "init", "cinit" or "exec"
	cloneflags uintptr
	unshare    uintptr // created by nsenter after the joins
	fork       bool    // nsenter forks so the child lands in a joined/new pid namespace
	uidMap     []syscall.SysProcIDMap
	gidMap     []syscall.SysProcIDMap
	joins      []nsJoin
	stdio      [3]*os.File
	preserve   []*os.File
	fifo       *os.File
	idmaps     []*os.File                // idmapped mount trees for the init to attach
	userMaps   [2][]syscall.SysProcIDMap // uid and gid maps mapUser writes for nsenter
	console    *os.File
	exe        string // binary to re-execute; "" for this one
	fifoFD     int    // set by start: the number of fifo in the child
	consoleFD  int    // set by start: the number of console in the child, or -1
	idmapFDs   []int  // set by start: the numbers of idmaps in the child
}

// started is a child that runs, with the parent's end of its sync socket.
type started struct {
	pid  int
	ours bool // our own child, not yet reaped
	conn *syncConn
}

// wait reaps the child if it is ours and says how it ended.
func (s *started) wait() error {
	if !s.ours {
		return nil
	}
	s.ours = false
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(s.pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return nil
	case ws.Exited():
		return fmt.Errorf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Errorf("signal: %v", ws.Signal())
	}
	return fmt.Errorf("wait status %#x", uint32(ws))
}

// nsenterCheck says whether a child that must join namespaces can be
// started. The joins happen in the nsenter constructor of the binary that
// is re-executed, before its Go runtime starts, so what matters is that
// binary, not the running one: the running program when there is no init
// binary (it needs cgo), otherwise the init binary, which itself refuses
// to go on when it lacks the constructor (childNsenterCheck), so a
// non-cgo parent (a static berth-monitor) may rely on it.
func nsenterCheck(joins, initBinary, available bool) error {
	if joins && !initBinary && !available {
		return fmt.Errorf("joining namespaces needs a cgo build of berth (nsenter) or a berth-runtime init binary: %w", errNotSupported)
	}
	return nil
}

// childNsenterCheck is the child's side: asked to join namespaces
// (nsenterEnv set), a binary without the constructor has not joined them
// and must not go on in the namespaces it inherited.
func childNsenterCheck(nsenterEnv string, available bool) error {
	if nsenterEnv != "" && !available {
		return fmt.Errorf("this binary was built without cgo and cannot join the namespaces it was asked to (nsenter): %w", errNotSupported)
	}
	return nil
}

// start re-executes the runtime from a sealed memfd as described by c.
func (c *child) start() (*started, error) {
	if err := nsenterCheck(len(c.joins) > 0, c.exe != "", nsenter.Available); err != nil {
		return nil, err
	}
	exe, err := selfExe(c.exe)
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parent := os.NewFile(uintptr(fds[0]), "sync-parent")
	childEnd := os.NewFile(uintptr(fds[1]), "sync-child")
	defer childEnd.Close()

	extra := append([]*os.File{}, c.preserve...)
	add := func(f *os.File) int {
		extra = append(extra, f)
		return 2 + len(extra)
	}
	env := []string{
		// The child is short-lived and small: one P spares it the threads
		// the scheduler would start to spin, and with no GC it never
		// stops to mark a heap of a few hundred KiB. Both are read by the
		// Go runtime before any of our code runs, so they are set here.
		"GOMAXPROCS=1",
		"GOGC=off",
		envInit + "=" + c.mode,
		envSync + "=" + strconv.Itoa(add(childEnd)),
		envPreserve + "=" + strconv.Itoa(len(c.preserve)),
	}
	if c.fifo != nil {
		c.fifoFD = add(c.fifo)
		env = append(env, envFifo+"="+strconv.Itoa(c.fifoFD))
	}
	c.consoleFD = -1
	if c.console != nil {
		c.consoleFD = add(c.console)
		env = append(env, envConsole+"="+strconv.Itoa(c.consoleFD))
	}
	if len(c.idmaps) > 0 {
		var fds []string
		c.idmapFDs = nil
		for _, f := range c.idmaps {
			n := add(f)
			c.idmapFDs = append(c.idmapFDs, n)
			fds = append(fds, strconv.Itoa(n))
		}
		env = append(env, envIDMapTrees+"="+strings.Join(fds, ","))
	}
	if len(c.joins) > 0 || c.unshare != 0 || c.fork {
		var js []string
		for _, j := range c.joins {
			js = append(js, fmt.Sprintf("%d:%d", add(j.file), j.typ))
		}
		fork := 0
		if c.fork {
			fork = 1
		}
		env = append(env, fmt.Sprintf("%s=%d;%d;%d;%s", envNsenter, 3+len(c.preserve), c.unshare, fork, strings.Join(js, ",")))
	}
	exeFD := add(exe)
	sys := &syscall.SysProcAttr{
		Cloneflags:                 c.cloneflags,
		UidMappings:                c.uidMap,
		GidMappings:                c.gidMap,
		GidMappingsEnableSetgroups: true,
		Setsid:                     true,
	}
	if c.cloneflags&unix.CLONE_NEWUSER != 0 {
		// The child keeps our (unmapped) ids until it switches to the
		// namespace's root; only then does execve give it capabilities there.
		sys.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	files := make([]uintptr, 0, 3+len(extra))
	var devNull *os.File
	for _, f := range append(c.stdio[:], extra...) {
		if f == nil {
			if devNull == nil {
				if devNull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
					parent.Close()
					return nil, err
				}
				defer devNull.Close()
			}
			f = devNull
		}
		files = append(files, f.Fd())
	}
	// syscall.ForkExec, not os/exec: os.StartProcess first forks a probe
	// child to learn whether pidfds work, a whole process per runtime
	// call. The exe fd sits at exeFD in the child: the path is resolved
	// there, after the files have been arranged.
	pid, err := syscall.ForkExec("/proc/self/fd/"+strconv.Itoa(exeFD), []string{"berth-runtime", c.mode},
		&syscall.ProcAttr{Env: env, Files: files, Sys: sys})
	goruntime.KeepAlive(c.stdio)
	goruntime.KeepAlive(extra)
	if err != nil {
		parent.Close()
		return nil, fmt.Errorf("starting the runtime's child: %w", err)
	}
	s := &started{pid: pid, ours: true, conn: newSyncConn(parent)}
	if c.unshare&unix.CLONE_NEWUSER != 0 {
		if err := s.mapUser(c); err != nil {
			s.kill()
			return nil, err
		}
	}
	if c.fork {
		m, err := s.conn.expect(msgPid)
		werr := s.wait()
		if err != nil {
			parent.Close()
			return nil, err
		}
		if werr != nil {
			unix.Kill(m.Pid, unix.SIGKILL)
			parent.Close()
			return nil, fmt.Errorf("nsenter: %w", werr)
		}
		s.pid = m.Pid
		s.ours = false // a grandchild
	}
	return s, nil
}

// kill ends a child that failed half way and reaps it if it is ours.
func (s *started) kill() {
	unix.Kill(s.pid, unix.SIGKILL)
	s.wait()
	s.conn.f.Close()
}
