package runtime

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Everything under the container root is resolved through openat2 with
// RESOLVE_IN_ROOT from an fd of the root, so a symlink planted in the image
// (or swapped in while we work, CVE-2021-30465) resolves inside the root
// and never reaches the host. Mounts then target the resolved fd through
// /proc/self/fd/N, not a path that could change under us.

// relPath cleans p as if it were absolute and returns it relative to /.
func relPath(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// openInRoot opens p inside root. noSymlinks refuses symlinks anywhere in p.
func openInRoot(root int, p string, flags int, noSymlinks bool) (int, error) {
	rel := relPath(p)
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	if noSymlinks {
		how.Resolve |= unix.RESOLVE_NO_SYMLINKS
	}
	for {
		fd, err := unix.Openat2(root, rel, &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return -1, &pathError{"open", p, err}
		}
		return fd, nil
	}
}

type pathError struct {
	op, path string
	err      error
}

func (e *pathError) Error() string {
	return e.op + " " + e.path + " (in the container root): " + e.err.Error()
}
func (e *pathError) Unwrap() error { return e.err }

// mkdirAllInRoot makes p (a directory, or an empty file when file is
// true) inside root with its missing parents and returns an O_PATH fd of it.
func mkdirAllInRoot(root int, p string, file bool, noSymlinks bool) (int, error) {
	return mkdirAllHops(root, p, file, noSymlinks, 0)
}

func mkdirAllHops(root int, p string, file bool, noSymlinks bool, hops int) (int, error) {
	if hops > 40 {
		return -1, &pathError{"resolve", p, unix.ELOOP}
	}
	fd, err := openInRoot(root, p, unix.O_PATH, noSymlinks)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	parts := strings.Split(relPath(p), "/")
	// Usually only the last component is missing (a mount point under
	// /dev or /sys/fs/cgroup): start from its parent, resolved with the
	// same rules the walk below applies to every prefix, and walk from
	// the root only when the parent is missing too.
	start := 0
	cur := -1
	if len(parts) > 1 {
		if fd, err := openInRoot(root, strings.Join(parts[:len(parts)-1], "/"), unix.O_PATH, noSymlinks); err == nil {
			cur, start = fd, len(parts)-1
		} else if !errors.Is(err, unix.ENOENT) {
			return -1, err
		}
	}
	if cur < 0 {
		if cur, err = openInRoot(root, ".", unix.O_PATH|unix.O_DIRECTORY, false); err != nil {
			return -1, err
		}
	}
	for i := start; i < len(parts); i++ {
		name := parts[i]
		prefix := strings.Join(parts[:i+1], "/")
		next, err := openInRoot(root, prefix, unix.O_PATH, noSymlinks)
		if errors.Is(err, unix.ENOENT) {
			if i == len(parts)-1 && file {
				// cur is an O_PATH fd; create through a real directory fd.
				dfd, derr := unix.Openat(cur, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
				if derr != nil {
					unix.Close(cur)
					return -1, &pathError{"open", "/" + strings.Join(parts[:i], "/"), derr}
				}
				f, cerr := unix.Openat(dfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
				unix.Close(dfd)
				if cerr == nil {
					unix.Close(f)
				} else if cerr != unix.EEXIST {
					unix.Close(cur)
					return -1, &pathError{"create", "/" + prefix, cerr}
				}
			} else if merr := unix.Mkdirat(cur, name, 0o755); merr != nil && merr != unix.EEXIST {
				unix.Close(cur)
				return -1, &pathError{"mkdir", "/" + prefix, merr}
			}
			next, err = openInRoot(root, prefix, unix.O_PATH, noSymlinks)
			if errors.Is(err, unix.ENOENT) && !noSymlinks {
				// A dangling symlink: create what it points to, still inside the root.
				buf := make([]byte, 4096)
				if n, rerr := unix.Readlinkat(cur, name, buf); rerr == nil {
					target := string(buf[:n])
					if !strings.HasPrefix(target, "/") {
						target = "/" + strings.Join(parts[:i], "/") + "/" + target
					}
					rest := strings.Join(parts[i+1:], "/")
					unix.Close(cur)
					return mkdirAllHops(root, target+"/"+rest, file, noSymlinks, hops+1)
				}
			}
		}
		unix.Close(cur)
		if err != nil {
			return -1, err
		}
		cur = next
	}
	return cur, nil
}

// fdPath names fd through procfs, for syscalls that take only paths.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// checkProcfs makes sure /proc (in the current root) is a real procfs
// before paths through it are trusted.
func checkProcfs() error {
	var st unix.Statfs_t
	if err := unix.Statfs("/proc", &st); err != nil {
		return fmt.Errorf("checking /proc: %w", err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("/proc is not a procfs (type %#x): refusing to use it", st.Type)
	}
	return nil
}
