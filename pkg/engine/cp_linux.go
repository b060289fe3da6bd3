package engine

import (
	"archive/tar"
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

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/tarpath"
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
		return fmt.Errorf("a tar stream on stdout is CopyFromTar's: %w", errdefs.ErrInvalidArgument)
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

// CopyFromTar writes src inside the container to w as a tar stream, as
// `docker cp CONTAINER:SRC -`: entries are named from src's base name (a
// src ending in "/." puts the directory's content at the top instead).
func (e *Engine) CopyFromTar(ctx context.Context, ref, src string, w io.Writer) error {
	root, done, err := e.containerRoot(ctx, ref)
	if err != nil {
		return err
	}
	defer done()
	contentOnly := strings.HasSuffix(src, "/.")
	src = rel(src)
	st, err := root.Lstat(src)
	if err != nil {
		return fmt.Errorf("could not find the file %s in container %s: %w", "/"+src, ref, errdefs.ErrNotFound)
	}
	prefix := path.Base("/" + src)
	if prefix == "/" {
		prefix = "."
	}
	if contentOnly {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory: %w", "/"+src, errdefs.ErrInvalidArgument)
		}
		prefix = "."
	}
	tw := tar.NewWriter(w)
	walk := func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r, _ := filepath.Rel(src, p)
		name := path.Join(prefix, filepath.ToSlash(r))
		if name == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return writeTarEntry(tw, root, p, name, info)
	}
	if st.IsDir() {
		err = fs.WalkDir(root.FS(), src, walk)
	} else {
		err = walk(src, fs.FileInfoToDirEntry(st), nil)
	}
	if err != nil {
		return err
	}
	return tw.Close()
}

// writeTarEntry writes the file p of root as entry name.
func writeTarEntry(tw *tar.Writer, root *os.Root, p, name string, info fs.FileInfo) error {
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		l, err := root.Readlink(p)
		if err != nil {
			return err
		}
		link = l
	}
	if info.Mode()&fs.ModeSocket != 0 {
		return nil // tar has no sockets
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name, hdr.Uname, hdr.Gname, hdr.Format = name, "", "", tar.FormatPAX
	if info.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := root.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	// The file may change while it is read: exactly the header's size goes out.
	n, err := io.Copy(tw, io.LimitReader(f, hdr.Size))
	if err == nil && n < hdr.Size {
		_, err = io.CopyN(tw, zeroReader{}, hdr.Size-n)
	}
	return err
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// CopyToFromTar extracts the tar stream r into the directory dst inside
// the container, as `docker cp - CONTAINER:DST` (r is a plain tar: callers decompress; the
// CLI takes gzip and zstd too, as docker does). The stream is hostile
// input: every path is resolved inside dst with os.Root, so no entry name,
// symlink or hard link reaches outside it ("..", absolute links and links
// that escape fail the copy).
func (e *Engine) CopyToFromTar(ctx context.Context, ref, dst string, r io.Reader) error {
	root, done, err := e.containerRoot(ctx, ref)
	if err != nil {
		return err
	}
	defer done()
	dst = rel(dst)
	st, err := root.Stat(dst)
	if err != nil {
		return fmt.Errorf("could not find the file %s in container %s: %w", "/"+dst, ref, errdefs.ErrNotFound)
	}
	if !st.IsDir() {
		return fmt.Errorf("destination %q must be a directory: %w", "/"+dst, errdefs.ErrInvalidArgument)
	}
	sub, err := root.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer sub.Close()
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the tar stream: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		if err := extractEntry(sub, hdr, tr); err != nil {
			return fmt.Errorf("extracting %q: %w", hdr.Name, err)
		}
	}
}

// extractEntry writes one tar entry into root, replacing what is there
// unless both are directories.
func extractEntry(root *os.Root, hdr *tar.Header, r io.Reader) error {
	name, err := tarpath.Clean(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil
	}
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	mode := fs.FileMode(hdr.Mode & 0o777)
	if old, err := root.Lstat(name); err == nil && !(old.IsDir() && hdr.Typeflag == tar.TypeDir) {
		if err := root.RemoveAll(name); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.Mkdir(name, mode); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case tar.TypeReg, tar.TypeRegA:
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		return root.Symlink(hdr.Linkname, name)
	case tar.TypeLink:
		target, err := tarpath.Clean(hdr.Linkname)
		if err != nil {
			return err
		}
		return root.Link(target, name)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		dirf, err := root.Open(path.Dir(name))
		if err != nil {
			return err
		}
		defer dirf.Close()
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(int(dirf.Fd()), path.Base(name), kind|uint32(mode), int(dev)); err != nil {
			return err
		}
	default:
		return nil // pax globals, sparse and the like carry no file
	}
	// Set-id and sticky bits survive only a chmod after creation.
	if err := root.Chmod(name, hdr.FileInfo().Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	if !hdr.ModTime.IsZero() {
		root.Chtimes(name, hdr.ModTime, hdr.ModTime)
	}
	return nil
}
