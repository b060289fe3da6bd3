package engine

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/berth/berth/pkg/volume"
)

// CreateVolume makes a named volume (an anonymous one when name is empty)
// and records docker's create event when this call made it; a volume that
// exists is returned unchanged, without an event, as docker does.
func (e *Engine) CreateVolume(name string, labels map[string]string, anonymous bool) (*volume.Volume, error) {
	v, made, err := e.volumes.Ensure(name, labels, anonymous)
	if err != nil {
		return nil, err
	}
	if made {
		e.EmitVolume("create", v.Name, nil)
	}
	return v, nil
}

// removeVolume deletes a volume and records docker's destroy event.
func (e *Engine) removeVolume(name string) error {
	if err := e.volumes.Remove(name); err != nil {
		return err
	}
	e.EmitVolume("destroy", name, nil)
	return nil
}

// volumesMountedPath marks a prepared container whose volume mount events
// were recorded: the Cleanup that removes it records the unmount events,
// so repeated clean-ups (and a cp's rootfs mount) record none.
func (e *Engine) volumesMountedPath(id string) string {
	return filepath.Join(e.store.runDir(id), "volumes-mounted")
}

// emitVolumeMounts records docker's mount event for each volume of a
// container that is about to start.
func (e *Engine) emitVolumeMounts(c *Container) {
	n := 0
	for _, m := range c.Mounts {
		if m.Type != "volume" {
			continue
		}
		n++
		e.EmitVolume("mount", m.Name, map[string]string{"container": c.ID, "destination": m.Destination,
			"read/write": strconv.FormatBool(m.RW), "propagation": ""})
	}
	if n > 0 {
		os.WriteFile(e.volumesMountedPath(c.ID), nil, 0o600)
	}
}

// emitVolumeUnmounts records docker's unmount events once per start.
func (e *Engine) emitVolumeUnmounts(c *Container) {
	if os.Remove(e.volumesMountedPath(c.ID)) != nil {
		return
	}
	for _, m := range c.Mounts {
		if m.Type == "volume" {
			e.EmitVolume("unmount", m.Name, map[string]string{"container": c.ID})
		}
	}
}
