package specgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// maxIDFile bounds how much of /etc/passwd or /etc/group is read: the files
// come from images, which are hostile until proven otherwise.
const maxIDFile = 16 << 20

// maxID is the largest uid or gid docker accepts.
const maxID = math.MaxInt32

// userInfo is a resolved user: the process identity and its home directory.
type userInfo struct {
	user specs.User
	home string
}

// ResolveUser turns docker's user syntax, "name|uid[:group|gid]", into the
// process identity, reading /etc/passwd and /etc/group inside rootfs. Numeric
// ids work without those files; an empty user is root. The files are opened
// with every path component resolved inside rootfs (an absolute or ".."
// symlink cannot reach the host), must be regular files, and are read up to
// 16 MiB. Supplementary groups are those of /etc/group listing the user.
func ResolveUser(rootfs, user string) (specs.User, error) {
	u, err := resolveUser(rootfs, user, nil)
	return u.user, err
}

func resolveUser(rootfs, spec string, groupAdd []string) (userInfo, error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	if hasGroup && group == "" || strings.Contains(group, ":") {
		return userInfo{}, fmt.Errorf("user %q: want name|uid[:group|gid]: %w", spec, errdefs.ErrInvalidArgument)
	}
	if name == "" {
		if hasGroup {
			return userInfo{}, fmt.Errorf("user %q: no user before the group: %w", spec, errdefs.ErrInvalidArgument)
		}
		name = "0"
	}
	info := userInfo{home: "/"}
	passwd, err := readIDFile(rootfs, "etc/passwd")
	if err != nil {
		return userInfo{}, err
	}
	var username string
	if uid, numeric, err := parseID(name); err != nil {
		return userInfo{}, fmt.Errorf("user %q: %w", spec, err)
	} else if numeric {
		info.user.UID = uid
		if e := findEntry(passwd, 2, name); e != nil {
			username = e[0]
			info.user.GID, _, _ = parseID(e[3])
			info.home = e[5]
		}
	} else {
		e := findEntry(passwd, 0, name)
		if e == nil {
			return userInfo{}, fmt.Errorf("user %q: no such user in the image's /etc/passwd: %w", name, errdefs.ErrInvalidArgument)
		}
		username = name
		var err1, err2 error
		info.user.UID, _, err1 = parseID(e[2])
		info.user.GID, _, err2 = parseID(e[3])
		if err := errors.Join(err1, err2); err != nil {
			return userInfo{}, fmt.Errorf("user %q: bad /etc/passwd entry: %w", name, err)
		}
		info.home = e[5]
	}
	if info.home == "" {
		info.home = "/"
	}

	var groups [][]string
	if hasGroup || len(groupAdd) > 0 || username != "" {
		if groups, err = readIDFile(rootfs, "etc/group"); err != nil {
			return userInfo{}, err
		}
	}
	lookupGroup := func(g string) (uint32, error) {
		gid, numeric, err := parseID(g)
		if err != nil {
			return 0, err
		}
		if numeric {
			return gid, nil
		}
		e := findEntry(groups, 0, g)
		if e == nil {
			return 0, fmt.Errorf("group %q: no such group in the image's /etc/group: %w", g, errdefs.ErrInvalidArgument)
		}
		gid, _, err = parseID(e[2])
		return gid, err
	}
	if hasGroup {
		if info.user.GID, err = lookupGroup(group); err != nil {
			return userInfo{}, fmt.Errorf("user %q: %w", spec, err)
		}
	}
	if username != "" {
		for _, e := range groups {
			if len(e) < 4 {
				continue
			}
			if slices.Contains(strings.Split(e[3], ","), username) {
				if gid, _, err := parseID(e[2]); err == nil {
					info.user.AdditionalGids = appendUnique(info.user.AdditionalGids, gid)
				}
			}
		}
	}
	for _, g := range groupAdd {
		gid, err := lookupGroup(g)
		if err != nil {
			return userInfo{}, fmt.Errorf("--group-add: %w", err)
		}
		info.user.AdditionalGids = appendUnique(info.user.AdditionalGids, gid)
	}
	return info, nil
}

func appendUnique(s []uint32, v uint32) []uint32 {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// parseID reports whether s is a number, and its value if it is one in
// docker's accepted range.
func parseID(s string) (uint32, bool, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxID {
		return 0, true, fmt.Errorf("id %s out of range 0-%d: %w", s, maxID, errdefs.ErrInvalidArgument)
	}
	return uint32(n), true, nil
}

// findEntry returns the first colon-separated entry whose field idx is key.
func findEntry(entries [][]string, idx int, key string) []string {
	for _, e := range entries {
		if len(e) > idx && e[idx] == key {
			return e
		}
	}
	return nil
}

// readIDFile reads a passwd-style file at rel inside rootfs. A missing file
// (or a missing rootfs) is empty; anything but a regular file is an error.
func readIDFile(rootfs, rel string) ([][]string, error) {
	if rootfs == "" {
		return nil, nil
	}
	data, err := readInRoot(rootfs, rel, maxIDFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading /%s of the image: %w", rel, err)
	}
	var out [][]string
	s := bufio.NewScanner(bytes.NewReader(data))
	s.Buffer(make([]byte, 0, 64<<10), maxIDFile)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		for len(f) < 7 {
			f = append(f, "")
		}
		out = append(out, f)
	}
	return out, s.Err()
}

// readInRoot reads the regular file rel with every component resolved
// inside root, as the container would see it: absolute symlinks and ".."
// stay within root, and /proc magic links are refused. It never opens a
// device or fifo: the file is first opened O_PATH and checked.
func readInRoot(root, rel string, limit int64) ([]byte, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: rel, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: rel, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("/%s is not a regular file: %w", rel, errdefs.ErrInvalidArgument)
	}
	if st.Size > limit {
		return nil, fmt.Errorf("/%s is larger than %d bytes: %w", rel, limit, errdefs.ErrInvalidArgument)
	}
	// Reopen the checked inode itself, through its /proc link, for reading.
	rfd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: rel, Err: err}
	}
	f := os.NewFile(uintptr(rfd), rel)
	defer f.Close()
	var st2 unix.Stat_t
	if err := unix.Fstat(rfd, &st2); err != nil || st2.Ino != st.Ino || st2.Dev != st.Dev {
		return nil, fmt.Errorf("/%s changed while it was opened: %w", rel, errdefs.ErrConflict)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("/%s is larger than %d bytes: %w", rel, limit, errdefs.ErrInvalidArgument)
	}
	return data, nil
}
