package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth/berth/pkg/errdefs"
)

// Pauser is a runtime that can freeze every process of a container (the
// freezer cgroup) and thaw them again: the OCI runtimes' pause and resume.
type Pauser interface {
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
}

func (e *Engine) pauser(c *Container) (Pauser, error) {
	p, ok := e.RuntimeFor(c).(Pauser)
	if !ok {
		return nil, fmt.Errorf("the runtime of %s cannot pause containers: %w", c.Name, errdefs.ErrNotImplemented)
	}
	return p, nil
}

// Pause freezes every process of a running container, as docker pause.
func (e *Engine) Pause(ctx context.Context, ref string) error {
	c, err := e.Load(ctx, ref)
	if err != nil {
		return err
	}
	p, err := e.pauser(c)
	if err != nil {
		return err
	}
	c, err = e.Update(c.ID, func(c *Container) error {
		switch {
		case c.State.Restarting:
			return fmt.Errorf("container %s is restarting, wait until the container is running: %w", c.ID, errdefs.ErrConflict)
		case !c.State.Running:
			return fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrConflict)
		case c.State.Paused:
			return fmt.Errorf("container %s is already paused: %w", c.ID, errdefs.ErrConflict)
		}
		if err := p.Pause(ctx, c.ID); err != nil {
			return fmt.Errorf("cannot pause container %s: %w", c.ID, err)
		}
		c.State.Paused, c.State.Status = true, StatusPaused
		return nil
	})
	if err != nil {
		return err
	}
	e.EmitContainer(c, "pause", nil)
	return nil
}

// Unpause thaws a paused container, as docker unpause.
func (e *Engine) Unpause(ctx context.Context, ref string) error {
	c, err := e.Load(ctx, ref)
	if err != nil {
		return err
	}
	if !c.State.Paused {
		return fmt.Errorf("container %s is not paused: %w", c.ID, errdefs.ErrConflict)
	}
	return e.resume(ctx, c, false)
}

// resume thaws c and records it running again; with force, a failure to
// thaw (the container is gone, or was thawed by a kill) is ignored.
func (e *Engine) resume(ctx context.Context, c *Container, force bool) error {
	p, err := e.pauser(c)
	if err != nil {
		return err
	}
	c, err = e.Update(c.ID, func(c *Container) error {
		if !c.State.Paused {
			return fmt.Errorf("container %s is not paused: %w", c.ID, errdefs.ErrConflict)
		}
		// A container that is gone is thawed as far as anyone can tell.
		if err := p.Resume(ctx, c.ID); err != nil && !force && !errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("cannot unpause container %s: %w", c.ID, err)
		}
		c.State.Paused = false
		if c.State.Running {
			c.State.Status = StatusRunning
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.EmitContainer(c, "unpause", nil)
	return nil
}

// thawIfPaused lets a signal just sent to a paused container be delivered:
// docker's stop, kill and rm -f work on paused containers the same way.
func (e *Engine) thawIfPaused(ctx context.Context, c *Container) {
	if c.State.Paused {
		e.resume(ctx, c, true)
	}
}

// StatusPaused is a running container whose processes are frozen.
const StatusPaused = "paused"

// Paused reports whether container id is recorded as paused.
func (e *Engine) Paused(id string) bool {
	c, err := e.store.load(id)
	return err == nil && c.State.Paused
}
