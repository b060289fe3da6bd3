package fscopy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// Owner is a numeric owner for copied files.
type Owner struct{ UID, GID int }

// Options say how files land in the destination.
type Options struct {
	// Chown, when set, owns every copied file and created directory.
	Chown *Owner
	// KeepOwner keeps the source's owners (COPY --from); otherwise files are 0:0.
	KeepOwner bool
	// Chmod, when set, replaces the permission bits of copied files and directories.
	Chmod *fs.FileMode
	// Exclude hides source paths (tree-relative) from the copy: .dockerignore.
	Exclude func(rel string) bool
}

// HasMeta reports whether p is a glob pattern.
func HasMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

// Glob returns the tree paths matching pattern (path.Match syntax per
// component), sorted, skipping excluded ones. A pattern without meta
// characters returns itself if it exists.
func (t *Tree) Glob(pattern string, exclude func(string) bool) ([]string, error) {
	parts := strings.Split(Clean(pattern), "/")
	cur := []string{"."}
	for _, part := range parts {
		var next []string
		for _, dir := range cur {
			if !HasMeta(part) {
				next = append(next, path.Join(dir, part))
				continue
			}
			if _, err := path.Match(part, ""); err != nil {
				return nil, fmt.Errorf("bad pattern %q: %w", pattern, errdefs.ErrInvalidArgument)
			}
			r, err := t.Resolve(dir, true)
			if err != nil {
				return nil, err
			}
			ents, err := t.readDir(r)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if ok, _ := path.Match(part, e.Name()); ok {
					next = append(next, path.Join(dir, e.Name()))
				}
			}
		}
		cur = next
	}
	var out []string
	for _, p := range cur {
		p = Clean(p)
		if exclude != nil && p != "." && exclude(p) {
			continue
		}
		if _, _, err := t.Stat(p); err != nil {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

func (t *Tree) readDir(dir string) ([]fs.DirEntry, error) {
	f, err := t.root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	return ents, err
}

// walk calls fn for p (following symlinks for p itself) and, if it is a
// directory, for everything below it (not following symlinks), in name order.
func (t *Tree) walk(p string, exclude func(string) bool, fn func(rel, resolved string, fi fs.FileInfo) error) error {
	r, fi, err := t.Stat(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, notFound(err))
	}
	if err := fn(".", r, fi); err != nil {
		return err
	}
	if !fi.IsDir() {
		return nil
	}
	var rec func(rel, dir string) error
	rec = func(rel, dir string) error {
		ents, err := t.readDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			child := path.Join(dir, e.Name())
			crel := path.Join(rel, e.Name())
			if exclude != nil && exclude(child) {
				continue
			}
			cfi, err := t.root.Lstat(child)
			if err != nil {
				return err
			}
			if err := fn(crel, child, cfi); err != nil {
				return err
			}
			if cfi.IsDir() {
				if err := rec(crel, child); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return rec(".", r)
}

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no such file or directory: %w", errdefs.ErrNotFound)
	}
	return err
}

// Checksum writes to h a record of p and everything below it: names, types,
// permission bits, owners (if withOwner), sizes, symlink targets and
// content hashes. Modification times are left out on purpose: touching a
// file must not invalidate the cache.
func (t *Tree) Checksum(h hash.Hash, p string, withOwner bool, exclude func(string) bool) error {
	return t.walk(p, exclude, func(rel, resolved string, fi fs.FileInfo) error {
		fmt.Fprintf(h, "%q %o", rel, uint32(fi.Mode()))
		if withOwner {
			uid, gid := owner(fi)
			fmt.Fprintf(h, " %d:%d", uid, gid)
		}
		switch {
		case fi.Mode().IsRegular():
			f, err := t.root.Open(resolved)
			if err != nil {
				return err
			}
			fh := sha256.New()
			n, err := io.Copy(fh, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("reading %s: %w", resolved, err)
			}
			fmt.Fprintf(h, " %d %s", n, hex.EncodeToString(fh.Sum(nil)))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := t.root.Readlink(resolved)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, " -> %q", target)
		}
		fmt.Fprintln(h)
		return nil
	})
}

// Copy copies src (a path in t; a directory's contents, not the directory
// itself) to dst in tree d: into dst when dstIsDir, else as dst.
func (t *Tree) Copy(src string, d *Tree, dst string, dstIsDir bool, opts Options) error {
	_, sfi, err := t.Stat(src)
	if err != nil {
		return fmt.Errorf("%s: %w", src, notFound(err))
	}
	uid, gid := 0, 0
	if opts.Chown != nil {
		uid, gid = opts.Chown.UID, opts.Chown.GID
	}
	target := dst
	if sfi.IsDir() {
		dstIsDir = true
	} else if dstIsDir {
		target = path.Join(dst, path.Base(Clean(src)))
	}
	parent := path.Dir(Clean(target))
	if dstIsDir && sfi.IsDir() {
		parent = Clean(target)
	}
	if _, err := d.MkdirAll(parent, uid, gid); err != nil {
		return err
	}
	return t.walk(src, opts.Exclude, func(rel, resolved string, fi fs.FileInfo) error {
		to := path.Join(target, rel)
		if rel == "." && fi.IsDir() {
			return nil // the directory's contents go into dst; dst itself keeps its metadata
		}
		return t.copyOne(resolved, fi, d, to, opts)
	})
}

// copyOne creates one entry at to in d, replacing a non-directory there.
func (t *Tree) copyOne(from string, fi fs.FileInfo, d *Tree, to string, opts Options) error {
	r, err := d.Resolve(to, false)
	if err != nil {
		return err
	}
	if r == "." {
		return nil
	}
	existing, err := d.root.Lstat(r)
	switch {
	case err == nil && existing.IsDir() && fi.IsDir():
	case err == nil && existing.IsDir():
		return fmt.Errorf("cannot replace directory /%s with a non-directory: %w", r, errdefs.ErrConflict)
	case err == nil:
		if err := d.root.Remove(r); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	mode := fi.Mode()
	switch {
	case mode.IsDir():
		if existing == nil {
			if err := d.root.Mkdir(r, 0o700); err != nil {
				return err
			}
		}
	case mode.IsRegular():
		if err := t.copyFile(from, d, r); err != nil {
			return err
		}
	case mode&fs.ModeSymlink != 0:
		target, err := t.root.Readlink(from)
		if err != nil {
			return err
		}
		if err := d.root.Symlink(target, r); err != nil {
			return err
		}
	default:
		return fmt.Errorf("copying %s: unsupported file type %s: %w", from, mode.Type(), errdefs.ErrNotImplemented)
	}
	return setMeta(d, r, fi, opts)
}

func (t *Tree) copyFile(from string, d *Tree, to string) error {
	in, err := t.root.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := d.root.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", from, err)
	}
	return out.Close()
}

// setMeta gives the new entry r its owner, permissions and mtime.
func setMeta(d *Tree, r string, fi fs.FileInfo, opts Options) error {
	uid, gid := 0, 0
	if opts.KeepOwner {
		uid, gid = owner(fi)
	}
	if opts.Chown != nil {
		uid, gid = opts.Chown.UID, opts.Chown.GID
	}
	if err := d.root.Lchown(r, uid, gid); err != nil {
		return fmt.Errorf("chown /%s: %w", r, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	perm := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if opts.Chmod != nil {
		perm = *opts.Chmod
	}
	if err := d.root.Chmod(r, perm); err != nil {
		return fmt.Errorf("chmod /%s: %w", r, err)
	}
	mt := fi.ModTime()
	return d.root.Chtimes(r, mt, mt)
}

// WriteFile creates the file p in the tree with data (heredoc sources).
func (t *Tree) WriteFile(p string, data []byte, mode fs.FileMode, own Owner) error {
	if _, err := t.MkdirAll(path.Dir(Clean(p)), own.UID, own.GID); err != nil {
		return err
	}
	r, err := t.Resolve(p, false)
	if err != nil {
		return err
	}
	if fi, err := t.root.Lstat(r); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("cannot replace directory /%s with a file: %w", r, errdefs.ErrConflict)
		}
		if err := t.root.Remove(r); err != nil {
			return err
		}
	}
	if err := t.root.WriteFile(r, data, 0o600); err != nil {
		return err
	}
	if err := t.root.Lchown(r, own.UID, own.GID); err != nil {
		return err
	}
	return t.root.Chmod(r, mode)
}

// Join returns the host path of tree path p. Use it only for reading in
// places where the tree is not attacker-controlled, such as logging.
func (t *Tree) Join(p string) string { return filepath.Join(t.dir, Clean(p)) }
