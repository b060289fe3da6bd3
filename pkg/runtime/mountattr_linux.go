package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Mount options of runtime-spec 1.1 and 1.2 that mount(2) cannot express:
//
//   - the recursive attributes (rro, rnosuid, rnodev, rnoexec, the r*atime
//     family, rnosymfollow and their inverses) apply to a mount and every
//     mount below it, through mount_setattr(2) with AT_RECURSIVE (Linux 5.12);
//   - idmap and ridmap make an idmapped bind mount (mount_setattr's
//     MOUNT_ATTR_IDMAP): files owned by on-disk id N appear owned by the
//     mapping of N, so a host directory owned by root is owned by the
//     container's root in a container with a user namespace.
//
// The kernel lets only a process with privilege over the filesystem's
// superblock (the host's root here) idmap a mount, and only while the mount
// is detached, so the runtime (parent) clones each idmapped bind source with
// open_tree(2), idmaps the clone and hands it to the init, which attaches it
// at the destination with move_mount(2).

// recursiveAttr is what one recursive option changes.
type recursiveAttr struct{ set, clr uint64 }

// recursiveAttrs maps each recursive option to mount_setattr changes. The
// access-time options replace the whole access-time setting (the kernel
// wants MOUNT_ATTR__ATIME cleared for that); the ones that turn a setting
// off (ratime, rnorelatime, rnostrictatime) fall back to the kernel's
// default, relatime, as the same options without "r" do with mount(2).
var recursiveAttrs = map[string]recursiveAttr{
	"rro": {set: unix.MOUNT_ATTR_RDONLY}, "rrw": {clr: unix.MOUNT_ATTR_RDONLY},
	"rnosuid": {set: unix.MOUNT_ATTR_NOSUID}, "rsuid": {clr: unix.MOUNT_ATTR_NOSUID},
	"rnodev": {set: unix.MOUNT_ATTR_NODEV}, "rdev": {clr: unix.MOUNT_ATTR_NODEV},
	"rnoexec": {set: unix.MOUNT_ATTR_NOEXEC}, "rexec": {clr: unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime": {set: unix.MOUNT_ATTR_NODIRATIME}, "rdiratime": {clr: unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {set: unix.MOUNT_ATTR_NOSYMFOLLOW}, "rsymfollow": {clr: unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rrelatime":      {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
	"rnoatime":       {set: unix.MOUNT_ATTR_NOATIME, clr: unix.MOUNT_ATTR__ATIME},
	"rstrictatime":   {set: unix.MOUNT_ATTR_STRICTATIME, clr: unix.MOUNT_ATTR__ATIME},
	"ratime":         {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
	"rnorelatime":    {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
	"rnostrictatime": {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
}

// idmapOptions are the idmapped-mount options.
var idmapOptions = map[string]bool{"idmap": true, "ridmap": true}

// mountAttrOf folds m's recursive options, in order, into one change.
func mountAttrOf(opts []string) (attr unix.MountAttr, any bool) {
	for _, o := range opts {
		ra, ok := recursiveAttrs[o]
		if !ok {
			continue
		}
		any = true
		attr.Attr_set = attr.Attr_set&^ra.clr&^ra.set | ra.set
		attr.Attr_clr = attr.Attr_clr&^ra.set | ra.clr
		if ra.clr&unix.MOUNT_ATTR__ATIME != 0 {
			attr.Attr_clr |= unix.MOUNT_ATTR__ATIME
		}
	}
	return attr, any
}

// idmapKind returns "idmap", "ridmap" or "" for m.
func idmapKind(m specs.Mount) string {
	kind := ""
	for _, o := range m.Options {
		if idmapOptions[o] {
			kind = o
		}
	}
	return kind
}

// checkMountAttrs validates m's recursive and idmap options against spec.
func checkMountAttrs(spec *specs.Spec, m specs.Mount) error {
	kind := idmapKind(m)
	if kind == "" {
		if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
			return invalid("uidMappings and gidMappings need the idmap or ridmap option")
		}
		return nil
	}
	if !isBind(m) {
		return invalid("option %s needs a bind mount", kind)
	}
	if (len(m.UIDMappings) > 0) != (len(m.GIDMappings) > 0) {
		return invalid("option %s: give both uidMappings and gidMappings, or neither", kind)
	}
	if len(m.UIDMappings) == 0 && !hasNewNS(spec, specs.UserNamespace) {
		return invalid("option %s needs the mount's uidMappings and gidMappings, or a new user namespace in linux.namespaces whose mappings it uses", kind)
	}
	return nil
}

// applyMountAttrs applies m's recursive options to the mount now at its
// destination in root, and every mount below it.
func applyMountAttrs(root int, m specs.Mount) error {
	attr, ok := mountAttrOf(m.Options)
	if !ok {
		return nil
	}
	fd, err := openInRoot(root, m.Destination, unix.O_PATH, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("recursive mount options (mount_setattr): %w", err)
	}
	return nil
}

// idmapTrees makes, in the runtime, one detached idmapped clone of the
// source of every idmap/ridmap mount of spec, in spec order. The caller
// passes them to the init and closes them.
func (r *Runtime) idmapTrees(spec *specs.Spec, bundle string) (trees []*os.File, err error) {
	defer func() {
		if err != nil {
			for _, f := range trees {
				f.Close()
			}
			trees = nil
		}
	}()
	usernsFDs := map[string]*os.File{} // by mappings
	defer func() {
		for _, f := range usernsFDs {
			f.Close()
		}
	}()
	for i, m := range spec.Mounts {
		kind := idmapKind(m)
		if kind == "" {
			continue
		}
		uids, gids := m.UIDMappings, m.GIDMappings
		if len(uids) == 0 {
			uids, gids = spec.Linux.UIDMappings, spec.Linux.GIDMappings
		}
		key := fmt.Sprint(uids, gids)
		ns := usernsFDs[key]
		if ns == nil {
			if ns, err = r.userNamespaceFD(uids, gids); err != nil {
				return trees, fmt.Errorf("mounts[%d] (%s): option %s: %w", i, m.Destination, kind, err)
			}
			usernsFDs[key] = ns
		}
		source := m.Source
		if !filepath.IsAbs(source) {
			source = filepath.Join(bundle, source)
		}
		flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
		if hasMountOption(m.Options, "rbind") {
			flags |= unix.AT_RECURSIVE
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, source, flags)
		if err != nil {
			return trees, fmt.Errorf("mounts[%d] (%s): cloning bind source %q: %w", i, m.Destination, m.Source, err)
		}
		tree := os.NewFile(uintptr(fd), "idmap-tree")
		trees = append(trees, tree)
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns.Fd())}
		setFlags := uint(unix.AT_EMPTY_PATH)
		if kind == "ridmap" {
			setFlags |= unix.AT_RECURSIVE
		}
		if err := unix.MountSetattr(fd, "", setFlags, &attr); err != nil {
			return trees, fmt.Errorf("mounts[%d] (%s): option %s (mount_setattr MOUNT_ATTR_IDMAP; the filesystem of %q may not support idmapped mounts): %w", i, m.Destination, kind, m.Source, err)
		}
	}
	return trees, nil
}

// userNamespaceFD returns an fd of a new user namespace with the given
// mappings, held by a short-lived child of ours.
func (r *Runtime) userNamespaceFD(uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	exe, err := selfExe(r.initBinary)
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	hold, release, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer hold.Close()
	defer release.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/3",
		Args:       []string{"berth-runtime", usernsMode},
		Env:        []string{envInit + "=" + usernsMode},
		Dir:        "/",
		Stdin:      hold,
		ExtraFiles: []*os.File{exe},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: idMaps(uids),
			GidMappings: idMaps(gids),
			Pdeathsig:   unix.SIGKILL,
		},
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("making a user namespace for the mapping: %w", err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	// The maps are written before the child execs, so before Start returns.
	return os.Open("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/user")
}

// usernsMode is the runtime re-executed only to hold a user namespace open.
const usernsMode = "userns"

// usernsMain waits for its stdin to close (the runtime has opened the
// namespace), then exits.
func usernsMain() {
	var b [1]byte
	os.Stdin.Read(b[:])
	os.Exit(0)
}

// envIDMapTrees lists the fds of the idmapped trees the init attaches, in
// spec order.
const envIDMapTrees = "_BERTH_IDMAP_TREES"

// idmapTreeFDs are the init's idmapped trees not yet attached, read (and
// cleared) from the environment on first use.
var idmapTreeFDs struct {
	once sync.Once
	fds  []int
}

// nextIDMapTree returns the fd of the next idmapped tree, in spec order.
func nextIDMapTree() (int, bool) {
	t := &idmapTreeFDs
	t.once.Do(func() {
		s := os.Getenv(envIDMapTrees)
		os.Unsetenv(envIDMapTrees)
		for _, f := range strings.Split(s, ",") {
			if n, err := strconv.Atoi(f); err == nil {
				t.fds = append(t.fds, n)
			}
		}
	})
	if len(t.fds) == 0 {
		return -1, false
	}
	fd := t.fds[0]
	t.fds = t.fds[1:]
	return fd, true
}

// attachIDMapTree puts the idmapped clone tree at dst (an fd of the
// destination in the container's root).
func attachIDMapTree(tree, dst int) error {
	if err := unix.MoveMount(tree, "", dst, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("attaching the idmapped mount (move_mount): %w", err)
	}
	unix.Close(tree)
	return nil
}

// bindMount bind-mounts src on dst, or attaches the idmapped clone of src
// the runtime made (idmap, ridmap).
func bindMount(m specs.Mount, src, dst, flags int) error {
	if kind := idmapKind(m); kind != "" {
		tree, ok := nextIDMapTree()
		if !ok {
			return fmt.Errorf("option %s: the runtime sent no idmapped mount", kind)
		}
		return attachIDMapTree(tree, dst)
	}
	if err := unix.Mount(fdPath(src), fdPath(dst), "", uintptr(flags&(unix.MS_BIND|unix.MS_REC)), ""); err != nil {
		return fmt.Errorf("bind mount: %w", err)
	}
	return nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}
