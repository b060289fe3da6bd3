package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/specgen"
)

// LoadBundleSpec reads the OCI spec of a running container's bundle.
func LoadBundleSpec(dir string) (*specs.Spec, error) {
	var s specs.Spec
	if err := loadJSON(filepath.Join(dir, "config.json"), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ExecOptions are `berth exec` flags.
type ExecOptions struct {
	Cmd        []string
	Env        []string
	User       string
	WorkingDir string
	Tty        bool
	Detach     bool
	Privileged bool
}

// Exec runs a process in a running container with the given stdio and
// returns its exit code (0 at once when detached).
func (e *Engine) Exec(ctx context.Context, ref string, opts ExecOptions, stdin, stdout, stderr *os.File) (int, error) {
	c, err := e.Load(ctx, ref)
	if err != nil {
		return -1, err
	}
	if !c.State.Running {
		return -1, fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrConflict)
	}
	if c.State.Paused {
		return -1, fmt.Errorf("container %s is paused, unpause the container before exec: %w", c.ID, errdefs.ErrConflict)
	}
	if len(opts.Cmd) == 0 {
		return -1, fmt.Errorf("no command specified: %w", errdefs.ErrInvalidArgument)
	}
	spec, err := LoadBundleSpec(e.store.runDir(c.ID))
	if err != nil {
		return -1, fmt.Errorf("reading the spec of %s: %w", c.Name, err)
	}
	p := *spec.Process
	p.Args, p.Terminal = opts.Cmd, opts.Tty
	p.Env = mergeEnv(p.Env, opts.Env)
	if opts.WorkingDir != "" {
		p.Cwd = opts.WorkingDir
	}
	if opts.User != "" {
		u, err := specgen.ResolveUser(spec.Root.Path, opts.User)
		if err != nil {
			return -1, err
		}
		p.User = u
	}
	if opts.Privileged {
		caps := specgen.AllCapabilities()
		p.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	}
	eio := ExecIO{Stdin: stdin, Stdout: stdout, Stderr: stderr, Detach: opts.Detach}
	if opts.Detach {
		eio.PidFile = filepath.Join(e.store.runDir(c.ID), "exec-"+newID()[:12]+".pid")
		defer os.Remove(eio.PidFile)
		null, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		defer null.Close()
		eio.Stdin, eio.Stdout, eio.Stderr = null, null, null
	}
	execID := e.emitExecStart(c, opts.Cmd)
	code, err := e.RuntimeFor(c).Exec(ctx, c.ID, &p, eio)
	if err != nil {
		return -1, err
	}
	e.emitExecDie(c, execID, code, opts.Detach)
	return code, nil
}
