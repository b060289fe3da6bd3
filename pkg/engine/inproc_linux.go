package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/runtime"
)

// OwnRuntimeName is the program name of berth's own OCI runtime; the
// engine runs a runtime of this name in process when Options.FastPath is set.
const OwnRuntimeName = "berth-runtime"

// InProcess is berth's own runtime (pkg/runtime) called as a library: no
// runtime binary is exec'd to create, start, kill or delete a container.
// Its state lives under the same root as the CLI's, so the two are
// interchangeable on one container. Exec goes through the CLI (the exec
// helper must join namespaces before the Go runtime starts, which only a
// fresh process can do).
type InProcess struct {
	rt  *runtime.Runtime
	cli *RuncCLI
}

var _ Runtime = (*InProcess)(nil)

// NewInProcess returns the in-process runtime sharing cli's state root;
// cli serves Exec.
func NewInProcess(cli *RuncCLI) (*InProcess, error) {
	rt, err := runtime.New(cli.Root)
	if err != nil {
		return nil, err
	}
	// Container inits re-execute the lean berth-runtime rather than the whole
	// of berth: the same code, without the start-up of every other package.
	if bin, err := exec.LookPath(cli.Binary); err == nil {
		if abs, err := filepath.Abs(bin); err == nil {
			rt.SetInitBinary(abs)
		}
	}
	return &InProcess{rt: rt, cli: cli}, nil
}

// hold keeps a subreaper's wildcard wait off while the runtime waits for
// children of its own (an nsenter intermediate, hooks).
func (r *InProcess) hold() func() {
	if r.cli.Reaper == nil {
		return func() {}
	}
	return r.cli.Reaper.Hold()
}

func inprocError(op string, err error) error {
	if err == nil {
		return nil
	}
	return runtimeError(op, err.Error(), err)
}

// Create implements Runtime.
func (r *InProcess) Create(ctx context.Context, id, bundle string, cio CreateIO) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	release := r.hold()
	// The pid comes back directly: the pid file is written here, without
	// the fsync the runtime's CLI contract needs.
	pid, err := r.rt.Create(id, &runtime.CreateOptions{
		Bundle: bundle, ConsoleSocket: cio.ConsoleSocket,
		Stdin: cio.Stdin, Stdout: cio.Stdout, Stderr: cio.Stderr,
	})
	release()
	if err != nil {
		return 0, inprocError("create", err)
	}
	if cio.PidFile != "" {
		if err := writeFile(cio.PidFile, []byte(strconv.Itoa(pid)), 0o644, false); err != nil {
			r.Delete(ctx, id, true)
			return 0, fmt.Errorf("writing pid file: %w", err)
		}
	}
	return pid, nil
}

// Start implements Runtime.
func (r *InProcess) Start(ctx context.Context, id string) error {
	release := r.hold()
	defer release()
	return inprocError("start", r.rt.Start(id))
}

// State implements Runtime.
func (r *InProcess) State(ctx context.Context, id string) (*RuntimeState, error) {
	st, err := r.rt.State(id)
	if err != nil {
		return nil, inprocError("state", err)
	}
	return &RuntimeState{ID: st.ID, Pid: st.Pid, Status: string(st.Status), Bundle: st.Bundle}, nil
}

// Kill implements Runtime.
func (r *InProcess) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	return inprocError("kill", r.rt.Kill(id, sig, all))
}

// Delete implements Runtime.
func (r *InProcess) Delete(ctx context.Context, id string, force bool) error {
	if _, err := os.Stat(r.cli.Root + "/" + id); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	release := r.hold()
	defer release()
	err := r.rt.Delete(id, force)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return inprocError("delete", fmt.Errorf("%s: %w", id, err))
	}
	return nil
}

// Exec implements Runtime through the runtime's command line.
func (r *InProcess) Exec(ctx context.Context, id string, p *specs.Process, eio ExecIO) (int, error) {
	return r.cli.Exec(ctx, id, p, eio)
}
