package cgroups

import (
	"fmt"
	"strings"
	"time"

	"github.com/berth/berth/pkg/errdefs"
)

// freezeWait bounds how long Freeze waits for every task to stop.
const freezeWait = 10 * time.Second

func (m *manager) freezerDir() (string, bool, error) {
	d, v2 := m.dirOf("freezer")
	if d == "" {
		return "", false, fmt.Errorf("freezing cgroup: the host has no freezer controller: %w", errdefs.ErrUnavailable)
	}
	return d, v2, nil
}

// Freeze implements Manager.
func (m *manager) Freeze() error {
	if err := m.setFrozen(true); err != nil {
		_ = m.setFrozen(false)
		return err
	}
	return nil
}

// Thaw implements Manager.
func (m *manager) Thaw() error { return m.setFrozen(false) }

func (m *manager) setFrozen(freeze bool) error {
	dir, v2, err := m.freezerDir()
	if err != nil {
		return err
	}
	file, want, done := "freezer.state", "THAWED", "THAWED"
	if freeze {
		want, done = "FROZEN", "FROZEN"
	}
	if v2 {
		file, want = "cgroup.freeze", "0"
		if freeze {
			want = "1"
		}
	}
	deadline := time.Now().Add(freezeWait)
	delay := 100 * time.Microsecond
	for {
		// v1 can stay in FREEZING when a task is in an uninterruptible
		// state; writing again retries the tasks that were missed.
		if err := writeFile(dir, file, want); err != nil {
			return fmt.Errorf("writing %s to %s/%s: %w", want, dir, file, unwrapPath(err))
		}
		ok, err := frozenState(dir, v2, done)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s did not reach %s within %s: %w", dir, strings.ToLower(done), freezeWait, errdefs.ErrUnavailable)
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// frozenState reports whether the cgroup reached state (v1 FROZEN/THAWED).
func frozenState(dir string, v2 bool, state string) (bool, error) {
	if !v2 {
		s, err := readString(dir, "freezer.state")
		if err != nil {
			return false, fmt.Errorf("reading freezer state: %w", err)
		}
		return s == state, nil
	}
	ev, err := readKV(dir, "cgroup.events")
	if err != nil {
		return false, fmt.Errorf("reading %s/cgroup.events: %w", dir, err)
	}
	return (ev["frozen"] == 1) == (state == "FROZEN"), nil
}

// Frozen implements Manager.
func (m *manager) Frozen() (bool, error) {
	dir, v2, err := m.freezerDir()
	if err != nil {
		return false, err
	}
	if v2 {
		s, err := readString(dir, "cgroup.freeze")
		if err != nil {
			return false, fmt.Errorf("reading %s/cgroup.freeze: %w", dir, err)
		}
		return s == "1", nil
	}
	return frozenState(dir, false, "FROZEN")
}
