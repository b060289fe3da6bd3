package volume

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// FillIfEmpty copies the content at src (a directory of the container's
// rootfs) into the volume directory dst when dst is empty: docker's first
// fill of a named volume from the image. Ownership and modes are kept.
func FillIfEmpty(src, dst string) error {
	ents, err := os.ReadDir(dst)
	if err != nil || len(ents) > 0 {
		return err
	}
	// src may be a /proc/self/fd magic link to a directory opened inside
	// the rootfs: follow it once here, never below.
	src += "/."
	st, err := os.Stat(src)
	if err != nil || !st.IsDir() {
		return nil // nothing to copy from
	}
	if err := copyTree(src, dst); err != nil {
		return fmt.Errorf("filling volume from %s: %w", src, err)
	}
	if sys, ok := st.Sys().(*unix.Stat_t); ok {
		os.Lchown(dst, int(sys.Uid), int(sys.Gid))
	}
	return os.Chmod(dst, st.Mode().Perm())
}

// copyTree copies src into dst without following symlinks out of src.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if rel == "." {
			return nil
		}
		target := filepath.Join(dst, rel)
		sys, _ := info.Sys().(*unix.Stat_t)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			l, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(l, target); err != nil {
				return err
			}
		case info.IsDir():
			if err := os.Mkdir(target, info.Mode().Perm()); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			in, err := os.Open(path)
			if err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
			if err != nil {
				in.Close()
				return err
			}
			_, err = io.Copy(out, in)
			in.Close()
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return nil // devices, fifos and sockets are not copied
		}
		if sys != nil {
			os.Lchown(target, int(sys.Uid), int(sys.Gid))
		}
		if info.Mode()&os.ModeSymlink == 0 {
			os.Chmod(target, info.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
		}
		return nil
	})
}
