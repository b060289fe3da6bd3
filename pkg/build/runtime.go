package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/berth/berth/pkg/errdefs"
)

// Runtime runs one RUN step's container from an OCI bundle to completion.
type Runtime interface {
	// Run runs the container id from bundle with stdout and stderr wired to
	// out, and returns its exit status.
	Run(ctx context.Context, id, bundle string, out io.Writer) (int, error)
}

// OCIRuntime drives an OCI runtime binary through runc's command line:
// `RUNTIME --root DIR run --bundle B ID`.
type OCIRuntime struct {
	// Path is the runtime binary (berth-runtime, runc, crun...).
	Path string
	// Root is the runtime's state directory.
	Root string
}

var _ Runtime = (*OCIRuntime)(nil)

// DefaultRuntime picks the runtime: env BERTH_RUNTIME when set; else
// berth-runtime beside the running binary, falling back to runc for the
// rest of the build if berth-runtime fails to start a container (it is
// still growing); else runc on PATH.
func DefaultRuntime(root string) (Runtime, error) {
	if p := os.Getenv("BERTH_RUNTIME"); p != "" {
		return FindRuntime(p, root)
	}
	var cands []*OCIRuntime
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "berth-runtime")
		if canRunBuilds(p) {
			cands = append(cands, &OCIRuntime{Path: p, Root: root})
		}
	}
	if r, err := FindRuntime("runc", root); err == nil {
		cands = append(cands, r)
	}
	switch len(cands) {
	case 0:
		return nil, fmt.Errorf("no OCI runtime for RUN: neither berth-runtime beside berth nor runc on PATH: %w", errdefs.ErrUnavailable)
	case 1:
		return cands[0], nil
	}
	return &fallbackRuntime{cands: cands}, nil
}

// canRunBuilds reports whether the runtime at p has what a RUN step's spec
// asks for: the run verb, and seccomp according to its `features` report
// (the spec carries docker's default seccomp profile).
func canRunBuilds(p string) bool {
	out, err := exec.Command(p, "run", "--help").Output()
	if err != nil || !strings.Contains(string(out), "--bundle") {
		return false
	}
	out, err = exec.Command(p, "features").Output()
	if err != nil {
		return false
	}
	var f struct {
		Linux struct {
			Seccomp struct {
				Enabled *bool `json:"enabled"`
			} `json:"seccomp"`
		} `json:"linux"`
	}
	return json.Unmarshal(out, &f) == nil && f.Linux.Seccomp.Enabled != nil && *f.Linux.Seccomp.Enabled
}

// fallbackRuntime tries its runtimes in order until one starts a container,
// then keeps that one.
type fallbackRuntime struct {
	mu     sync.Mutex
	cands  []*OCIRuntime
	chosen *OCIRuntime
}

func (f *fallbackRuntime) Run(ctx context.Context, id, bundle string, out io.Writer) (int, error) {
	f.mu.Lock()
	chosen := f.chosen
	f.mu.Unlock()
	if chosen != nil {
		return chosen.Run(ctx, id, bundle, out)
	}
	for i, c := range f.cands {
		code, err := c.Run(ctx, id, bundle, out)
		var re *RuntimeError
		if errors.As(err, &re) && i < len(f.cands)-1 {
			fmt.Fprintf(out, "warning: %s could not start the build container (%s); using %s\n", filepath.Base(c.Path), re.Msg, filepath.Base(f.cands[i+1].Path))
			continue
		}
		f.mu.Lock()
		f.chosen = c
		f.mu.Unlock()
		return code, err
	}
	return -1, fmt.Errorf("no OCI runtime: %w", errdefs.ErrUnavailable)
}

// RuntimeError is the runtime failing (as opposed to the container's
// command exiting non-zero): what it logged as its error.
type RuntimeError struct {
	Runtime string
	Msg     string
}

func (e *RuntimeError) Error() string {
	return fmt.Sprintf("OCI runtime %s failed: %s", e.Runtime, e.Msg)
}

// FindRuntime resolves name (a path or a program on PATH).
func FindRuntime(name, root string) (*OCIRuntime, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("OCI runtime %q: %w", name, errors.Join(errdefs.ErrUnavailable, err))
	}
	return &OCIRuntime{Path: p, Root: root}, nil
}

// Run implements Runtime.
func (r *OCIRuntime) Run(ctx context.Context, id, bundle string, out io.Writer) (int, error) {
	logPath := filepath.Join(bundle, "runtime-log.json")
	os.Remove(logPath) // a previous runtime's errors are not ours
	cmd := exec.CommandContext(ctx, r.Path, "--root", r.Root, "--log", logPath, "--log-format", "json", "run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Stdin = nil
	err := cmd.Run()
	// A runtime that died before deleting its container leaves state: clear it.
	defer exec.Command(r.Path, "--root", r.Root, "delete", "--force", id).Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if msg := lastLoggedError(logPath); msg != "" {
			return -1, &RuntimeError{Runtime: filepath.Base(r.Path), Msg: msg}
		}
		if ee.ExitCode() >= 0 {
			return ee.ExitCode(), nil
		}
		return 128 + 9, nil
	}
	if err != nil {
		return -1, fmt.Errorf("running %s: %w", r.Path, err)
	}
	return 0, nil
}

// lastLoggedError returns the message of the last error the runtime wrote
// to its JSON log (runc's --log format: one JSON object a line).
func lastLoggedError(p string) string {
	data, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	msg := ""
	for _, line := range strings.Split(string(data), "\n") {
		var e struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Level == "error" && e.Msg != "" {
			msg = e.Msg
		}
	}
	return msg
}

// LazyRuntime defers choosing a runtime until a RUN step needs one, so a
// build that is all cache hits never probes for it.
func LazyRuntime(choose func() (Runtime, error)) Runtime {
	return &lazyRuntime{choose: choose}
}

type lazyRuntime struct {
	once   sync.Once
	choose func() (Runtime, error)
	rt     Runtime
	err    error
}

func (l *lazyRuntime) Run(ctx context.Context, id, bundle string, out io.Writer) (int, error) {
	l.once.Do(func() { l.rt, l.err = l.choose() })
	if l.err != nil {
		return -1, l.err
	}
	return l.rt.Run(ctx, id, bundle, out)
}
