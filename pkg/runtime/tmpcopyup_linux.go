package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The tmpcopyup mount option (a runc and crun extension that podman and
// CRI-O use for the tmpfs mounts of --read-only containers) fills a new
// tmpfs with what the image has at its destination, so /etc or /run keep
// their files but become writable.

// hasMountOption reports whether opts holds o.
func hasMountOption(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

// checkTmpcopyup rejects tmpcopyup on anything but a tmpfs mount.
func checkTmpcopyup(m specs.Mount) error {
	if hasMountOption(m.Options, "tmpcopyup") && m.Type != "tmpfs" {
		return invalid("mount option \"tmpcopyup\" needs type tmpfs, not %q", m.Type)
	}
	return nil
}

// mountTmpcopyup mounts a tmpfs on dst (an O_PATH fd of the destination
// directory, resolved inside root) and copies the directory it covers into
// it. The copy reads the covered directory through an fd opened before the
// mount and writes through an fd of the new mount, with *at calls that never
// follow symlinks, so nothing in the image can redirect it.
func mountTmpcopyup(root int, m specs.Mount, dst int, flags int, data string) error {
	under, err := unix.Openat(dst, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tmpcopyup: opening %s: %w", m.Destination, err)
	}
	defer unix.Close(under)
	if err := unix.Mount(m.Source, fdPath(dst), "tmpfs", uintptr(flags&^unix.MS_REC), data); err != nil {
		return err
	}
	top, err := openInRoot(root, m.Destination, unix.O_RDONLY|unix.O_DIRECTORY, false)
	if err != nil {
		return fmt.Errorf("tmpcopyup: opening the new tmpfs at %s: %w", m.Destination, err)
	}
	defer unix.Close(top)
	if err := copyDirAt(under, top, 0); err != nil {
		return fmt.Errorf("tmpcopyup: copying %s into its tmpfs: %w", m.Destination, err)
	}
	return nil
}

// maxCopyDepth bounds the recursion of copyDirAt.
const maxCopyDepth = 128

// copyDirAt copies every entry of the directory src into the directory dst,
// keeping type, mode, owner and times.
func copyDirAt(src, dst int, depth int) error {
	if depth > maxCopyDepth {
		return fmt.Errorf("directory tree deeper than %d", maxCopyDepth)
	}
	dup, err := unix.Dup(src)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dup), "tmpcopyup")
	defer d.Close()
	if _, err := d.Seek(0, io.SeekStart); err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := copyEntryAt(src, dst, name, depth); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func copyEntryAt(src, dst int, name string, depth int) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	mode := uint32(st.Mode) & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dst, name, 0o700); err != nil {
			return err
		}
		s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(s)
		t, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(t)
		if err := copyDirAt(s, t, depth+1); err != nil {
			return err
		}
	case unix.S_IFREG:
		if err := copyFileAt(src, dst, name); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := readlinkAt(src, name)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(target, dst, name); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknodat(dst, name, st.Mode&unix.S_IFMT|mode, int(st.Rdev)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown file type %#o", st.Mode&unix.S_IFMT)
	}
	if err := unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) {
		// EINVAL: the owner is not mapped into this user namespace; the
		// copy then belongs to the namespace's root, as with runc.
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Fchmodat(dst, name, mode, 0); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(dst, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func copyFileAt(src, dst int, name string) error {
	s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	in := os.NewFile(uintptr(s), name)
	defer in.Close()
	t, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(t), name)
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func readlinkAt(dir int, name string) (string, error) {
	for size := 256; size <= unix.PathMax*2; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
	return "", fmt.Errorf("symlink target too long")
}
