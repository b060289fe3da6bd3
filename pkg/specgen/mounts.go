package specgen

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/berth/berth/pkg/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultShmSize is docker's /dev/shm size: 64 MiB.
const defaultShmSize = 64 << 20

// defaultMounts are docker's: /proc, /dev, /dev/pts, /sys, /sys/fs/cgroup,
// /dev/mqueue and /dev/shm. /sys and the cgroup tree are read-only unless
// the container is privileged.
func defaultMounts(privileged bool, shmSize int64) []specs.Mount {
	ro := []string{"ro"}
	if privileged {
		ro = nil
	}
	if shmSize <= 0 {
		shmSize = defaultShmSize
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: append([]string{"nosuid", "noexec", "nodev"}, ro...)},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: append(slices.Clone(ro), "nosuid", "noexec", "nodev", "relatime")},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(shmSize, 10)}},
	}
}

// tmpfsFlags are the mount flags a --tmpfs option string may carry.
var tmpfsFlags = map[string]bool{
	"rw": true, "ro": true, "nosuid": true, "suid": true, "nodev": true,
	"dev": true, "exec": true, "noexec": true, "sync": true, "async": true,
	"dirsync": true, "mand": true, "nomand": true, "atime": true,
	"noatime": true, "diratime": true, "nodiratime": true, "relatime": true,
	"norelatime": true, "strictatime": true, "nostrictatime": true,
	"private": true, "rprivate": true, "shared": true, "rshared": true,
	"slave": true, "rslave": true, "tmpcopyup": true, "notmpcopyup": true,
}

var (
	tmpfsSize = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+[kKmMgGtTpPeE%]?$`) })
	octal     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-7]{1,4}$`) })
	decimal   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+$`) })
	hugeOpt   = map[string]bool{"never": true, "always": true, "within_size": true, "advise": true, "deny": true, "force": true}
)

// ParseTmpfs checks a --tmpfs option string ("size=64m,mode=1777,noexec")
// and returns the mount, with docker's noexec,nosuid,nodev defaults unless
// the options say otherwise.
func ParseTmpfs(dest, opts string) (specs.Mount, error) {
	if err := checkDestination(dest); err != nil {
		return specs.Mount{}, fmt.Errorf("tmpfs: %w", err)
	}
	set := map[string]bool{}
	var out []string
	for _, o := range strings.Split(opts, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		key, val, hasVal := strings.Cut(o, "=")
		bad := func(why string) error {
			return fmt.Errorf("tmpfs %s: option %q: %s: %w", dest, o, why, errdefs.ErrInvalidArgument)
		}
		switch {
		case !hasVal && tmpfsFlags[key]:
		case key == "size" && hasVal:
			if !tmpfsSize().MatchString(val) {
				return specs.Mount{}, bad("want a number with an optional k, m, g or % suffix")
			}
		case key == "mode" && hasVal:
			if !octal().MatchString(val) {
				return specs.Mount{}, bad("want an octal mode")
			}
		case (key == "uid" || key == "gid" || key == "nr_inodes" || key == "nr_blocks") && hasVal:
			if !decimal().MatchString(strings.TrimRight(val, "kKmMgG")) {
				return specs.Mount{}, bad("want a number")
			}
		case key == "huge" && hasVal:
			if !hugeOpt[val] {
				return specs.Mount{}, bad("unknown huge page policy")
			}
		default:
			return specs.Mount{}, bad("unknown tmpfs option")
		}
		set[key] = true
		out = append(out, o)
	}
	var defaults []string
	for _, d := range [][2]string{{"noexec", "exec"}, {"nosuid", "suid"}, {"nodev", "dev"}} {
		if !set[d[0]] && !set[d[1]] {
			defaults = append(defaults, d[0])
		}
	}
	return specs.Mount{Destination: path.Clean(dest), Type: "tmpfs", Source: "tmpfs", Options: append(defaults, out...)}, nil
}

// checkDestination requires an absolute, clean container path other than "/".
func checkDestination(dest string) error {
	if !path.IsAbs(dest) {
		return fmt.Errorf("destination %q is not an absolute path: %w", dest, errdefs.ErrInvalidArgument)
	}
	if path.Clean(dest) == "/" {
		return fmt.Errorf("destination %q: cannot mount over the root: %w", dest, errdefs.ErrInvalidArgument)
	}
	for _, part := range strings.Split(dest, "/") {
		if part == ".." {
			return fmt.Errorf("destination %q contains \"..\": %w", dest, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// mergeMounts puts the user's mounts after the defaults, replacing a default
// at the same destination, parents before children so a mount on /data
// never hides one on /data/x.
func mergeMounts(defaults, user []specs.Mount) []specs.Mount {
	var out []specs.Mount
	for _, d := range defaults {
		covered := slices.ContainsFunc(user, func(m specs.Mount) bool { return path.Clean(m.Destination) == d.Destination })
		if !covered {
			out = append(out, d)
		}
	}
	user = slices.Clone(user)
	slices.SortStableFunc(user, func(a, b specs.Mount) int {
		return strings.Count(path.Clean(a.Destination), "/") - strings.Count(path.Clean(b.Destination), "/")
	})
	return append(out, user...)
}
