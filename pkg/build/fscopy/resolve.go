// Package fscopy copies files between two directory trees for COPY and ADD,
// resolving every path inside its own tree the way a chroot would: a
// symlink, absolute or relative, can never lead outside the tree. All file
// operations go through os.Root, so a path swapped under us is refused too.
package fscopy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// maxLinks bounds symlink resolution, like the kernel's ELOOP.
const maxLinks = 40

// Tree is a directory tree whose paths are always resolved inside it.
type Tree struct {
	dir  string
	root *os.Root
}

// OpenTree opens the tree rooted at dir.
func OpenTree(dir string) (*Tree, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	return &Tree{dir: dir, root: r}, nil
}

// Close releases the tree's directory handle.
func (t *Tree) Close() error { return t.root.Close() }

// Dir returns the tree's directory on the host.
func (t *Tree) Dir() string { return t.dir }

// Root returns the os.Root every access goes through.
func (t *Tree) Root() *os.Root { return t.root }

// Clean turns p (absolute or relative to the tree's top) into a tree
// path: relative, cleaned, "." for the top; ".." cannot climb above the top.
func Clean(p string) string {
	c := path.Clean("/" + p)
	if c == "/" {
		return "."
	}
	return c[1:]
}

// Resolve follows the symlinks in p inside the tree and returns the
// equivalent path with no symlink in it (followLast: the final component
// too). Components that do not exist are kept as they are.
func (t *Tree) Resolve(p string, followLast bool) (string, error) {
	todo := strings.Split(Clean(p), "/")
	if len(todo) == 1 && todo[0] == "." {
		return ".", nil
	}
	var done []string
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := path.Join(append(done, c)...)
		if len(todo) == 0 && !followLast {
			done = append(done, c)
			break
		}
		fi, err := t.root.Lstat(cur)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				done = append(done, c)
				done = append(done, todo...)
				return Clean(path.Join(done...)), nil
			}
			return "", fmt.Errorf("resolving %s: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		links++
		if links > maxLinks {
			return "", fmt.Errorf("resolving %s: too many levels of symbolic links: %w", p, errdefs.ErrInvalidArgument)
		}
		target, err := t.root.Readlink(cur)
		if err != nil {
			return "", fmt.Errorf("resolving %s: %w", p, err)
		}
		if path.IsAbs(target) {
			done = nil
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// Lstat resolves the parents of p and stats its last component.
func (t *Tree) Lstat(p string) (string, fs.FileInfo, error) {
	r, err := t.Resolve(p, false)
	if err != nil {
		return "", nil, err
	}
	fi, err := t.root.Lstat(r)
	return r, fi, err
}

// Stat resolves every component of p, the last too, and stats it.
func (t *Tree) Stat(p string) (string, fs.FileInfo, error) {
	r, err := t.Resolve(p, true)
	if err != nil {
		return "", nil, err
	}
	fi, err := t.root.Lstat(r)
	return r, fi, err
}

// MkdirAll creates dir p and its missing parents with mode 0755, owned by
// uid:gid, resolving symlinks inside the tree. It returns the resolved path.
func (t *Tree) MkdirAll(p string, uid, gid int) (string, error) {
	r, err := t.Resolve(p, true)
	if err != nil {
		return "", err
	}
	if r == "." {
		return r, nil
	}
	parts := strings.Split(r, "/")
	for i := range parts {
		cur := path.Join(parts[:i+1]...)
		fi, err := t.root.Lstat(cur)
		if err == nil {
			if !fi.IsDir() {
				return "", fmt.Errorf("creating directory %s: /%s exists and is not a directory: %w", p, cur, errdefs.ErrConflict)
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if err := t.root.Mkdir(cur, 0o755); err != nil {
			return "", fmt.Errorf("creating directory /%s: %w", cur, err)
		}
		if err := t.root.Chmod(cur, 0o755); err != nil {
			return "", err
		}
		if err := t.root.Lchown(cur, uid, gid); err != nil {
			return "", fmt.Errorf("chown /%s: %w", cur, err)
		}
	}
	return r, nil
}
