package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// NetworkRenamer is a Network that can change the name a container is
// known by on its networks (peers' hosts files follow).
type NetworkRenamer interface {
	Rename(ctx context.Context, containerID, name string) error
}

// Rename gives a container a new name, as docker rename: the new name must
// be free; the old one is released. Peers on user networks resolve the new
// name from then on.
func (e *Engine) Rename(ctx context.Context, ref, newName string) error {
	newName = strings.TrimPrefix(newName, "/")
	if newName == "" {
		return fmt.Errorf("neither old nor new names may be empty: %w", errdefs.ErrInvalidArgument)
	}
	if !validName(newName) {
		return fmt.Errorf("invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", newName, errdefs.ErrInvalidArgument)
	}
	c, err := e.Load(ctx, ref)
	if err != nil {
		return err
	}
	if c.Name == newName {
		return fmt.Errorf("renaming a container with the same name as its current name: %w", errdefs.ErrInvalidArgument)
	}
	if err := e.store.reserveName(newName, c.ID); err != nil {
		return err
	}
	old := c.Name
	c, err = e.Update(c.ID, func(c *Container) error {
		if c.State.Status == StatusRemoving {
			return fmt.Errorf("container %s is being removed: %w", c.Name, errdefs.ErrConflict)
		}
		old, c.Name = c.Name, newName
		return nil
	})
	if err != nil {
		e.store.releaseName(newName, c.ID)
		return fmt.Errorf("renaming container %s: %w", old, err)
	}
	e.store.releaseName(old, c.ID)
	if r, ok := e.opts.Network.(NetworkRenamer); ok && len(c.NetworkSettings.Networks) > 0 {
		if err := r.Rename(ctx, c.ID, newName); err != nil {
			slog.Warn("renaming the container on its networks", "container", c.ID, "err", err)
		}
	}
	e.EmitContainer(c, "rename", map[string]string{"oldName": "/" + old})
	return nil
}
