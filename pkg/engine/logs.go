package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth/berth/pkg/errdefs"
)

// LogEntry is one line of a json-file log, docker's format.
type LogEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// rotation is --log-opt max-size / max-file.
type rotation struct {
	maxSize int64 // 0: unlimited
	maxFile int
}

func logRotation(lc LogConfig) (rotation, error) {
	if lc.Type != "json-file" && lc.Type != "" {
		return rotation{}, fmt.Errorf("log driver %q is not supported: berth writes json-file logs: %w", lc.Type, errdefs.ErrNotImplemented)
	}
	r := rotation{maxFile: 1}
	for k, v := range lc.Config {
		switch k {
		case "max-size":
			n, err := parseBytes(v)
			if err != nil || n <= 0 {
				return r, fmt.Errorf("invalid --log-opt max-size=%s: %w", v, errdefs.ErrInvalidArgument)
			}
			r.maxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return r, fmt.Errorf("invalid --log-opt max-file=%s: want a number >= 1: %w", v, errdefs.ErrInvalidArgument)
			}
			r.maxFile = n
		default:
			return r, fmt.Errorf("unknown --log-opt %q for json-file: want max-size or max-file: %w", k, errdefs.ErrInvalidArgument)
		}
	}
	if r.maxFile > 1 && r.maxSize == 0 {
		return r, fmt.Errorf("--log-opt max-file needs max-size: %w", errdefs.ErrInvalidArgument)
	}
	return r, nil
}

// LogWriter appends JSON lines to a container's log, rotating by size.
type LogWriter struct {
	mu   sync.Mutex
	path string
	rot  rotation
	f    *os.File
	size int64
}

// OpenLog opens (appending) the log of c.
func OpenLog(c *Container) (*LogWriter, error) {
	rot, err := logRotation(c.HostConfig.LogConfig)
	if err != nil {
		return nil, err
	}
	w := &LogWriter{path: c.LogPath, rot: rot}
	return w, w.open()
}

func (w *LogWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	st, _ := f.Stat()
	w.f, w.size = f, st.Size()
	return nil
}

// Write logs one chunk of a stream as a line.
func (w *LogWriter) Write(stream string, line []byte, t time.Time) error {
	b, err := json.Marshal(LogEntry{Log: string(line), Stream: stream, Time: t.UTC()})
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rot.maxSize > 0 && w.size+int64(len(b)) > w.rot.maxSize && w.size > 0 {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	return err
}

func (w *LogWriter) rotate() error {
	w.f.Close()
	if w.rot.maxFile <= 1 {
		if err := os.Truncate(w.path, 0); err != nil {
			return err
		}
	} else {
		for i := w.rot.maxFile - 1; i >= 1; i-- {
			from := w.path
			if i > 1 {
				from = w.path + "." + strconv.Itoa(i-1)
			}
			os.Rename(from, w.path+"."+strconv.Itoa(i))
		}
	}
	return w.open()
}

// Close closes the log.
func (w *LogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// LogsOptions are `berth logs` flags.
type LogsOptions struct {
	Follow     bool
	Tail       int // <0: all
	Since      time.Time
	Until      time.Time
	Timestamps bool
}

// Logs writes the container's log to stdout and stderr by stream.
func (e *Engine) Logs(ctx context.Context, ref string, opts LogsOptions, stdout, stderr io.Writer) error {
	c, err := e.Load(ctx, ref)
	if err != nil {
		return err
	}
	rot, _ := logRotation(c.HostConfig.LogConfig)
	var entries []LogEntry
	for i := rot.maxFile - 1; i >= 1; i-- {
		entries = append(entries, readLogFile(c.LogPath+"."+strconv.Itoa(i))...)
	}
	f, err := os.Open(c.LogPath)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var rd *lineReader
	if f != nil {
		defer f.Close()
		rd = &lineReader{rd: bufio.NewReaderSize(f, 64*1024)}
		entries = append(entries, rd.entries()...)
	}
	if opts.Tail >= 0 && len(entries) > opts.Tail {
		entries = entries[len(entries)-opts.Tail:]
	}
	emit := func(en LogEntry) {
		if !opts.Since.IsZero() && en.Time.Before(opts.Since) {
			return
		}
		if !opts.Until.IsZero() && en.Time.After(opts.Until) {
			return
		}
		w := stdout
		if en.Stream == "stderr" {
			w = stderr
		}
		if opts.Timestamps {
			fmt.Fprintf(w, "%s %s", en.Time.Format(time.RFC3339Nano), en.Log)
		} else {
			io.WriteString(w, en.Log)
		}
	}
	for _, en := range entries {
		emit(en)
	}
	if !opts.Follow {
		return nil
	}
	delay := 10 * time.Millisecond
	for {
		if rd == nil {
			if f, err = os.Open(c.LogPath); err == nil {
				defer f.Close()
				rd = &lineReader{rd: bufio.NewReaderSize(f, 64*1024)}
			}
		}
		got := false
		if rd != nil {
			for _, en := range rd.entries() {
				emit(en)
				got = true
			}
			// Rotated away: the path now names a new, shorter file.
			if st, err := os.Stat(c.LogPath); err == nil {
				if cur, err := f.Seek(0, io.SeekCurrent); err == nil && st.Size() < cur-int64(rd.rd.Buffered()) {
					f.Close()
					f, rd = nil, nil
					continue
				}
			}
		}
		if got {
			delay = 10 * time.Millisecond
			continue
		}
		cur, err := e.Load(ctx, c.ID)
		if err != nil || (!cur.State.Running && !cur.State.Restarting) {
			if rd != nil { // last words written between the read and the check
				for _, en := range rd.entries() {
					emit(en)
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

func readLogFile(path string) []LogEntry {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return (&lineReader{rd: bufio.NewReader(f)}).entries()
}

// lineReader reads JSON lines, holding back a partial last line until the
// writer finishes it.
type lineReader struct {
	rd    *bufio.Reader
	carry string
}

func (l *lineReader) entries() []LogEntry {
	var out []LogEntry
	for {
		line, err := l.rd.ReadString('\n')
		if err != nil {
			l.carry += line
			return out
		}
		line, l.carry = l.carry+line, ""
		var en LogEntry
		if json.Unmarshal([]byte(line), &en) == nil {
			out = append(out, en)
		}
	}
}

// parseBytes parses sizes such as 10k, 5m, 1g, 512 (binary multiples).
func parseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "b"), "i")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size: %q: %w", s, errdefs.ErrInvalidArgument)
	}
	return int64(f * float64(mult)), nil
}

// ParseBytes parses a docker size string such as "512m" or "1g".
func ParseBytes(s string) (int64, error) { return parseBytes(s) }
