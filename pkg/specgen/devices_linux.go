package specgen

import (
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func i64(v int64) *int64 { return &v }

// defaultDeviceRules are the device cgroup rules of an unprivileged
// container: deny everything, then allow mknod of any node (using one still
// needs a rule) and the standard character devices: null, zero, full,
// random, urandom, tty, console, ptmx, the pty slaves and /dev/net/tun.
// (docker lists part of these and runc adds the rest; docker's explicit deny
// of /dev/fuse is left out: deny-all covers it, and cgroup v1 cannot take a
// deny rule after the mknod wildcard.)
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	rule := func(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
		if major >= 0 {
			r.Major = i64(major)
		}
		if minor >= 0 {
			r.Minor = i64(minor)
		}
		return r
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		rule("c", -1, -1, "m"),
		rule("b", -1, -1, "m"),
		rule("c", 1, 3, "rwm"),    // null
		rule("c", 1, 5, "rwm"),    // zero
		rule("c", 1, 7, "rwm"),    // full
		rule("c", 1, 8, "rwm"),    // random
		rule("c", 1, 9, "rwm"),    // urandom
		rule("c", 5, 0, "rwm"),    // tty
		rule("c", 5, 1, "rwm"),    // console
		rule("c", 5, 2, "rwm"),    // ptmx
		rule("c", 136, -1, "rwm"), // pts/*
		rule("c", 10, 200, "rwm"), // net/tun
	}
}

// hostDevices lists the host's device nodes under /dev for a privileged
// container, as docker does; pseudo-terminals, shm, mqueue and the console
// are the container's own and are skipped.
func hostDevices() []specs.LinuxDevice {
	var out []specs.LinuxDevice
	skipDirs := map[string]bool{"/dev/pts": true, "/dev/shm": true, "/dev/mqueue": true, "/dev/fd": true, "/dev/.udev": true, "/dev/.lxc": true}
	_ = filepath.WalkDir("/dev", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if skipDirs[p] {
				return filepath.SkipDir
			}
			return nil
		}
		if p == "/dev/console" || d.Type()&(fs.ModeDevice) == 0 {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil {
			return nil
		}
		typ := "c"
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			typ = "b"
		} else if st.Mode&unix.S_IFMT != unix.S_IFCHR {
			return nil
		}
		mode := os.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		out = append(out, specs.LinuxDevice{
			Path: p, Type: typ,
			Major: int64(unix.Major(uint64(st.Rdev))), Minor: int64(unix.Minor(uint64(st.Rdev))),
			FileMode: &mode, UID: &uid, GID: &gid,
		})
		return nil
	})
	return out
}
