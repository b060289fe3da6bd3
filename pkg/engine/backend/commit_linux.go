package backend

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/image"
	"github.com/berth/berth/pkg/layer"
)

var _ engine.ImageCommitter = Images{}

// CommitImage implements engine.ImageCommitter: the snapshot's upper directory is
// written as an OCI layer and appended to the container's image.
func (s Images) CommitImage(ctx context.Context, req engine.ImageCommit) (string, error) {
	id, err := digest.Parse(req.ImageID)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", req.ImageID, err)
	}
	base, err := s.Store.Resolve(ctx, id.String())
	if err != nil {
		return "", err
	}
	changes, err := image.ParseChanges(req.Changes)
	if err != nil {
		return "", err
	}
	upper, err := s.Store.Snapshots().UpperDir(req.Key)
	if err != nil {
		return "", fmt.Errorf("the writable layer of %s: %w", req.Key, err)
	}
	cfg := &v1.ConfigFile{}
	if base.Config != nil {
		cfg = base.Config.DeepCopy()
	}
	cfg.Config = commitConfig(req.Config, changes)
	cfg.Config.Image = base.ID.String()
	cfg.Created = v1.Time{Time: req.Created}
	cfg.Author = req.Author
	cfg.History = append(cfg.History, v1.History{Created: v1.Time{Time: req.Created}, Author: req.Author,
		CreatedBy: req.CreatedBy, Comment: req.Comment})
	var names []string
	if req.Ref != "" {
		names = []string{req.Ref}
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeChanges(ctx, pw, upper)) }()
	img, err := s.Store.Commit(ctx, base, pr, cfg, names...)
	pr.CloseWithError(io.ErrClosedPipe) // let WriteDiff end if Commit failed early
	if err != nil {
		return "", err
	}
	return img.ID.String(), nil
}

// runtimeMountPoints are the files the engine bind-mounts over when the
// image lacks them: the runtime leaves them, empty, in the writable layer
// as mount targets. They are not the container's changes (docker keeps
// them in an init layer of their own).
var runtimeMountPoints = map[string]bool{"etc/hosts": true, "etc/hostname": true, "etc/resolv.conf": true}

// writeChanges writes the upper directory as a layer tar, without the
// runtime's mount points.
func writeChanges(ctx context.Context, w io.Writer, upper string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(layer.WriteDiff(ctx, pw, upper)) }()
	defer pr.Close()
	tr := tar.NewReader(pr)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size == 0 && runtimeMountPoints[strings.TrimPrefix(hdr.Name, "./")] {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

// commitConfig is the container's config as an image config, with the
// --change instructions applied over it.
func commitConfig(c engine.Config, ch *v1.Config) v1.Config {
	out := v1.Config{
		User: c.User, Env: append([]string(nil), c.Env...), Cmd: append([]string(nil), c.Cmd...),
		Entrypoint: append([]string(nil), c.Entrypoint...), WorkingDir: c.WorkingDir, StopSignal: c.StopSignal,
		Labels: maps.Clone(c.Labels), ExposedPorts: maps.Clone(c.ExposedPorts), Volumes: maps.Clone(c.Volumes),
		Tty: c.Tty, OpenStdin: c.OpenStdin, StdinOnce: c.StdinOnce,
		AttachStdin: c.AttachStdin, AttachStdout: c.AttachStdout, AttachStderr: c.AttachStderr,
	}
	if h := c.Healthcheck; h != nil {
		out.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	if ch == nil {
		return out
	}
	if ch.User != "" {
		out.User = ch.User
	}
	if ch.WorkingDir != "" {
		out.WorkingDir = ch.WorkingDir
	}
	if ch.StopSignal != "" {
		out.StopSignal = ch.StopSignal
	}
	if ch.Cmd != nil {
		out.Cmd = ch.Cmd
	}
	if ch.Entrypoint != nil {
		out.Entrypoint = ch.Entrypoint
		if ch.Cmd == nil {
			out.Cmd = nil // as in a Dockerfile, a new ENTRYPOINT resets CMD
		}
	}
	for _, kv := range ch.Env {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out.Env {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out.Env[i], replaced = kv, true
			}
		}
		if !replaced {
			out.Env = append(out.Env, kv)
		}
	}
	merge := func(dst map[string]struct{}, src map[string]struct{}) map[string]struct{} {
		if len(src) == 0 {
			return dst
		}
		if dst == nil {
			dst = map[string]struct{}{}
		}
		maps.Copy(dst, src)
		return dst
	}
	out.ExposedPorts = merge(out.ExposedPorts, ch.ExposedPorts)
	out.Volumes = merge(out.Volumes, ch.Volumes)
	if len(ch.Labels) > 0 {
		if out.Labels == nil {
			out.Labels = map[string]string{}
		}
		maps.Copy(out.Labels, ch.Labels)
	}
	return out
}
