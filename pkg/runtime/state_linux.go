package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

const (
	stateFile = "state.json"
	fifoName  = "exec.fifo"
)

// record is what the runtime keeps on disk for one container.
type record struct {
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pidStart"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
	CgroupPath  string            `json:"cgroupPath,omitempty"`
	// Init is the container init that set the container up: "c" (the
	// nsenter constructor executing the runtime's plan) or "go".
	Init string `json:"init,omitempty"`
	// Config is the spec the container was created from; delete runs its
	// poststop hooks and exec takes namespace and default settings from it.
	Config *specs.Spec `json:"config"`
}

// recordJSON is record as stored: its Config is a specJSON (see there).
type recordJSON struct {
	record
	Config *specJSON `json:"config"`
}

// load reads the record of container id.
func (r *Runtime) load(id string) (*record, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(r.dir(id), stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %q does not exist: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading state of %q: %w", id, err)
	}
	if len(b) == 0 {
		// The first record of a create is not flushed to disk (see
		// create): after a power cut it may come back empty. Nothing it
		// described survived the reboot, so the container is as good as
		// never made, and delete removes the directory.
		return nil, fmt.Errorf("container %q does not exist (its state is empty): %w", id, errdefs.ErrNotFound)
	}
	var w recordJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("state of %q is corrupt: %w", id, err)
	}
	rec := w.record
	rec.Config = nil
	if w.Config != nil {
		rec.Config = &w.Config.Spec
	}
	return &rec, nil
}

// save writes the record atomically: temp file, rename. durable also
// flushes it to disk before the rename, so that it survives a power cut.
func (r *Runtime) save(rec *record, durable bool) error {
	w := recordJSON{record: *rec}
	if rec.Config != nil {
		w.Config = &specJSON{Spec: *rec.Config}
	}
	b, err := json.Marshal(&w)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(r.dir(rec.ID), stateFile), b, 0o600, durable)
}

// writeFileAtomic replaces path with data so readers see the old or the
// new content, never a mix. durable flushes the data (fdatasync) before
// the rename; without it the file is only as safe as the page cache,
// which is enough when the runtime is killed but not when the host is.
func writeFileAtomic(path string, data []byte, mode os.FileMode, durable bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && durable {
		err = unix.Fdatasync(int(f.Fd()))
	}
	if err == nil && mode != 0o600 { // CreateTemp made it 0600
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// procStart returns the start time (in clock ticks since boot) of pid and
// whether it is a zombie; it tells a live init from a recycled pid.
func procStart(pid int) (start uint64, zombie bool, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, err
	}
	// The command name may hold spaces and parens: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return start, f[0] == "Z" || f[0] == "X", err
}

// alive reports whether the record's init process still runs.
func (rec *record) alive() bool {
	if rec.Pid <= 0 {
		return false
	}
	start, zombie, err := procStart(rec.Pid)
	return err == nil && !zombie && start == rec.PidStart
}

// status works the lifecycle status out from the kernel, not from a cached field.
func (r *Runtime) status(rec *record) Status {
	if !rec.alive() {
		return Stopped
	}
	if _, err := os.Lstat(filepath.Join(r.dir(rec.ID), fifoName)); err == nil {
		return Created
	}
	if frozen, err := r.frozen(rec); err == nil && frozen {
		return Paused
	}
	return Running
}

func (r *Runtime) stateOf(rec *record) *State {
	st := &State{
		OCIVersion:  specs.Version,
		ID:          rec.ID,
		Status:      r.status(rec),
		Bundle:      rec.Bundle,
		Rootfs:      rec.Rootfs,
		Created:     rec.Created,
		Owner:       rec.Owner,
		Annotations: rec.Annotations,
	}
	if st.Status != Stopped {
		st.Pid = rec.Pid
	}
	return st
}

// ociState is the state hooks receive on stdin.
func (r *Runtime) ociState(rec *record, status Status) *specs.State {
	return &specs.State{
		Version:     specs.Version,
		ID:          rec.ID,
		Status:      specs.ContainerState(status),
		Pid:         rec.Pid,
		Bundle:      rec.Bundle,
		Annotations: rec.Annotations,
	}
}

// State returns the state of container id.
func (r *Runtime) State(id string) (*State, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return r.stateOf(rec), nil
}

// List returns the state of every container under the root, sorted by id.
func (r *Runtime) List() ([]*State, error) {
	ents, err := os.ReadDir(r.root)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", r.root, err)
	}
	var out []*State
	for _, e := range ents {
		if !e.IsDir() || validateID(e.Name()) != nil {
			continue
		}
		rec, err := r.load(e.Name())
		if err != nil {
			continue // half-created or being deleted
		}
		out = append(out, r.stateOf(rec))
	}
	return out, nil
}

// lock takes an exclusive flock on the container directory for the
// duration of an operation that changes it.
func (r *Runtime) lock(id string) (func(), error) {
	fd, err := unix.Open(r.dir(id), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("container %q does not exist: %w", id, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("locking %q: %w", id, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("locking %q: %w", id, err)
	}
	return func() { unix.Close(fd) }, nil
}
