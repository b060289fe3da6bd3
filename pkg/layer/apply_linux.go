package layer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/pgzip"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/tarpath"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// MaxSize caps the uncompressed tar stream in bytes (a decompression
	// bomb defence); 0 means DefaultMaxSize.
	MaxSize int64
	// Wrote, when set, is told how many bytes of file data were written
	// (for a content.Flusher).
	Wrote func(n int)
}

// DefaultMaxSize is the largest uncompressed layer Apply accepts by default.
const DefaultMaxSize = 64 << 30

// ErrTooLarge is returned when a layer grows past ApplyOptions.MaxSize.
var ErrTooLarge = fmt.Errorf("layer exceeds the size limit: %w", errdefs.ErrInvalidArgument)

// Apply unpacks the uncompressed layer tar r into dir, which must exist and
// should be empty, converting whiteouts to overlayfs form. It returns the
// number of tar bytes read. r is read to its end, so a hash of r covers
// the whole stream.
func Apply(ctx context.Context, dir string, r io.Reader, opts ApplyOptions) (int64, error) {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, fmt.Errorf("opening layer dir: %w", err)
	}
	defer root.Close()
	cr := &countReader{r: r, max: opts.MaxSize}
	a := &applier{root: root, wrote: opts.Wrote}
	tr := tar.NewReader(cr)
	for {
		if err := ctx.Err(); err != nil {
			return cr.n, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return cr.n, fmt.Errorf("reading layer tar: %w", wrapTar(err))
		}
		if err := a.entry(hdr, tr); err != nil {
			return cr.n, fmt.Errorf("layer entry %q: %w", truncate(hdr.Name), wrapTar(err))
		}
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return cr.n, wrapTar(err)
	}
	// Directory times last: creating entries inside them moved their mtimes.
	for i := len(a.dirTimes) - 1; i >= 0; i-- {
		dt := a.dirTimes[i]
		_ = root.Chtimes(dt.name, dt.atime, dt.mtime)
	}
	return cr.n, nil
}

func wrapTar(err error) error {
	if errors.Is(err, ErrTooLarge) || errors.Is(err, errdefs.ErrInvalidArgument) || errors.Is(err, context.Canceled) {
		return err
	}
	var corrupt flate.CorruptInputError
	if errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgzip.ErrChecksum) || errors.Is(err, pgzip.ErrHeader) || errors.As(err, &corrupt) {
		return fmt.Errorf("%w: %v", errdefs.ErrInvalidArgument, err)
	}
	return err
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

type countReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return n, ErrTooLarge
	}
	return n, err
}

type dirTime struct {
	name         string
	atime, mtime time.Time
}

type applier struct {
	root     *os.Root
	dirTimes []dirTime
	buf      []byte // shared by every file of the layer
	wrote    func(int)
}

// fileWriter hides *os.File's ReadFrom, so io.CopyBuffer uses the
// applier's buffer, and reports what it writes.
type fileWriter struct {
	f     *os.File
	wrote func(int)
}

func (w fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if w.wrote != nil {
		w.wrote(n)
	}
	return n, err
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	name, err := tarpath.Clean(hdr.Name)
	if err != nil {
		return err
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	if strings.HasPrefix(base, WhiteoutPrefix) {
		return a.whiteout(dir, base)
	}
	if name != "." && dir != "." {
		if err := a.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return a.dir(name, hdr)
	case tar.TypeReg, tar.TypeRegA:
		return a.file(name, hdr, r)
	case tar.TypeSymlink:
		if err := a.replace(name); err != nil {
			return err
		}
		if err := a.root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		return a.atParent(dir, func(fd int) error {
			if err := unix.Fchownat(fd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
			ts := []unix.Timespec{unix.NsecToTimespec(hdr.AccessTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
			if hdr.AccessTime.IsZero() {
				ts[0] = ts[1]
			}
			return unix.UtimesNanoAt(fd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
		})
	case tar.TypeLink:
		target, err := tarpath.Clean(hdr.Linkname)
		if err != nil {
			return err
		}
		fi, err := a.root.Lstat(target)
		if err != nil {
			return fmt.Errorf("hard link target %q: %w", truncate(hdr.Linkname), err)
		}
		if fi.IsDir() {
			return fmt.Errorf("hard link to directory %q: %w", truncate(hdr.Linkname), errdefs.ErrInvalidArgument)
		}
		if target == name {
			return nil
		}
		if err := a.replace(name); err != nil {
			return err
		}
		return a.root.Link(target, name)
	case tar.TypeFifo:
		if err := a.replace(name); err != nil {
			return err
		}
		return a.atParent(dir, func(fd int) error {
			if err := unix.Mknodat(fd, base, unix.S_IFIFO|uint32(hdr.Mode&0o7777), 0); err != nil {
				return err
			}
			return unix.Fchownat(fd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)
		})
	case tar.TypeChar, tar.TypeBlock:
		// Device nodes from an image are not created: a container gets its
		// devices from the runtime, never from a layer.
		return nil
	default:
		// Global headers, GNU sparse/volume records and the like carry no file.
		return nil
	}
}

// whiteout records the deletion of dir/base[4:] (or, for the opaque
// marker, of everything below dir in lower layers) in overlay form.
func (a *applier) whiteout(dir, base string) error {
	if base == WhiteoutOpaque {
		if err := a.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		f, err := a.openDir(dir)
		if err != nil {
			return err
		}
		defer f.Close()
		return unix.Fsetxattr(int(f.Fd()), "trusted.overlay.opaque", []byte("y"), 0)
	}
	if strings.HasPrefix(base, WhiteoutMeta) {
		return nil // aufs bookkeeping (.wh..wh.plnk and friends): nothing to do
	}
	target := strings.TrimPrefix(base, WhiteoutPrefix)
	if target == "" || target == "." || target == ".." || strings.ContainsRune(target, '/') {
		return fmt.Errorf("invalid whiteout: %w", errdefs.ErrInvalidArgument)
	}
	if err := a.root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := path.Join(dir, target)
	if err := a.replace(name); err != nil {
		return err
	}
	return a.atParent(dir, func(fd int) error {
		return unix.Mknodat(fd, target, unix.S_IFCHR, 0)
	})
}

// replace removes whatever is at name so a new entry can take its place.
// A directory being replaced by a directory is kept (tar semantics).
func (a *applier) replace(name string) error {
	if name == "." {
		return fmt.Errorf("entry replaces the layer root: %w", errdefs.ErrInvalidArgument)
	}
	fi, err := a.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if fi.IsDir() {
		return a.root.RemoveAll(name)
	}
	return a.root.Remove(name)
}

func (a *applier) openDir(name string) (*os.File, error) {
	return a.root.OpenFile(name, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// atParent runs fn with a descriptor of directory dir (inside the root),
// for the *at system calls that act on an entry without following it.
func (a *applier) atParent(dir string, fn func(fd int) error) error {
	f, err := a.root.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(int(f.Fd()))
}

func (a *applier) dir(name string, hdr *tar.Header) error {
	fi, err := a.root.Lstat(name)
	if err == nil && !fi.IsDir() {
		if err := a.replace(name); err != nil {
			return err
		}
		err = fs.ErrNotExist
	}
	if errors.Is(err, fs.ErrNotExist) {
		if err := a.root.Mkdir(name, 0o700); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	f, err := a.openDir(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := a.meta(f, hdr); err != nil {
		return err
	}
	a.dirTimes = append(a.dirTimes, dirTime{name, atime(hdr), hdr.ModTime})
	return nil
}

func (a *applier) file(name string, hdr *tar.Header, r io.Reader) error {
	if err := a.replace(name); err != nil {
		return err
	}
	f, err := a.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if a.buf == nil {
		a.buf = make([]byte, 256<<10)
	}
	// Through fileWriter: a bare *os.File would take the copy into its
	// ReadFrom, which allocates a buffer of its own for every file.
	if _, err := io.CopyBuffer(fileWriter{f, a.wrote}, r, a.buf); err != nil {
		return err
	}
	if err := a.meta(f, hdr); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime(hdr).UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(int(f.Fd()), "", ts, unix.AT_EMPTY_PATH); err != nil {
		return err
	}
	return f.Close()
}

func atime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

// meta applies owner, mode (set-id bits after chown, which clears them)
// and allowed xattrs to an open file or directory.
func (a *applier) meta(f *os.File, hdr *tar.Header) error {
	fd := int(f.Fd())
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil && !errors.Is(err, unix.EPERM) {
		return err
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return err
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || !allowedXattr(name) {
			continue
		}
		if err := unix.Fsetxattr(fd, name, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("xattr %s: %w", name, err)
		}
	}
	return nil
}

// allowedXattr says which extended attributes a layer may set: file
// capabilities and user attributes. trusted.* (overlay's own bookkeeping)
// and security labels are never taken from an image.
func allowedXattr(name string) bool {
	return name == "security.capability" || strings.HasPrefix(name, "user.")
}
