package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/berth/berth/pkg/errdefs"
)

// Frame kinds on a monitor's attach socket. Each frame is a kind byte, three
// zero bytes, a big-endian uint32 length and the payload (docker's stream
// framing, with control kinds added).
const (
	FrameStdin      byte = 0 // client → monitor
	FrameStdout     byte = 1 // monitor → client
	FrameStderr     byte = 2 // monitor → client
	FrameExit       byte = 3 // monitor → client: decimal exit code; the stream ends
	FrameResize     byte = 4 // client → monitor: "rows cols"
	FrameStdinClose byte = 5 // client → monitor: stdin reached EOF
	// FrameHello is every client's first frame; payload "remove" says the
	// client removes a --rm container itself once it exits (see
	// AttachOptions.Remove). A monitor awaiting its first client starts the
	// container on it.
	FrameHello byte = 6 // client → monitor
)

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, kind byte, p []byte) error {
	var hdr [8]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	if _, err := w.Write(append(hdr[:], p...)); err != nil {
		return err
	}
	return nil
}

// ReadFrame reads one frame; payloads are capped at 1 MiB.
func ReadFrame(r io.Reader) (byte, []byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("attach frame of %d bytes: %w", n, errdefs.ErrInvalidArgument)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// AttachSocket is the path of container id's attach socket. It is short:
// unix socket paths are limited to 108 bytes.
func (e *Engine) AttachSocket(id string) string {
	return filepath.Join(e.opts.RunRoot, "s", id[:16]+".a")
}

// ConsoleSocket is where the runtime sends container id's pty master.
func (e *Engine) ConsoleSocket(id string) string {
	return filepath.Join(e.opts.RunRoot, "s", id[:16]+".c")
}

// AttachOptions are the client's streams. Stdin nil means not attached to stdin.
type AttachOptions struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Resize delivers terminal sizes (rows, cols) to forward.
	Resize <-chan [2]uint16
	// Remove tells the monitor of a --rm container that this client
	// removes it (AwaitRemoval) after the exit: the monitor then leaves
	// the removal, which needs the image store, to it. Without a client
	// that stays to the end, the monitor removes the container itself.
	Remove bool
	// Conn, when set, is a connection to the monitor made by the handoff
	// (PendingMonitor.PreAttach and AttachConn) whose hello, with Remove,
	// was sent already: Attach uses it instead of dialing, and closes it.
	Conn io.ReadWriteCloser
}

// Attach connects to the container's monitor and copies streams until the
// container exits; it returns the exit code. An attach that connects first
// to a monitor started with WaitAttach lets the container run.
func (e *Engine) Attach(ctx context.Context, ref string, opts AttachOptions) (int, error) {
	id, err := e.store.resolve(ref)
	if err != nil {
		if opts.Conn != nil {
			opts.Conn.Close()
		}
		return -1, err
	}
	conn := opts.Conn
	if conn == nil {
		c, err := net.Dial("unix", e.AttachSocket(id))
		if err != nil {
			return -1, fmt.Errorf("attaching to %s: is it running? %w", ref, errdefs.ErrConflict)
		}
		conn = c
		hello := []byte{}
		if opts.Remove {
			hello = []byte("remove")
		}
		if err := WriteFrame(conn, FrameHello, hello); err != nil {
			conn.Close()
			return -1, fmt.Errorf("attaching to %s: %w", ref, err)
		}
	}
	defer conn.Close()
	var wmu sync.Mutex
	send := func(kind byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return WriteFrame(conn, kind, p)
	}
	if opts.Stdin != nil {
		go func() {
			buf := make([]byte, 32*1024)
			for {
				n, err := opts.Stdin.Read(buf)
				if n > 0 {
					if send(FrameStdin, buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					send(FrameStdinClose, nil)
					return
				}
			}
		}()
	}
	if opts.Resize != nil {
		go func() {
			for sz := range opts.Resize {
				if send(FrameResize, []byte(fmt.Sprintf("%d %d", sz[0], sz[1]))) != nil {
					return
				}
			}
		}()
	}
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	for {
		kind, p, err := ReadFrame(conn)
		if err != nil {
			if ctx.Err() != nil {
				return -1, ctx.Err()
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				// The monitor went away without a verdict: ask the record.
				c, lerr := e.Load(ctx, id)
				if lerr != nil {
					return -1, fmt.Errorf("attach to %s ended: %w", ref, err)
				}
				return c.State.ExitCode, nil
			}
			return -1, err
		}
		switch kind {
		case FrameStdout:
			if opts.Stdout != nil {
				opts.Stdout.Write(p)
			}
		case FrameStderr:
			if opts.Stderr != nil {
				opts.Stderr.Write(p)
			}
		case FrameExit:
			code, err := strconv.Atoi(string(p))
			if err != nil {
				return -1, fmt.Errorf("bad exit frame %q", p)
			}
			return code, nil
		}
	}
}
