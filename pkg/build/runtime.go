package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

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

// DefaultRuntime picks the runtime: env BERTH_RUNTIME when set, else
// berth-runtime beside the running binary, else runc on PATH.
func DefaultRuntime(root string) (*OCIRuntime, error) {
	if p := os.Getenv("BERTH_RUNTIME"); p != "" {
		return FindRuntime(p, root)
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "berth-runtime")
		// Use it only once it has the run verb (it is being built up).
		if out, err := exec.Command(p, "run", "--help").Output(); err == nil && strings.Contains(string(out), "--bundle") {
			return &OCIRuntime{Path: p, Root: root}, nil
		}
	}
	return FindRuntime("runc", root)
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
	cmd := exec.CommandContext(ctx, r.Path, "--root", r.Root, "run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Stdin = nil
	err := cmd.Run()
	// A runtime that died before deleting its container leaves state: clear it.
	defer exec.Command(r.Path, "--root", r.Root, "delete", "--force", id).Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
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
