package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// Process is one line of `top`.
type Process struct {
	UID     int
	PID     int
	PPID    int
	Start   time.Time
	CPUTime string
	Cmd     string
}

// clockTicks is USER_HZ, fixed at 100 on Linux.
const clockTicks = 100

// Top lists the processes in container id's cgroup, from /proc.
func Top(id string) ([]Process, error) {
	pids := CgroupPids(id)
	if pids == nil {
		return nil, fmt.Errorf("reading the processes of %s: %w", id, errdefs.ErrNotFound)
	}
	boot := bootTime()
	var out []Process
	for _, pid := range pids {
		dir := filepath.Join("/proc", strconv.Itoa(pid))
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		// Fields after the command (which may hold spaces) in parentheses.
		s := string(stat)
		rest := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(rest) < 20 {
			continue
		}
		ppid, _ := strconv.Atoi(rest[1])
		utime, _ := strconv.ParseInt(rest[11], 10, 64)
		stime, _ := strconv.ParseInt(rest[12], 10, 64)
		start, _ := strconv.ParseInt(rest[19], 10, 64)
		cmd, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		line := strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
		if line == "" {
			line = "[" + s[strings.IndexByte(s, '(')+1:strings.LastIndexByte(s, ')')] + "]"
		}
		var st unix.Stat_t
		unix.Stat(dir, &st)
		cpu := time.Duration((utime + stime) * int64(time.Second) / clockTicks)
		out = append(out, Process{UID: int(st.Uid), PID: pid, PPID: ppid, Start: boot.Add(time.Duration(start * int64(time.Second) / clockTicks)),
			CPUTime: fmt.Sprintf("%02d:%02d:%02d", int(cpu.Hours()), int(cpu.Minutes())%60, int(cpu.Seconds())%60), Cmd: line})
	}
	return out, nil
}

func bootTime() time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(n, 0)
		}
	}
	return time.Time{}
}

// Prune removes every stopped container and returns their IDs.
func (e *Engine) Prune(ctx context.Context) ([]string, error) {
	list, err := e.List(ctx, true)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, c := range list {
		if c.State.Running || c.State.Restarting {
			continue
		}
		if err := e.RemoveStopped(ctx, c.ID, false); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, c.ID)
	}
	return removed, errors.Join(errs...)
}

// VolumeUsers lists the containers that mount volume name.
func (e *Engine) VolumeUsers(ctx context.Context, name string) ([]string, error) {
	ids, err := e.store.ids()
	if err != nil {
		return nil, err
	}
	var users []string
	for _, id := range ids {
		c, err := e.store.load(id)
		if err != nil {
			continue
		}
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Name == name {
				users = append(users, id)
			}
		}
	}
	return users, nil
}

// RemoveVolume removes a named volume that no container uses.
func (e *Engine) RemoveVolume(ctx context.Context, name string, force bool) error {
	users, err := e.VolumeUsers(ctx, name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return fmt.Errorf("remove %s: volume is in use - [%s]: %w", name, strings.Join(users, ", "), errdefs.ErrConflict)
	}
	err = e.removeVolume(name)
	if force && errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
}

// PruneVolumes removes volumes no container uses: anonymous ones only, or
// all with all (docker's `volume prune -a`).
func (e *Engine) PruneVolumes(ctx context.Context, all bool) ([]string, error) {
	vols, err := e.volumes.List()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, v := range vols {
		if !v.Anonymous && !all {
			continue
		}
		if users, _ := e.VolumeUsers(ctx, v.Name); len(users) > 0 {
			continue
		}
		if err := e.removeVolume(v.Name); err == nil {
			removed = append(removed, v.Name)
		}
	}
	return removed, nil
}
