package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/berth/berth/pkg/errdefs"
)

// ImageCommitter is an ImageStore that can turn a container's writable
// layer into a new image on top of the container's image.
type ImageCommitter interface {
	CommitImage(ctx context.Context, req ImageCommit) (string, error)
}

// ImageCommit asks for one commit.
type ImageCommit struct {
	// Key is the container's rootfs snapshot; ImageID the image under it.
	Key, ImageID string
	// Config is the container's config, the new image's config before Changes.
	Config Config
	// Changes are Dockerfile instructions applied to the config (--change).
	Changes []string
	// Author, Comment and CreatedBy go into the image's history.
	Author, Comment, CreatedBy string
	// Ref names the new image ("" leaves it untagged).
	Ref     string
	Created time.Time
}

// CommitOptions tune Commit (docker commit's flags).
type CommitOptions struct {
	Author  string
	Message string
	Changes []string
	// Pause freezes a running container while its layer is read.
	Pause bool
	// Ref is REPO[:TAG] for the new image.
	Ref string
}

// Commit makes an image of a container: its image plus one layer holding
// what the container changed (deletions as whiteouts), with the
// container's config. It returns the new image's ID.
func (e *Engine) Commit(ctx context.Context, ref string, opts CommitOptions) (string, error) {
	c, err := e.Load(ctx, ref)
	if err != nil {
		return "", err
	}
	if c.Rootfs != "" {
		return "", fmt.Errorf("container %s runs from a directory (--rootfs), not an image; only containers of images can be committed: %w", c.Name, errdefs.ErrNotImplemented)
	}
	ic, ok := e.opts.Images.(ImageCommitter)
	if !ok {
		return "", fmt.Errorf("the image store cannot commit containers: %w", errdefs.ErrNotImplemented)
	}
	if c.State.Status == StatusRemoving || c.State.Dead {
		return "", fmt.Errorf("container %s is marked for removal: %w", c.Name, errdefs.ErrConflict)
	}
	if opts.Pause && c.State.Running && !c.State.Paused {
		if err := e.Pause(ctx, c.ID); err != nil {
			return "", fmt.Errorf("pausing %s for the commit: %w", c.Name, err)
		}
		defer e.Unpause(context.WithoutCancel(ctx), c.ID)
	}
	id, err := ic.CommitImage(ctx, ImageCommit{
		Key: c.ID, ImageID: c.Image, Config: c.Config, Changes: opts.Changes,
		Author: opts.Author, Comment: opts.Message, Ref: opts.Ref, Created: time.Now().UTC(),
		CreatedBy: strings.Join(append([]string{c.Path}, c.Args...), " "),
	})
	if err != nil {
		return "", fmt.Errorf("committing %s: %w", c.Name, err)
	}
	e.EmitContainer(c, "commit", map[string]string{"comment": opts.Message, "imageID": id, "imageRef": opts.Ref})
	return id, nil
}
