package runtime

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/mountinfo"
)

// pivot_root(2) refuses (EINVAL) when the current root mount or the mount
// that holds the new root has shared propagation, which is what
// linux.rootfsPropagation "shared" or "rshared" makes them, and the
// rootfs cannot be bind-mounted from an unbindable mount. Before the
// rootfs is bind-mounted onto itself, privatePivotMounts turns those two
// mounts private (not recursively: only this mount namespace's view of
// them changes, and the old root is detached right after the pivot);
// finishRootfs applies the requested propagation to the new root later.
func privatePivotMounts(rootfs string) error {
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making / private for pivot_root: %w", err)
	}
	mp, err := mountPointOf(rootfs)
	if err != nil {
		return err
	}
	if err := unix.Mount("", mp, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making %s (the mount holding the rootfs) private for pivot_root: %w", mp, err)
	}
	return nil
}

// mountPointOf returns the mount point of the mount that holds path: the
// longest mount point in /proc/self/mountinfo that is path or a parent of it.
func mountPointOf(path string) (string, error) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	best := ""
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := mountinfo.Unescape(fields[4])
		if (mp == "/" || p == mp || strings.HasPrefix(p, mp+"/")) && len(mp) > len(best) {
			best = mp
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	if best == "" {
		return "", fmt.Errorf("no mount holds %s", p)
	}
	return best, nil
}
