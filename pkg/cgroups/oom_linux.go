package cgroups

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// OOMNotifier is implemented by managers that can wait for the OOM killer
// instead of polling OOMKillCount.
type OOMNotifier interface {
	// NotifyOOM sends the cgroup's OOM kill count each time it rises, until
	// ctx ends or the cgroup is removed; then it closes the channel.
	NotifyOOM(ctx context.Context) (<-chan uint64, error)
}

var _ OOMNotifier = (*manager)(nil)

// NotifyOOM implements OOMNotifier: an eventfd registered through
// cgroup.event_control on v1, inotify on memory.events on v2.
func (m *manager) NotifyOOM(ctx context.Context) (<-chan uint64, error) {
	dir, v2 := m.dirOf("memory")
	if dir == "" {
		return nil, fmt.Errorf("oom notification: the host has no memory controller: %w", errdefs.ErrUnavailable)
	}
	start, err := m.OOMKillCount()
	if err != nil {
		return nil, err
	}
	var fd int
	var cleanup func()
	if v2 {
		fd, err = unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return nil, fmt.Errorf("oom notification: inotify: %w", err)
		}
		if _, err := unix.InotifyAddWatch(fd, filepath.Join(dir, "memory.events"), unix.IN_MODIFY|unix.IN_DELETE_SELF); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("oom notification: watching %s/memory.events: %w", dir, err)
		}
		cleanup = func() { unix.Close(fd) }
	} else {
		fd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			return nil, fmt.Errorf("oom notification: eventfd: %w", err)
		}
		oc, err := os.Open(filepath.Join(dir, "memory.oom_control"))
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("oom notification: %w", err)
		}
		reg := strconv.Itoa(fd) + " " + strconv.Itoa(int(oc.Fd()))
		if err := writeFile(dir, "cgroup.event_control", reg); err != nil {
			oc.Close()
			unix.Close(fd)
			return nil, fmt.Errorf("oom notification: registering with %s/cgroup.event_control: %w", dir, err)
		}
		cleanup = func() { oc.Close(); unix.Close(fd) }
	}
	ch := make(chan uint64)
	go func() {
		defer close(ch)
		defer cleanup()
		last := start
		buf := make([]byte, 4096)
		for {
			// Wake up now and then to notice ctx ending.
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, err := unix.Poll(pfd, 200)
			if ctx.Err() != nil {
				return
			}
			if err != nil && err != unix.EINTR {
				return
			}
			if n > 0 {
				if _, err := unix.Read(fd, buf); err != nil && err != unix.EAGAIN {
					return
				}
			}
			// The count is read on timeouts too: v1 signals the OOM
			// before the kill is counted. The eventfd also fires when the
			// cgroup is removed.
			if _, err := os.Stat(dir); err != nil {
				return
			}
			cur, err := m.OOMKillCount()
			if err != nil {
				continue // gone is caught above; anything else may pass
			}
			if cur > last {
				last = cur
				select {
				case ch <- cur:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch, nil
}
