package runtime

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A container must never reach a host binary it could write through
// /proc/PID/exe of the runtime's init or exec helper (CVE-2019-5736). The
// runtime re-executes itself from one of two such copies:
//
//   - a read-only bind mount of its own binary in the host's mount
//     namespace (made once, under exeDir, and reused: a write through
//     /proc/PID/exe then fails with EROFS, and no container can remount it
//     because the mount is not in the container's mount namespace);
//   - otherwise a sealed memfd copy (costs a copy of the binary per use).

// exeDir holds the read-only bind mounts of runtime binaries, one per inode.
var exeDir = "/run/berth/exe"

// selfExe returns an fd of an unwritable copy of the runtime binary: src, or
// the running binary when src is "".
func selfExe(src string) (*os.File, error) {
	if src == "" {
		src = "/proc/self/exe"
	}
	if f, err := roBoundSelf(src); err == nil {
		return f, nil
	}
	return sealedSelf(src)
}

func roBoundSelf(src string) (*os.File, error) {
	var self unix.Stat_t
	if err := unix.Stat(src, &self); err != nil {
		return nil, err
	}
	if self.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("runtime binary %s is not a regular file", src)
	}
	path := filepath.Join(exeDir, strconv.FormatUint(self.Dev, 10)+"-"+strconv.FormatUint(self.Ino, 10))
	if f, err := openReadOnlyCopy(path, &self); err == nil {
		return f, nil
	}
	if err := os.MkdirAll(exeDir, 0o700); err != nil {
		return nil, err
	}
	dir, err := os.Open(exeDir)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	if err := unix.Flock(int(dir.Fd()), unix.LOCK_EX); err != nil {
		return nil, err
	}
	if f, err := openReadOnlyCopy(path, &self); err == nil {
		return f, nil
	}
	unix.Unmount(path, unix.MNT_DETACH)
	collectStaleCopies()
	if err := os.WriteFile(path, nil, 0o500); err != nil {
		return nil, err
	}
	if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
		return nil, err
	}
	if err := unix.Mount("", path, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		unix.Unmount(path, unix.MNT_DETACH)
		return nil, err
	}
	return openReadOnlyCopy(path, &self)
}

// openReadOnlyCopy opens path if it is our binary on a read-only mount.
func openReadOnlyCopy(path string, self *unix.Stat_t) (*os.File, error) {
	f, err := os.OpenFile(path, unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	var fs unix.Statfs_t
	if unix.Fstat(int(f.Fd()), &st) != nil || unix.Fstatfs(int(f.Fd()), &fs) != nil ||
		st.Dev != self.Dev || st.Ino != self.Ino || fs.Flags&unix.ST_RDONLY == 0 {
		f.Close()
		return nil, fmt.Errorf("%s is not a read-only copy of the runtime", path)
	}
	return f, nil
}

// sealedSelf returns a sealed, in-memory copy of the runtime binary at path.
func sealedSelf(path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening runtime binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("berth-runtime", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:berth-runtime")
	if _, err := io.Copy(mem, src); err != nil {
		mem.Close()
		return nil, fmt.Errorf("copying own binary into memfd: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, fmt.Errorf("sealing memfd: %w", err)
	}
	return mem, nil
}

// collectStaleCopies detaches the read-only copies of binaries that have
// since been deleted (rebuilt, upgraded), so they stop pinning disk space.
// Processes still running from one keep their reference.
func collectStaleCopies() {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasPrefix(f[4], exeDir+"/") || !strings.HasSuffix(f[3], "//deleted") {
			continue
		}
		if unix.Unmount(f[4], unix.MNT_DETACH) == nil {
			os.Remove(f[4])
		}
	}
}
