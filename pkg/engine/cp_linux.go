package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// containerRoot opens the container's filesystem as the container sees it:
// through its init's /proc root when it runs (volumes included), or its
// rootfs mounted for the copy when it is stopped. Every path inside is
// resolved with os.Root, so the container's symlinks cannot lead out.
func (e *Engine) containerRoot(ctx context.Context, ref string) (*os.Root, func(), error) {
	c, err := e.Load(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	if c.State.Running && c.State.Pid > 0 {
		r, err := os.OpenRoot(filepath.Join("/proc", strconv.Itoa(c.State.Pid), "root"))
		if err != nil {
			return nil, nil, fmt.Errorf("opening the filesystem of %s: %w", c.Name, err)
		}
		return r, func() { r.Close() }, nil
	}
	if e.MonitorAlive(c.ID) {
		return nil, nil, fmt.Errorf("container %s is changing state; try again: %w", c.Name, errdefs.ErrConflict)
	}
	target := filepath.Join(e.store.runDir(c.ID), "rootfs")
	if err := os.MkdirAll(target, 0o755); err != nil {
		return nil, nil, err
	}
	if err := e.mountRootfs(ctx, c, target); err != nil {
		return nil, nil, err
	}
	r, err := os.OpenRoot(target)
	if err != nil {
		e.Cleanup(ctx, c)
		return nil, nil, err
	}
	return r, func() { r.Close(); e.Cleanup(ctx, c) }, nil
}

func rel(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

// CopyFrom copies src inside the container to dst on the host, as docker cp.
func (e *Engine) CopyFrom(ctx context.Context, ref, src, dst string) error {
	root, done, err := e.containerRoot(ctx, ref)
	if err != nil {
		return err
	}
	defer done()
	src = rel(src)
	st, err := root.Lstat(src)
	if err != nil {
		return fmt.Errorf("could not find the file %s in container %s: %w", "/"+src, ref, errdefs.ErrNotFound)
	}
	if dst == "-" {
		return fmt.Errorf("copying to a tar stream on stdout is not supported: %w", errdefs.ErrNotImplemented)
	}
	if dt, err := os.Stat(dst); err == nil && dt.IsDir() {
		dst = filepath.Join(dst, path.Base("/"+src))
	}
	if !st.IsDir() {
		return copyEntry(root, hostTree{}, src, dst, st)
	}
	return fs.WalkDir(root.FS(), src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, r)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		}
		return copyEntry(root, hostTree{}, p, target, info)
	})
}

// tree is one side of a copy: the container's root (an *os.Root, which keeps
// every path inside it) or the host's filesystem.
type tree interface {
	Readlink(name string) (string, error)
	Open(name string) (*os.File, error)
	OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error)
	Remove(name string) error
	Symlink(oldname, newname string) error
}

// hostTree is the host's filesystem as a tree.
type hostTree struct{}

func (hostTree) Readlink(name string) (string, error) { return os.Readlink(name) }
func (hostTree) Open(name string) (*os.File, error)   { return os.Open(name) }
func (hostTree) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
func (hostTree) Remove(name string) error              { return os.Remove(name) }
func (hostTree) Symlink(oldname, newname string) error { return os.Symlink(oldname, newname) }

var (
	_ tree = (*os.Root)(nil)
	_ tree = hostTree{}
)

// copyEntry copies the symlink or regular file p of from to target in to;
// devices, sockets and fifos are skipped.
func copyEntry(from, to tree, p, target string, info fs.FileInfo) error {
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		l, err := from.Readlink(p)
		if err != nil {
			return err
		}
		to.Remove(target)
		return to.Symlink(l, target)
	case info.Mode().IsRegular():
		in, err := from.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := to.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return nil
}

// CopyTo copies src on the host to dst inside the container, as docker cp.
func (e *Engine) CopyTo(ctx context.Context, ref, src, dst string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("could not find %s: %w", src, errdefs.ErrNotFound)
	}
	root, done, err := e.containerRoot(ctx, ref)
	if err != nil {
		return err
	}
	defer done()
	dst = rel(dst)
	if dt, err := root.Stat(dst); err == nil && dt.IsDir() {
		dst = path.Join(dst, filepath.Base(src))
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if !st.IsDir() {
		return copyEntry(hostTree{}, root, src, dst, st)
	}
	return filepath.Walk(src, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(src, p)
		target := path.Join(dst, filepath.ToSlash(r))
		if info.IsDir() {
			if err := root.MkdirAll(target, info.Mode().Perm()); err != nil {
				return err
			}
			return nil
		}
		return copyEntry(hostTree{}, root, p, target, info)
	})
}
