package fscopy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/berth/berth/pkg/errdefs"
)

// maxExtract bounds what one ADD may unpack, against decompression bombs.
const maxExtract = 64 << 30

// IsArchive reports whether the file at p in t is a tar archive, plain or
// compressed with gzip, bzip2 or zstd: what ADD unpacks.
func (t *Tree) IsArchive(p string) (bool, error) {
	f, err := t.root.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return false, nil
	}
	hdr := make([]byte, 512)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return false, nil
	}
	_, err = tar.NewReader(bytes.NewReader(hdr)).Next()
	return err == nil, nil
}

// decompress recognises the compression by its magic number.
func decompress(f io.Reader) (io.Reader, error) {
	br := bufio.NewReader(f)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return nil, fmt.Errorf("xz archives: %w", errdefs.ErrNotImplemented)
	}
	return br, nil
}

// Extract unpacks the archive at p in t into directory dst of d, which is
// created owned by dirOwner (nil: root). Entries keep the archive's owners
// and modes unless chown is set. Names are
// confined to dst: ".." and absolute names, and links through symlinks
// planted earlier, all stay inside d.
func (t *Tree) Extract(p string, d *Tree, dst string, dirOwner, chown *Owner) error {
	f, err := t.root.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	uid, gid := 0, 0
	if dirOwner != nil {
		uid, gid = dirOwner.UID, dirOwner.GID
	}
	base, err := d.MkdirAll(dst, uid, gid)
	if chown != nil {
		uid, gid = chown.UID, chown.GID
	}
	if err != nil {
		return err
	}
	tr := tar.NewReader(io.LimitReader(r, maxExtract))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading archive %s: %w", p, err)
		}
		name := path.Join(base, Clean(h.Name))
		if Clean(h.Name) == "." {
			continue
		}
		if _, err := d.MkdirAll(path.Dir(name), uid, gid); err != nil {
			return err
		}
		r, err := d.Resolve(name, false)
		if err != nil {
			return err
		}
		if fi, err := d.root.Lstat(r); err == nil && !(fi.IsDir() && h.Typeflag == tar.TypeDir) {
			if err := d.root.RemoveAll(r); err != nil {
				return err
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := d.root.Mkdir(r, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		case tar.TypeReg:
			out, err := d.root.OpenFile(r, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("extracting %s: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			if err := d.root.Symlink(h.Linkname, r); err != nil {
				return err
			}
		case tar.TypeLink:
			old, err := d.Resolve(path.Join(base, Clean(h.Linkname)), false)
			if err != nil {
				return err
			}
			if err := d.root.Link(old, r); err != nil {
				return fmt.Errorf("extracting hard link %s: %w", h.Name, err)
			}
			continue
		default:
			continue // devices, fifos: not created by ADD
		}
		fi := h.FileInfo()
		o := Options{KeepOwner: true, Chown: chown}
		if err := setMetaHeader(d, r, fi, h, o); err != nil {
			return err
		}
	}
}

func setMetaHeader(d *Tree, r string, fi fs.FileInfo, h *tar.Header, opts Options) error {
	uid, gid := h.Uid, h.Gid
	if opts.Chown != nil {
		uid, gid = opts.Chown.UID, opts.Chown.GID
	}
	if err := d.root.Lchown(r, uid, gid); err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	if err := d.root.Chmod(r, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	return d.root.Chtimes(r, h.ModTime, h.ModTime)
}
