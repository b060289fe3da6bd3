package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// entry is the cgroup's directory in one hierarchy.
type entry struct {
	h   *hierarchy
	dir string
}

// manager is the Manager of cgroupfs (v1, v2 and hybrid).
type manager struct {
	lay *layout
	// entries holds the v1 hierarchies first, then the v2 tree.
	entries []entry
	// made is set once create has made (or found) every directory, so
	// that Set then Apply do not walk the hierarchies twice.
	made bool
}

var _ Manager = (*manager)(nil)

// New returns the Manager of the cgroup at path, an OCI linux.cgroupsPath:
// absolute paths are taken from the root of every hierarchy, relative ones
// from the calling process's own cgroup. Nothing is created until Set or
// Apply.
func New(path string) (Manager, error) {
	p, err := ValidatePath(path)
	if err != nil {
		return nil, err
	}
	l, err := hostLayout()
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w: %w", err, errdefs.ErrUnavailable)
	}
	return newManager(l, p), nil
}

func newManager(l *layout, p string) *manager {
	m := &manager{lay: l}
	for _, h := range l.v1 {
		m.entries = append(m.entries, entry{h, h.dirFor(p)})
	}
	if l.v2 != nil {
		m.entries = append(m.entries, entry{l.v2, l.v2.dirFor(p)})
	}
	return m
}

// Load returns the Manager of a cgroup from the directories that
// Manager.Paths reported (kept in a container's state). Every directory
// must lie inside the mount of its hierarchy.
func Load(paths map[string]string) (Manager, error) {
	l, err := hostLayout()
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w: %w", err, errdefs.ErrUnavailable)
	}
	return loadManager(l, paths)
}

func loadManager(l *layout, paths map[string]string) (*manager, error) {
	m := &manager{lay: l}
	all := append([]*hierarchy{}, l.v1...)
	if l.v2 != nil {
		all = append(all, l.v2)
	}
	for _, h := range all {
		dir, ok := paths[h.name]
		if !ok {
			continue
		}
		c := filepath.Clean(dir)
		if c != dir || !strings.HasPrefix(c, h.mountpoint+"/") {
			return nil, fmt.Errorf("cgroup path %q for hierarchy %q is not inside %s: %w", dir, h.name, h.mountpoint, errdefs.ErrInvalidArgument)
		}
		m.entries = append(m.entries, entry{h, c})
	}
	if len(m.entries) == 0 {
		return nil, fmt.Errorf("no cgroup path matches a hierarchy of this host: %w", errdefs.ErrInvalidArgument)
	}
	return m, nil
}

// dirOf returns the directory serving controller c (v1 spelling) and
// whether it is on the v2 tree; "" when the host lacks it.
func (m *manager) dirOf(c string) (string, bool) {
	h := m.lay.owner[c]
	if h == nil {
		return "", false
	}
	for _, e := range m.entries {
		if e.h == h {
			return e.dir, h == m.lay.v2
		}
	}
	return "", false
}

func (m *manager) v2dir() string {
	for _, e := range m.entries {
		if e.h == m.lay.v2 {
			return e.dir
		}
	}
	return ""
}

// Path implements Manager.
func (m *manager) Path(controller string) string {
	switch controller {
	case "":
		return m.v2dir()
	case "io":
		controller = "blkio"
	}
	d, _ := m.dirOf(controller)
	return d
}

// Paths implements Manager.
func (m *manager) Paths() map[string]string {
	p := make(map[string]string, len(m.entries))
	for _, e := range m.entries {
		p[e.h.name] = e.dir
	}
	return p
}

// Exists implements Manager.
func (m *manager) Exists() bool {
	for _, e := range m.entries {
		if _, err := os.Stat(e.dir); err == nil {
			return true
		}
	}
	return false
}

// create makes the cgroup directory in every hierarchy and returns the
// directories it made, parents first.
func (m *manager) create() (created []string, err error) {
	if m.made {
		return nil, nil
	}
	defer func() {
		if err != nil {
			removeDirs(created)
			created = nil
		} else {
			m.made = true
		}
	}()
	for _, e := range m.entries {
		isV2 := e.h == m.lay.v2
		rel, rerr := filepath.Rel(e.h.mountpoint, e.dir)
		if rerr != nil || rel == "." || strings.HasPrefix(rel, "..") {
			return created, fmt.Errorf("cgroup %s is outside %s: %w", e.dir, e.h.mountpoint, errdefs.ErrInvalidArgument)
		}
		cur := e.h.mountpoint
		for _, part := range strings.Split(rel, "/") {
			if isV2 {
				enableControllers(cur, m.lay.v2.controllers)
			}
			next := filepath.Join(cur, part)
			made, err := mkdir(next)
			if err != nil {
				return created, fmt.Errorf("creating cgroup %s: %w", next, err)
			}
			if made {
				created = append(created, next)
			}
			// Also for existing levels: a parent made by another tool may
			// have been left with an empty cpuset.
			if !isV2 && contains(e.h.controllers, "cpuset") {
				if err := initCpuset(cur, next); err != nil {
					return created, err
				}
			}
			cur = next
		}
	}
	return created, nil
}

// mkdir creates dir and reports whether it did. A parent removed by a
// racing Destroy of a sibling is not an error worth failing on: retry once.
func mkdir(dir string) (bool, error) {
	for range 2 {
		err := os.Mkdir(dir, 0o755)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, fs.ErrExist):
			// A control file of the same name ("memory.max") is not a cgroup.
			if fi, serr := os.Lstat(dir); serr != nil || !fi.IsDir() {
				return false, fmt.Errorf("%s exists and is not a cgroup: %w", dir, errdefs.ErrInvalidArgument)
			}
			return false, nil
		case errors.Is(err, fs.ErrNotExist):
			if _, err := mkdir(filepath.Dir(dir)); err != nil {
				return false, err
			}
			continue
		default:
			return false, err
		}
	}
	return false, fmt.Errorf("mkdir %s: parent keeps disappearing", dir)
}

// initCpuset copies cpuset.cpus and cpuset.mems from parent into a new v1
// cpuset cgroup: v1 starts them empty, and an empty cpuset takes no tasks.
func initCpuset(parent, dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := readString(dir, f)
		if err != nil {
			return fmt.Errorf("initialising cpuset %s: %w", dir, err)
		}
		if cur != "" {
			continue
		}
		v, err := readString(parent, f)
		if err != nil {
			return fmt.Errorf("initialising cpuset %s: %w", dir, err)
		}
		if err := writeFile(dir, f, v); err != nil {
			return fmt.Errorf("initialising cpuset %s/%s: %w", dir, f, err)
		}
	}
	return nil
}

// enableControllers turns on, in dir's cgroup.subtree_control, every
// controller of want that dir offers. It is best effort: a controller the
// kernel refuses (a cgroup with processes cannot delegate domain
// controllers) shows up later as a missing file when Set needs it.
func enableControllers(dir string, want []string) {
	avail, err := readString(dir, "cgroup.controllers")
	if err != nil {
		return
	}
	on, _ := readString(dir, "cgroup.subtree_control")
	enabled := strings.Fields(on)
	for _, c := range want {
		if c == "blkio" {
			c = "io"
		}
		if !contains(strings.Fields(avail), c) || contains(enabled, c) {
			continue
		}
		_ = writeFile(dir, "cgroup.subtree_control", "+"+c)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// removeDirs removes directories created by this manager, deepest first.
func removeDirs(dirs []string) {
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = unix.Rmdir(dirs[i])
	}
}

// Apply implements Manager.
func (m *manager) Apply(pid int) (err error) {
	if pid <= 0 && pid != -1 {
		return fmt.Errorf("cgroup apply: bad pid %d: %w", pid, errdefs.ErrInvalidArgument)
	}
	created, err := m.create()
	if err != nil {
		return err
	}
	if pid == -1 {
		return nil
	}
	for _, e := range m.entries {
		if err := writeFile(e.dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			removeDirs(created)
			if errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("moving pid %d into cgroup %s: %w: %w", pid, e.dir, unwrapPath(err), errdefs.ErrNotFound)
			}
			return fmt.Errorf("moving pid %d into cgroup %s: %w", pid, e.dir, unwrapPath(err))
		}
	}
	return nil
}

// destroyWait bounds how long Destroy waits for exiting processes.
const destroyWait = 5 * time.Second

// Destroy implements Manager.
func (m *manager) Destroy() error {
	m.made = false
	deadline := time.Now().Add(destroyWait)
	var errs []error
	done := map[string]bool{}
	for _, e := range m.entries {
		if done[e.dir] {
			continue
		}
		done[e.dir] = true
		if err := removeTree(e.dir, deadline); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeTree removes cgroup dir and the cgroups below it, deepest first.
// rmdir fails with EBUSY while processes are still leaving, so it retries
// until deadline.
func removeTree(dir string, deadline time.Time) error {
	// Usually there is nothing below it and nothing left in it: one rmdir.
	if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("removing cgroup %s: %w", dir, err)
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	for _, d := range dirs {
		delay := time.Millisecond
		for {
			err := unix.Rmdir(d)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				return fmt.Errorf("removing cgroup %s: %w", d, err)
			}
			time.Sleep(delay)
			delay = min(2*delay, 50*time.Millisecond)
		}
	}
	return nil
}

// procsDir is the directory whose cgroup.procs lists the container's
// processes: the freezer's (the hierarchy Signal works through), or any.
func (m *manager) procsDir() string {
	for _, c := range []string{"freezer", "pids", "memory", "cpu"} {
		if d, _ := m.dirOf(c); d != "" {
			return d
		}
	}
	if len(m.entries) > 0 {
		return m.entries[0].dir
	}
	return ""
}

// Pids implements Manager.
func (m *manager) Pids() ([]int, error) {
	dir := m.procsDir()
	seen := map[int]bool{}
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		list, err := readPids(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		for _, pid := range list {
			if !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("listing processes of cgroup %s: %w", dir, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("listing processes of cgroup %s: %w", dir, err)
	}
	return pids, nil
}

// Signal implements Manager. Processes are frozen while they are signalled
// so that none can fork a child that escapes the signal. SIGKILL goes
// through cgroup.kill where the kernel has it (v2, Linux 5.14), and
// otherwise kills round after round until no process is left that was not
// killed, which needs no freezing (freezing costs milliseconds on v1).
func (m *manager) Signal(sig syscall.Signal) error {
	if sig == unix.SIGKILL {
		if d := m.v2dir(); d != "" && m.lay.mode == Unified {
			if err := writeFile(d, "cgroup.kill", "1"); err == nil {
				return nil
			}
		}
	}
	wasFrozen, ferr := m.Frozen()
	if sig == unix.SIGKILL && ferr == nil && !wasFrozen {
		if done, err := m.killLoop(); done || err != nil {
			return err
		}
	}
	froze := false
	if ferr == nil && !wasFrozen {
		froze = m.Freeze() == nil
	}
	pids, err := m.Pids()
	if err == nil {
		for _, pid := range pids {
			if kerr := unix.Kill(pid, sig); kerr != nil && !errors.Is(kerr, unix.ESRCH) {
				err = fmt.Errorf("signalling pid %d: %w", pid, kerr)
			}
		}
	}
	// A frozen task acts on SIGKILL only once thawed: a paused container
	// being killed is thawed so that it dies; other signals wait for resume.
	if froze || (wasFrozen && sig == unix.SIGKILL) {
		if terr := m.Thaw(); terr != nil && err == nil {
			err = terr
		}
	}
	return err
}

// killLoop SIGKILLs every process of the cgroup, listing again until a
// round finds no process it has not killed: a killed process forks no more,
// so only children forked before their parent died can appear, and the
// next round gets them. It gives up (done false) after a bound, for the
// caller to fall back on freezing.
func (m *manager) killLoop() (done bool, err error) {
	killed := map[int]bool{}
	for range 100 {
		pids, err := m.Pids()
		if err != nil {
			return false, err
		}
		fresh := false
		for _, pid := range pids {
			if killed[pid] {
				continue
			}
			fresh = true
			killed[pid] = true
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				return false, fmt.Errorf("killing pid %d: %w", pid, err)
			}
		}
		if !fresh {
			return true, nil
		}
	}
	return false, nil
}
