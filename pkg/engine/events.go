package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth/berth/pkg/errdefs"
)

// Event is one thing that happened to a container, image, volume or
// network, in the shape of docker's events API message.
type Event struct {
	// Status, ID and From are docker's legacy fields (container events only).
	Status   string     `json:"status,omitempty"`
	ID       string     `json:"id,omitempty"`
	From     string     `json:"from,omitempty"`
	Type     string     `json:"Type"`
	Action   string     `json:"Action"`
	Actor    EventActor `json:"Actor"`
	Scope    string     `json:"scope"`
	Time     int64      `json:"time"`
	TimeNano int64      `json:"timeNano"`
}

// EventActor is the object an event is about.
type EventActor struct {
	ID         string
	Attributes map[string]string
}

// Event types.
const (
	EventContainer = "container"
	EventImage     = "image"
	EventVolume    = "volume"
	EventNetwork   = "network"
)

// EventLog is the engine's event log: JSON lines appended (O_APPEND, one
// write per event, so concurrent writers in different processes never
// interleave) to a file under the root. When the file passes MaxSize it
// is rotated to a single ".1" predecessor, so the log stays bounded.
type EventLog struct {
	Path    string
	MaxSize int64
}

// DefaultEventLogSize bounds each of the event log's two files.
const DefaultEventLogSize = 2 << 20

// Events returns the engine's event log.
func (e *Engine) Events() *EventLog {
	return &EventLog{Path: filepath.Join(e.opts.Root, "events.log"), MaxSize: DefaultEventLogSize}
}

// Append writes ev to the log, filling in its time and scope.
func (l *EventLog) Append(ev Event) error {
	if ev.TimeNano == 0 {
		now := time.Now()
		ev.Time, ev.TimeNano = now.Unix(), now.UnixNano()
	}
	if ev.Scope == "" {
		ev.Scope = "local"
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening the event log: %w", err)
	}
	_, err = f.Write(b)
	var size int64
	if st, serr := f.Stat(); serr == nil {
		size = st.Size()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && l.MaxSize > 0 && size > l.MaxSize {
		l.rotate()
	}
	return err
}

// rotate moves the full log aside under a lock; a writer that still holds
// the old file open appends to ".1", where readers find it too.
func (l *EventLog) rotate() {
	lk, err := lockFile(l.Path + ".lock")
	if err != nil {
		return
	}
	defer lk.Unlock()
	if st, err := os.Stat(l.Path); err != nil || st.Size() <= l.MaxSize {
		return // another writer rotated it
	}
	os.Rename(l.Path, l.Path+".1")
}

// emit records an event; a failure to record is logged, never returned:
// the operation it describes has happened.
func (e *Engine) emit(ev Event) {
	if err := e.Events().Append(ev); err != nil {
		slog.Warn("recording an event", "action", ev.Action, "err", err)
	}
}

// EmitContainer records a container event (create, start, die, ...) with
// docker's attributes: the image, the name, the container's labels and
// extra (exitCode for die, signal for kill).
func (e *Engine) EmitContainer(c *Container, action string, extra map[string]string) {
	attrs := map[string]string{}
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	img := c.ImageRef
	if img == "" {
		img = c.Config.Image
	}
	attrs["image"], attrs["name"] = img, c.Name
	for k, v := range extra {
		attrs[k] = v
	}
	e.emit(Event{Status: action, ID: c.ID, From: img, Type: EventContainer, Action: action,
		Actor: EventActor{ID: c.ID, Attributes: attrs}})
}

// VolumeEvent is docker's event about volume name (Actor.ID is the
// name): create, mount (with container, destination, read/write,
// propagation), unmount (with container) and destroy. The driver is
// always "local".
func VolumeEvent(action, name string, extra map[string]string) Event {
	attrs := map[string]string{"driver": "local"}
	for k, v := range extra {
		attrs[k] = v
	}
	return Event{Type: EventVolume, Action: action, Actor: EventActor{ID: name, Attributes: attrs}}
}

// NetworkEvent is docker's event about a network (Actor.ID is its ID):
// create and destroy, and connect and disconnect of container.
func NetworkEvent(action, id, name, container string) Event {
	attrs := map[string]string{"name": name, "type": "bridge"}
	if container != "" {
		attrs["container"] = container
	}
	return Event{Type: EventNetwork, Action: action, Actor: EventActor{ID: id, Attributes: attrs}}
}

// EmitVolume records a volume event (see VolumeEvent).
func (e *Engine) EmitVolume(action, name string, extra map[string]string) {
	e.emit(VolumeEvent(action, name, extra))
}

// EmitNetwork records a network event (see NetworkEvent).
func (e *Engine) EmitNetwork(action, id, name, container string) {
	e.emit(NetworkEvent(action, id, name, container))
}

// EmitImage records an image event (pull, tag, untag, delete, ...).
func (e *Engine) EmitImage(action, id, name string) {
	attrs := map[string]string{}
	if name != "" {
		attrs["name"] = name
	}
	e.emit(Event{Status: action, ID: id, Type: EventImage, Action: action, Actor: EventActor{ID: id, Attributes: attrs}})
}

// EventFilter selects events as docker's --filter does: values of one key
// are alternatives, different keys must all match.
type EventFilter map[string][]string

// ParseEventFilters reads --filter KEY=VALUE flags.
func ParseEventFilters(args []string) (EventFilter, error) {
	f := EventFilter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %s: %w", a, errdefs.ErrInvalidArgument)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		switch k {
		case "type", "event", "container", "image", "label", "volume", "network", "scope":
		default:
			return nil, fmt.Errorf("invalid filter '%s': %w", k, errdefs.ErrInvalidArgument)
		}
		if k == "type" {
			switch v {
			case EventContainer, EventImage, EventVolume, EventNetwork:
			default:
				return nil, fmt.Errorf("invalid event type %q: want container, image, volume or network: %w", v, errdefs.ErrInvalidArgument)
			}
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// Match reports whether ev passes the filter.
func (f EventFilter) Match(ev *Event) bool {
	oneOf := func(key string, ok func(v string) bool) bool {
		vs, set := f[key]
		if !set {
			return true
		}
		for _, v := range vs {
			if ok(v) {
				return true
			}
		}
		return false
	}
	attr := ev.Actor.Attributes
	return oneOf("type", func(v string) bool { return ev.Type == v }) &&
		oneOf("scope", func(v string) bool { return ev.Scope == v }) &&
		oneOf("event", func(v string) bool {
			// "health_status" matches "health_status: healthy" (and
			// exec_create, exec_start their commands).
			action, _, _ := strings.Cut(ev.Action, ":")
			return ev.Action == v || action == v
		}) &&
		oneOf("container", func(v string) bool {
			return ev.Type == EventContainer && (ev.Actor.ID == v || attr["name"] == strings.TrimPrefix(v, "/") ||
				len(v) >= 3 && strings.HasPrefix(ev.Actor.ID, v))
		}) &&
		oneOf("image", func(v string) bool {
			if ev.Type == EventImage {
				return ev.Actor.ID == v || attr["name"] == v
			}
			return attr["image"] == v
		}) &&
		oneOf("volume", func(v string) bool { return ev.Type == EventVolume && (ev.Actor.ID == v || attr["name"] == v) }) &&
		oneOf("network", func(v string) bool {
			return ev.Type == EventNetwork && (ev.Actor.ID == v || attr["name"] == v || len(v) >= 3 && strings.HasPrefix(ev.Actor.ID, v))
		}) &&
		oneOf("label", func(v string) bool {
			k, val, hasVal := strings.Cut(v, "=")
			got, ok := attr[k]
			return ok && (!hasVal || got == val)
		})
}

// EventsOptions select which events Watch delivers.
type EventsOptions struct {
	// Since replays recorded events from this time on; zero replays none
	// (unless Until is set, which replays everything up to it).
	Since time.Time
	// Until ends the stream: past events after it are skipped, and when
	// it is in the future Watch follows new events until it passes.
	// Zero follows until ctx ends.
	Until  time.Time
	Filter EventFilter
	// Poll is how often the log is checked for new events; default 100ms.
	Poll time.Duration
}

// Watch delivers the events opts select to fn, oldest first: recorded ones
// first, then new ones as they are appended, until ctx ends or Until
// passes. An error from fn stops it and is returned.
func (l *EventLog) Watch(ctx context.Context, opts EventsOptions, fn func(*Event) error) error {
	if !opts.Until.IsZero() && !opts.Since.IsZero() && opts.Until.Before(opts.Since) {
		return fmt.Errorf("`since` time (%s) cannot be after `until` time (%s): %w",
			opts.Since.Format(time.RFC3339), opts.Until.Format(time.RFC3339), errdefs.ErrInvalidArgument)
	}
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	replay := !opts.Since.IsZero() || !opts.Until.IsZero()
	deliver := func(ev *Event) (stop bool, err error) {
		t := time.Unix(0, ev.TimeNano)
		if !opts.Until.IsZero() && t.After(opts.Until) {
			return false, nil
		}
		if !opts.Since.IsZero() && t.Before(opts.Since) {
			return false, nil
		}
		if opts.Filter != nil && !opts.Filter.Match(ev) {
			return false, nil
		}
		return false, fn(ev)
	}
	// Open the current file before replaying its predecessor, so no event
	// falls between the two.
	t := &tailer{path: l.Path}
	if err := t.open(); err != nil {
		return err
	}
	defer t.close()
	if replay {
		if err := readEvents(l.Path+".1", deliver); err != nil {
			return err
		}
	} else if t.f != nil {
		// Only new events: start at the end of the log.
		if off, err := t.f.Seek(0, io.SeekEnd); err == nil {
			t.off = off
		}
	}
	for {
		if err := t.read(deliver); err != nil {
			return err
		}
		if !opts.Until.IsZero() && !time.Now().Before(opts.Until) {
			return nil
		}
		wait := opts.Poll
		if !opts.Until.IsZero() {
			wait = min(wait, time.Until(opts.Until)+time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// readEvents reads every event of one file.
func readEvents(path string, fn func(*Event) (bool, error)) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = scanEvents(f, fn)
	return err
}

// scanEvents reads whole lines from r; it returns how many bytes it used
// (a partial last line, still being written, is left for later).
func scanEvents(r io.Reader, fn func(*Event) (bool, error)) (int64, error) {
	br := bufio.NewReaderSize(r, 64*1024)
	var used int64
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			used += int64(len(line))
			var ev Event
			if json.Unmarshal(bytes.TrimSpace(line), &ev) == nil && ev.Action != "" {
				if stop, ferr := fn(&ev); ferr != nil || stop {
					return used, ferr
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return used, nil
			}
			return used, err
		}
	}
}

// tailer follows the log across rotations: when the path names a new file,
// the old one is read to its end first.
type tailer struct {
	path string
	f    *os.File
	off  int64
}

func (t *tailer) open() error {
	f, err := os.Open(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening the event log: %w", err)
	}
	t.f, t.off = f, 0
	return nil
}

func (t *tailer) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

// read delivers what was appended since the last read. After a rotation
// the old file is read to its end; if the log rotated twice meanwhile, the
// file in between (now ".1") is read whole before the new one.
func (t *tailer) read(fn func(*Event) (bool, error)) error {
	for {
		if err := t.scan(fn); err != nil {
			return err
		}
		if !t.rotated() {
			return nil
		}
		// A writer may have appended to the old file after the scan
		// above and before it rotated: finish that file first.
		if err := t.scan(fn); err != nil {
			return err
		}
		var finished os.FileInfo
		if t.f != nil {
			finished, _ = t.f.Stat()
		}
		t.close()
		if prev, err := os.Stat(t.path + ".1"); err == nil && finished != nil && !os.SameFile(prev, finished) {
			if err := readEvents(t.path+".1", fn); err != nil {
				return err
			}
		}
		if err := t.open(); err != nil {
			return err
		}
	}
}

// scan delivers the open file's whole lines past the last read.
func (t *tailer) scan(fn func(*Event) (bool, error)) error {
	if t.f == nil {
		return nil
	}
	if _, err := t.f.Seek(t.off, io.SeekStart); err != nil {
		return err
	}
	n, err := scanEvents(t.f, fn)
	t.off += n
	return err
}

// rotated reports whether the path now names another file than the open one.
func (t *tailer) rotated() bool {
	st, err := os.Stat(t.path)
	if err != nil {
		return false
	}
	if t.f == nil {
		return true
	}
	cur, err := t.f.Stat()
	if err != nil {
		return true
	}
	a, aok := st.Sys().(*syscall.Stat_t)
	b, bok := cur.Sys().(*syscall.Stat_t)
	return aok && bok && (a.Ino != b.Ino || a.Dev != b.Dev)
}

// emitKill records docker's kill event, which carries the signal's number.
func (e *Engine) emitKill(c *Container, sig syscall.Signal) {
	e.EmitContainer(c, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
}

// emitByRef records an event about the container ref names now.
func (e *Engine) emitByRef(ctx context.Context, ref, action string) {
	if c, err := e.Load(ctx, ref); err == nil {
		e.EmitContainer(c, action, nil)
	}
}

// emitExecStart records docker's exec_create and exec_start events and
// returns the exec's ID.
func (e *Engine) emitExecStart(c *Container, cmd []string) string {
	id := newID()
	line := strings.Join(cmd, " ")
	e.EmitContainer(c, "exec_create: "+line, map[string]string{"execID": id})
	e.EmitContainer(c, "exec_start: "+line, map[string]string{"execID": id})
	return id
}

// emitExecDie records the end of an attached exec with its exit code (a
// detached one is not waited for).
func (e *Engine) emitExecDie(c *Container, execID string, code int, detached bool) {
	if !detached {
		e.EmitContainer(c, "exec_die", map[string]string{"execID": execID, "exitCode": strconv.Itoa(code)})
	}
}
