// Package buildcontext is the set of files a build may read: a directory or
// an unpacked tar stream, minus what .dockerignore excludes.
package buildcontext

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/berth/berth/pkg/build/fscopy"
	"github.com/berth/berth/pkg/errdefs"
)

// Context is an opened build context.
type Context struct {
	// Tree is the context's files; every path resolves inside it.
	*fscopy.Tree
	ignore  *patternmatcher.PatternMatcher
	cleanup string
}

// Open opens directory dir as a build context. The ignore rules come from
// <dockerfile>.dockerignore beside the Dockerfile when that exists, else
// from .dockerignore at the top of the context.
func Open(dir, dockerfile string) (*Context, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", dir, errors.Join(errdefs.ErrNotFound, err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("build context %s is not a directory: %w", dir, errdefs.ErrInvalidArgument)
	}
	t, err := fscopy.OpenTree(dir)
	if err != nil {
		return nil, err
	}
	c := &Context{Tree: t}
	candidates := []string{".dockerignore"}
	if dockerfile != "" {
		candidates = append([]string{dockerfile + ".dockerignore"}, candidates...)
	}
	for _, name := range candidates {
		data, err := readFile(name, dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Close()
			return nil, err
		}
		patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		c.ignore, err = patternmatcher.New(patterns)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("%s: %w", name, errors.Join(errdefs.ErrInvalidArgument, err))
		}
		break
	}
	return c, nil
}

// readFile reads name: a host path if absolute or found from the working
// directory as given, else relative to the context directory.
func readFile(name, dir string) ([]byte, error) {
	if !filepath.IsAbs(name) {
		if data, err := os.ReadFile(filepath.Join(dir, name)); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return data, err
		}
	}
	return os.ReadFile(name)
}

// FromTar unpacks a context sent as a tar stream (plain or compressed) into
// a new directory under tmp and opens it; Close removes the directory.
func FromTar(r io.Reader, tmp, dockerfile string) (*Context, error) {
	dir, err := os.MkdirTemp(tmp, "context-")
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(tmp, "context-*.tar")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("reading context from stdin: %w", err)
	}
	src, err := fscopy.OpenTree(filepath.Dir(f.Name()))
	if err == nil {
		var dst *fscopy.Tree
		dst, err = fscopy.OpenTree(dir)
		if err == nil {
			err = src.Extract(filepath.Base(f.Name()), dst, ".", nil, &fscopy.Owner{UID: os.Getuid(), GID: os.Getgid()})
			dst.Close()
		}
		src.Close()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("unpacking context from stdin: %w", err)
	}
	c, err := Open(dir, dockerfile)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.cleanup = dir
	return c, nil
}

// Close releases the context and removes an unpacked tar stream.
func (c *Context) Close() error {
	err := c.Tree.Close()
	if c.cleanup != "" {
		err = errors.Join(err, os.RemoveAll(c.cleanup))
	}
	return err
}

// Excluded reports whether .dockerignore hides path p (context-relative).
func (c *Context) Excluded(p string) bool {
	if c.ignore == nil {
		return false
	}
	ok, err := c.ignore.MatchesOrParentMatches(filepath.ToSlash(fscopy.Clean(p)))
	return err == nil && ok
}

// ReadDockerfile reads the Dockerfile name: a path relative to the
// context (or the working directory, or absolute). It is read even when
// .dockerignore excludes it, as docker does.
func (c *Context) ReadDockerfile(name string) ([]byte, error) {
	data, err := readFile(name, c.Dir())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("Dockerfile %s: %w", name, errdefs.ErrNotFound)
		}
		return nil, err
	}
	return data, nil
}
