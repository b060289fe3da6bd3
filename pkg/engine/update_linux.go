package engine

import (
	"context"
	"encoding/json"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	_ ResourceUpdater = (*RuncCLI)(nil)
	_ ResourceUpdater = (*InProcess)(nil)
)

// UpdateResources implements ResourceUpdater with `runtime update --resources FILE`.
func (r *RuncCLI) UpdateResources(ctx context.Context, id string, res *specs.LinuxResources) error {
	if err := os.MkdirAll(r.LogDir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(r.LogDir, "update-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = json.NewEncoder(f).Encode(res)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return r.run(ctx, "update", "--resources", f.Name(), id)
}

// UpdateResources implements ResourceUpdater.
func (r *InProcess) UpdateResources(ctx context.Context, id string, res *specs.LinuxResources) error {
	return inprocError("update", r.rt.Update(id, res))
}
