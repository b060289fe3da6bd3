package runtime

import (
	"context"
	"fmt"
	"time"
)

// Event is one line of `events`: periodic stats or an OOM notice.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// Stats returns the cgroup statistics of container id.
func (r *Runtime) Stats(id string) (*Event, error) {
	_, cg, err := r.runningCgroup(id)
	if err != nil {
		return nil, err
	}
	data, err := cgroupStats(cg)
	if err != nil {
		return nil, fmt.Errorf("stats of %q: %w", id, err)
	}
	return &Event{Type: "stats", ID: id, Data: data}, nil
}

// Events calls fn with a stats event every interval and an "oom" event
// whenever the OOM killer strikes, until the container stops or ctx ends.
func (r *Runtime) Events(ctx context.Context, id string, interval time.Duration, fn func(*Event) error) error {
	rec, cg, err := r.runningCgroup(id)
	if err != nil {
		return err
	}
	ooms, _ := cgroupOOMs(cg)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := cgroupOOMs(cg); err == nil && n > ooms {
			ooms = n
			if err := fn(&Event{Type: "oom", ID: id}); err != nil {
				return err
			}
		}
		if r.status(rec) == Stopped {
			return nil
		}
		if data, err := cgroupStats(cg); err == nil {
			if err := fn(&Event{Type: "stats", ID: id, Data: data}); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
