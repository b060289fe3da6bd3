package engine

import "context"

var (
	_ Pauser = (*RuncCLI)(nil)
	_ Pauser = (*InProcess)(nil)
)

// Pause implements Pauser with the runtime's pause command.
func (r *RuncCLI) Pause(ctx context.Context, id string) error { return r.run(ctx, "pause", id) }

// Resume implements Pauser with the runtime's resume command.
func (r *RuncCLI) Resume(ctx context.Context, id string) error { return r.run(ctx, "resume", id) }

// Pause implements Pauser.
func (r *InProcess) Pause(ctx context.Context, id string) error {
	return inprocError("pause", r.rt.Pause(id))
}

// Resume implements Pauser.
func (r *InProcess) Resume(ctx context.Context, id string) error {
	return inprocError("resume", r.rt.Resume(id))
}
