package backend

import (
	"context"

	"github.com/berth/berth/pkg/engine"
)

var _ engine.NetworkRenamer = Networks{}

// Rename implements engine.NetworkRenamer.
func (n Networks) Rename(ctx context.Context, containerID, name string) error {
	return n.Manager.Rename(ctx, containerID, name)
}
