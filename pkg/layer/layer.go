// Package layer reads and writes image layers: tar changesets in OCI
// image-spec form (whiteouts as ".wh." entries) on the wire, and overlayfs
// form (whiteouts as 0:0 character devices, opaque directories marked by the
// trusted.overlay.opaque xattr) on disk.
//
// Apply unpacks one layer into an empty directory. A layer is hostile input:
// every file operation goes through an os.Root opened at the directory, so
// no entry — whatever its name, a symlink planted earlier in the same layer,
// a hard link, a whiteout — can write outside it. Names with ".." are
// rejected; device nodes are skipped; the uncompressed size is capped.
//
// WriteDiff does the reverse for an overlay upper directory: it writes the
// changeset as a tar with the whiteouts turned back into ".wh." entries.
package layer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"

	"github.com/berth/berth/pkg/errdefs"
)

// Media types of layer blobs.
const (
	MediaTypeOCITar       = "application/vnd.oci.image.layer.v1.tar"
	MediaTypeOCIGzip      = "application/vnd.oci.image.layer.v1.tar+gzip"
	MediaTypeOCIZstd      = "application/vnd.oci.image.layer.v1.tar+zstd"
	MediaTypeDockerGzip   = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerForeig = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// Whiteout names (image-spec layer.md).
const (
	WhiteoutPrefix = ".wh."
	WhiteoutMeta   = ".wh..wh."
	WhiteoutOpaque = ".wh..wh..opq"
)

// Compression identifies how a layer blob is compressed.
type Compression int

// The compressions Decompress recognises.
const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

func (c Compression) String() string {
	return [...]string{"uncompressed", "gzip", "zstd"}[c]
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Detect reports the compression of the stream that starts with b.
func Detect(b []byte) Compression {
	switch {
	case bytes.HasPrefix(b, gzipMagic):
		return Gzip
	case bytes.HasPrefix(b, zstdMagic):
		return Zstd
	}
	return Uncompressed
}

// DecompressOptions tune DecompressWith.
type DecompressOptions struct {
	// Serial decodes gzip in the reading goroutine. By default a gzip
	// stream is decoded ahead in a goroutine of its own (pgzip), which
	// overlaps decoding with the consumer's work when one layer moves at
	// a time; a caller that already moves several layers in parallel
	// saves that goroutine's copies and hand-offs (about a tenth of the
	// CPU time of a pull of incompressible layers).
	Serial bool
}

// Decompress returns the uncompressed stream of a layer blob, sniffing its
// compression from the first bytes (media types lie; magic numbers do not).
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	return DecompressWith(r, DecompressOptions{})
}

// DecompressWith is Decompress with options. The source is read in pieces
// of up to 1 MiB (so a writer teed to it writes large pieces).
func DecompressWith(r io.Reader, opts DecompressOptions) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("reading layer: %w", err)
	}
	switch c := Detect(head); c {
	case Gzip:
		if opts.Serial {
			zr, err := gzip.NewReader(br)
			if err != nil {
				return nil, c, fmt.Errorf("layer gzip header: %w: %v", errdefs.ErrInvalidArgument, err)
			}
			return zr, c, nil
		}
		zr, err := pgzip.NewReaderN(br, 1<<20, 4)
		if err != nil {
			return nil, c, fmt.Errorf("layer gzip header: %w: %v", errdefs.ErrInvalidArgument, err)
		}
		return zr, c, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			return nil, c, fmt.Errorf("layer zstd header: %w: %v", errdefs.ErrInvalidArgument, err)
		}
		return zr.IOReadCloser(), c, nil
	}
	return io.NopCloser(br), Uncompressed, nil
}

// Compress wraps w so that what is written is gzip-compressed in parallel
// (pgzip, fast level: layers are written once and read many times, but
// at 2 cores the default level costs more than the bytes it saves).
func Compress(w io.Writer) (io.WriteCloser, error) {
	zw, err := pgzip.NewWriterLevel(w, pgzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if err := zw.SetConcurrency(1<<20, 4); err != nil {
		return nil, err
	}
	return zw, nil
}
