package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// prepareRootfs runs in the init's new mount namespace before pivot_root:
// it makes the root a mount point and mounts the spec's mounts into it in
// order, then creates /dev. It returns an O_PATH fd of the new root.
func prepareRootfs(cfg *initConfig, hostCgroups []string) (int, error) {
	spec := cfg.spec
	prop, err := mountNSPropagation(spec)
	if err != nil {
		return -1, err
	}
	if err := unix.Mount("", "/", "", uintptr(prop), ""); err != nil {
		return -1, fmt.Errorf("setting propagation of /: %w", err)
	}
	if prop&(unix.MS_SHARED|unix.MS_UNBINDABLE) != 0 && !cfg.NoPivot {
		if err := privatePivotMounts(cfg.Rootfs); err != nil {
			return -1, err
		}
	}
	if err := unix.Mount(cfg.Rootfs, cfg.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.EACCES) && cfg.UserNS {
			return -1, fmt.Errorf("root.path %s is not reachable by the user namespace's root: make its parent directories searchable (o+x): %w", cfg.Rootfs, err)
		}
		return -1, fmt.Errorf("bind-mounting the rootfs onto itself: %w", err)
	}
	root, err := unix.Open(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening rootfs: %w", err)
	}
	devBound := false
	for i, m := range spec.Mounts {
		if err := mountOne(root, cfg, m, hostCgroups); err != nil {
			unix.Close(root)
			return -1, fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
		if path.Clean(m.Destination) == "/dev" && isBind(m) {
			devBound = true
		}
	}
	if !devBound {
		if err := createDevices(root, spec, cfg.UserNS); err != nil {
			unix.Close(root)
			return -1, err
		}
	}
	return root, nil
}

// mountNSPropagation is the propagation the init's mount namespace is
// given before anything is mounted: rslave, or linux.rootfsPropagation.
func mountNSPropagation(spec *specs.Spec) (int, error) {
	if spec.Linux.RootfsPropagation == "" {
		return unix.MS_SLAVE | unix.MS_REC, nil
	}
	p, ok := propagationFlag(spec.Linux.RootfsPropagation)
	if !ok {
		return 0, invalid("linux.rootfsPropagation %q is not a propagation mode", spec.Linux.RootfsPropagation)
	}
	return p, nil
}

// strictMount reports whether m's destination must be a directory reached
// without any symlink: procfs and sysfs over a symlink are how
// CVE-2019-19921 style attacks redirect writes.
func strictMount(m specs.Mount) bool { return m.Type == "proc" || m.Type == "sysfs" }

func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// mountOne mounts m at its destination resolved inside root.
func mountOne(root int, cfg *initConfig, m specs.Mount, hostCgroups []string) error {
	flags, props, data, _, err := parseMountOptions(m.Options)
	if err != nil {
		return err
	}
	strict := strictMount(m)
	bind := isBind(m)
	if bind {
		flags |= unix.MS_BIND
	}
	var src int = -1
	isFile := false
	if bind {
		source := m.Source
		if !filepath.IsAbs(source) {
			source = filepath.Join(cfg.Bundle, source)
		}
		src, err = unix.Open(source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("bind source %q: %w", m.Source, err)
		}
		defer unix.Close(src)
		var st unix.Stat_t
		if err := unix.Fstat(src, &st); err != nil {
			return err
		}
		isFile = st.Mode&unix.S_IFMT != unix.S_IFDIR
	}
	dst, err := mkdirAllInRoot(root, m.Destination, isFile, strict)
	if err != nil {
		return err
	}
	defer unix.Close(dst)
	if strict {
		var st unix.Stat_t
		if err := unix.Fstat(dst, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("destination is not a directory")
		}
	}
	switch {
	case bind:
		if err := bindMount(m, src, dst, flags); err != nil {
			return err
		}
		if bindNeedsRemount(flags) {
			if err := remountInRoot(root, m.Destination, flags, cfg.UserNS); err != nil {
				return err
			}
		}
	case m.Type == "cgroup" || m.Type == "cgroup2":
		if err := mountCgroups(root, m.Destination, dst, m.Type, flags, cfg, hostCgroups); err != nil {
			return err
		}
	case hasMountOption(m.Options, "tmpcopyup"):
		if err := mountTmpcopyup(root, m, dst, flags, data); err != nil {
			return err
		}
	default:
		err := unix.Mount(m.Source, fdPath(dst), m.Type, uintptr(flags&^unix.MS_REC), data)
		if err != nil && m.Type == "sysfs" && errors.Is(err, unix.EPERM) && cfg.UserNS {
			// A user namespace without its own network namespace may not
			// mount sysfs: bind the host's read-only instead, as runc does.
			err = unix.Mount("/sys", fdPath(dst), "", unix.MS_BIND|unix.MS_REC, "")
			if err == nil {
				err = remountInRoot(root, m.Destination, unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, true)
			}
		}
		if err != nil {
			return err
		}
	}
	if err := applyMountAttrs(root, m); err != nil {
		return err
	}
	if len(props) > 0 {
		fd, err := openInRoot(root, m.Destination, unix.O_PATH, false)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for _, p := range props {
			if err := unix.Mount("", fdPath(fd), "", uintptr(p), ""); err != nil {
				return fmt.Errorf("setting propagation: %w", err)
			}
		}
	}
	return nil
}

// remountInRoot applies flags to the mount now at p (re-resolved, so the
// fd names the new mount, not what it covers). In a user namespace the
// locked flags of the mount are kept, or the kernel refuses.
func remountInRoot(root int, p string, flags int, userns bool) error {
	fd, err := openInRoot(root, p, unix.O_PATH, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return remountFD(fd, flags, userns)
}

func remountFD(fd int, flags int, userns bool) error {
	if userns {
		var st unix.Statfs_t
		if err := unix.Fstatfs(fd, &st); err == nil {
			for stf, mf := range map[int64]int{unix.ST_NOSUID: unix.MS_NOSUID, unix.ST_NODEV: unix.MS_NODEV,
				unix.ST_NOEXEC: unix.MS_NOEXEC, unix.ST_RDONLY: unix.MS_RDONLY} {
				if st.Flags&stf != 0 {
					flags |= mf
				}
			}
		}
	}
	flags &^= unix.MS_REC
	if err := unix.Mount("", fdPath(fd), "", uintptr(flags|unix.MS_REMOUNT|unix.MS_BIND), ""); err != nil {
		return fmt.Errorf("remount: %w", err)
	}
	return nil
}

// mountCgroups gives the container its cgroups at dest: cgroup2 on a
// unified host, a tmpfs with one bind mount per hierarchy otherwise.
func mountCgroups(root int, dest string, dst int, typ string, flags int, cfg *initConfig, hostCgroups []string) error {
	mounts, err := cgroupMounts("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	if ownCgroup2(mounts, cfg.CgroupNS) {
		return unix.Mount("cgroup2", fdPath(dst), "cgroup2", uintptr(flags&^unix.MS_REC), "")
	}
	if err := unix.Mount("tmpfs", fdPath(dst), "tmpfs", uintptr(flags&^(unix.MS_RDONLY|unix.MS_REC)), "mode=755"); err != nil {
		return fmt.Errorf("tmpfs for cgroups: %w", err)
	}
	for _, b := range cgroupBinds(mounts, hostCgroups) {
		name := b.name
		src, err := unix.Open(b.source, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("cgroup %s: %w", b.line, err)
		}
		target := path.Join(dest, name)
		t, err := mkdirAllInRoot(root, target, false, true)
		if err != nil {
			unix.Close(src)
			return err
		}
		err = unix.Mount(fdPath(src), fdPath(t), "", unix.MS_BIND|unix.MS_REC, "")
		unix.Close(src)
		unix.Close(t)
		if err != nil {
			return fmt.Errorf("bind-mounting cgroup %s: %w", name, err)
		}
		if err := remountInRoot(root, target, unix.MS_BIND|(flags&^unix.MS_REC), cfg.UserNS); err != nil {
			return err
		}
		if strings.Contains(name, ",") {
			for _, c := range strings.Split(name, ",") {
				d, err := openInRoot(root, dest, unix.O_PATH|unix.O_DIRECTORY, true)
				if err != nil {
					return err
				}
				unix.Symlinkat(name, d, c)
				unix.Close(d)
			}
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		return remountInRoot(root, dest, unix.MS_BIND|(flags&^unix.MS_REC), cfg.UserNS)
	}
	return nil
}

// bindNeedsRemount reports whether a bind mount with flags needs a
// remount to apply them (a bind ignores all but MS_BIND and MS_REC).
func bindNeedsRemount(flags int) bool {
	return flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0
}

// ownCgroup2 reports whether the container gets a cgroup2 mount of its own
// (a unified host and a cgroup namespace) rather than binds of the host's
// hierarchies.
func ownCgroup2(mounts []cgroupMount, cgroupNS bool) bool {
	return cgroupNS && len(mounts) == 1 && mounts[0].fstype == "cgroup2" && mounts[0].point == "/sys/fs/cgroup"
}

// cgroupBind is one hierarchy bound under the container's /sys/fs/cgroup:
// the host directory of the container's cgroup in it, at name.
type cgroupBind struct {
	line, source, name string
}

// cgroupBinds matches the init's cgroup lines (/proc/PID/cgroup) with the
// hierarchies mounted on the host; a single hierarchy is bound at the top.
func cgroupBinds(mounts []cgroupMount, hostCgroups []string) []cgroupBind {
	var out []cgroupBind
	for _, line := range hostCgroups {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var mp *cgroupMount
		for i := range mounts {
			if parts[1] == "" && mounts[i].fstype == "cgroup2" || parts[1] != "" && mounts[i].matches(parts[1]) {
				mp = &mounts[i]
				break
			}
		}
		if mp == nil {
			continue
		}
		name := filepath.Base(mp.point)
		if len(mounts) == 1 {
			name = ""
		}
		out = append(out, cgroupBind{line: line, source: filepath.Join(mp.point, parts[2]), name: name})
	}
	return out
}

type cgroupMount struct {
	point, fstype string
	opts          []string
}

func (m *cgroupMount) matches(controllers string) bool {
	if m.fstype != "cgroup" {
		return false
	}
	for _, c := range strings.Split(controllers, ",") {
		found := false
		for _, o := range m.opts {
			if o == c {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// cgroupMounts lists the cgroup hierarchies mounted in the mount namespace
// whose mountinfo file is given.
func cgroupMounts(mountinfo string) ([]cgroupMount, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cgroupMount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+3 >= len(fields) || len(fields) < 5 {
			continue
		}
		fstype := fields[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		out = append(out, cgroupMount{point: fields[4], fstype: fstype, opts: strings.Split(fields[sep+3], ",")})
	}
	return out, sc.Err()
}

var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// deviceList is the default and the spec's device nodes, each path once
// (the spec's entry wins), in order.
func deviceList(spec *specs.Spec) []specs.LinuxDevice {
	devs := map[string]int{}
	var out []specs.LinuxDevice
	for _, d := range append(append([]specs.LinuxDevice{}, defaultDevices...), spec.Linux.Devices...) {
		p := path.Clean(d.Path)
		d.Path = p
		if i, ok := devs[p]; ok {
			out[i] = d
			continue
		}
		devs[p] = len(out)
		out = append(out, d)
	}
	return out
}

// devLink is a symlink in /dev: name -> target; replace removes what is
// there first.
type devLink struct {
	target, name string
	replace      bool
}

// devLinks are the standard /dev symlinks for spec.
func devLinks(spec *specs.Spec) []devLink {
	links := []devLink{{"/proc/self/fd", "fd", false}, {"/proc/self/fd/0", "stdin", false},
		{"/proc/self/fd/1", "stdout", false}, {"/proc/self/fd/2", "stderr", false}}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, devLink{"/proc/kcore", "core", false})
	}
	for _, m := range spec.Mounts {
		if path.Clean(m.Destination) == "/dev/pts" && m.Type == "devpts" {
			links = append(links, devLink{"pts/ptmx", "ptmx", true})
		}
	}
	return links
}

// createDevices makes the default and the spec's device nodes and the
// standard /dev symlinks, all inside root.
func createDevices(root int, spec *specs.Spec, userns bool) error {
	for _, d := range deviceList(spec) {
		if err := createDevice(root, d, userns); err != nil {
			return fmt.Errorf("linux.devices %s: %w", d.Path, err)
		}
	}
	dev, err := mkdirAllInRoot(root, "/dev", false, false)
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	for _, l := range devLinks(spec) {
		if l.replace {
			unix.Unlinkat(dev, l.name, 0)
		}
		if err := unix.Symlinkat(l.target, dev, l.name); err != nil && err != unix.EEXIST {
			return fmt.Errorf("symlink /dev/%s: %w", l.name, err)
		}
	}
	return nil
}

func createDevice(root int, d specs.LinuxDevice, userns bool) error {
	dir, base := path.Split(path.Clean(d.Path))
	dfd, err := mkdirAllInRoot(root, dir, false, false)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if userns {
		// No mknod in a user namespace: bind the host's node instead.
		host, err := unix.Open(d.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(host)
		t, err := mkdirAllInRoot(root, d.Path, true, false)
		if err != nil {
			return err
		}
		defer unix.Close(t)
		return unix.Mount(fdPath(host), fdPath(t), "", unix.MS_BIND, "")
	}
	mode := deviceMode(d)
	if err := unix.Unlinkat(dfd, base, 0); err != nil && err != unix.ENOENT {
		return err
	}
	if err := unix.Mknodat(dfd, base, mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return err
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	return unix.Fchownat(dfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

// pivotRoot makes root the process's / and detaches the old root.
func pivotRoot(root int) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldroot)
	if err := unix.Fchdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	return unix.Chdir("/")
}

// chrootInto moves root onto / and chroots, for --no-pivot.
func chrootInto(root int) error {
	if err := unix.Fchdir(root); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("moving the rootfs onto /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	return unix.Chdir("/")
}

// finishRootfs runs after pivot_root: masked and read-only paths, a
// read-only root, and the root's propagation.
func finishRootfs(spec *specs.Spec, userns bool) error {
	root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	if len(spec.Linux.MaskedPaths) > 0 || len(spec.Linux.ReadonlyPaths) > 0 {
		if err := checkProcfs(); err != nil {
			return err
		}
	}
	for _, p := range spec.Linux.ReadonlyPaths {
		fd, err := openInRoot(root, p, unix.O_PATH, false)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("linux.readonlyPaths: %w", err)
		}
		err = unix.Mount(fdPath(fd), fdPath(fd), "", unix.MS_BIND|unix.MS_REC, "")
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("linux.readonlyPaths %s: %w", p, err)
		}
		if err := remountInRoot(root, p, unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, true); err != nil {
			return fmt.Errorf("linux.readonlyPaths %s: %w", p, err)
		}
	}
	for _, p := range spec.Linux.MaskedPaths {
		if err := maskPath(root, p); err != nil {
			return fmt.Errorf("linux.maskedPaths %s: %w", p, err)
		}
	}
	if spec.Root.Readonly {
		if err := remountFD(root, unix.MS_BIND|unix.MS_RDONLY, true); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	if spec.Linux.RootfsPropagation != "" {
		p, _ := propagationFlag(spec.Linux.RootfsPropagation)
		if err := unix.Mount("", "/", "", uintptr(p), ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation: %w", err)
		}
	}
	return nil
}

// maskPath hides p: /dev/null over a file, an empty read-only tmpfs over a directory.
func maskPath(root int, p string) error {
	fd, err := openInRoot(root, p, unix.O_PATH|unix.O_NOFOLLOW, false)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.Mount("tmpfs", fdPath(fd), "tmpfs", unix.MS_RDONLY, "size=0k")
	}
	null, err := openInRoot(root, "/dev/null", unix.O_PATH, true)
	if err != nil {
		return err
	}
	defer unix.Close(null)
	if err := unix.Fstat(null, &st); err != nil {
		return err
	}
	// A /dev/null that is not the null device would unmask, not mask.
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		return fmt.Errorf("/dev/null in the container is not the null device")
	}
	return unix.Mount(fdPath(null), fdPath(fd), "", unix.MS_BIND, "")
}

// writeSysctls sets linux.sysctl through the container's verified procfs.
func writeSysctls(sysctl map[string]string) error {
	if len(sysctl) == 0 {
		return nil
	}
	if err := checkProcfs(); err != nil {
		return err
	}
	proc, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(proc)
	for k, v := range sysctl {
		rel, err := sysctlPath(k)
		if err != nil {
			return err
		}
		how := unix.OpenHow{Flags: unix.O_WRONLY | unix.O_CLOEXEC | unix.O_TRUNC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS}
		fd, err := unix.Openat2(proc, rel, &how)
		if err != nil {
			return fmt.Errorf("linux.sysctl %q: %w", k, err)
		}
		_, err = unix.Write(fd, []byte(v))
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("linux.sysctl %q=%q: %w", k, v, err)
		}
	}
	return nil
}

// sysctlPath is the file of sysctl k under /proc.
func sysctlPath(k string) (string, error) {
	if strings.Contains(k, "/") || strings.Contains(k, "..") {
		return "", invalid("linux.sysctl %q is not a sysctl name", k)
	}
	return "sys/" + strings.ReplaceAll(k, ".", "/"), nil
}

// deviceMode is the st_mode of device d's node: its type and permissions
// (0666 when the spec gives none).
func deviceMode(d specs.LinuxDevice) uint32 {
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(*d.FileMode & 0o7777)
	}
	switch d.Type {
	case "c", "u":
		mode |= unix.S_IFCHR
	case "b":
		mode |= unix.S_IFBLK
	case "p":
		mode |= unix.S_IFIFO
	}
	return mode
}
