package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth/berth/pkg/errdefs"
)

func testEvent(action, id, name string, at time.Time) Event {
	return Event{Type: EventContainer, Action: action, ID: id, Actor: EventActor{ID: id, Attributes: map[string]string{"name": name, "image": "busybox"}},
		Time: at.Unix(), TimeNano: at.UnixNano()}
}

func collect(t *testing.T, l *EventLog, opts EventsOptions) []string {
	t.Helper()
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Watch(ctx, opts, func(ev *Event) error {
		got = append(got, ev.Action+":"+ev.Actor.Attributes["name"])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestEventLogReplayAndFilters(t *testing.T) {
	l := &EventLog{Path: filepath.Join(t.TempDir(), "events.log"), MaxSize: DefaultEventLogSize}
	base := time.Now().Add(-time.Hour)
	id1, id2 := strings.Repeat("a", 64), strings.Repeat("b", 64)
	for i, ev := range []Event{
		testEvent("create", id1, "one", base),
		testEvent("start", id1, "one", base.Add(time.Second)),
		testEvent("create", id2, "two", base.Add(2*time.Second)),
		testEvent("die", id1, "one", base.Add(3*time.Second)),
		testEvent("health_status: healthy", id2, "two", base.Add(4*time.Second)),
	} {
		if err := l.Append(ev); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	until := time.Now()
	for _, tc := range []struct {
		name    string
		since   time.Time
		filters []string
		want    string
	}{
		{"all", base, nil, "create:one start:one create:two die:one health_status: healthy:two"},
		{"since", base.Add(2 * time.Second), nil, "create:two die:one health_status: healthy:two"},
		{"event", base, []string{"event=create"}, "create:one create:two"},
		{"two events", base, []string{"event=start", "event=die"}, "start:one die:one"},
		{"health prefix", base, []string{"event=health_status"}, "health_status: healthy:two"},
		{"container name", base, []string{"container=two"}, "create:two health_status: healthy:two"},
		{"container id prefix", base, []string{"container=aaaa"}, "create:one start:one die:one"},
		{"keys are anded", base, []string{"container=one", "event=die"}, "die:one"},
		{"other type", base, []string{"type=image"}, ""},
		{"image", base, []string{"image=busybox", "event=die"}, "die:one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseEventFilters(tc.filters)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(collect(t, l, EventsOptions{Since: tc.since, Until: until, Filter: f}), " ")
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if got := collect(t, l, EventsOptions{Until: base.Add(time.Second)}); len(got) != 2 {
		t.Fatalf("until alone replays up to it: got %q", got)
	}
}

func TestParseEventFiltersRejects(t *testing.T) {
	for _, bad := range []string{"event", "nokey=1", "type=bogus", "=x"} {
		if _, err := ParseEventFilters([]string{bad}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseEventFilters(%q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

func TestEventLogSinceAfterUntil(t *testing.T) {
	l := &EventLog{Path: filepath.Join(t.TempDir(), "events.log")}
	now := time.Now()
	err := l.Watch(context.Background(), EventsOptions{Since: now, Until: now.Add(-time.Minute)}, func(*Event) error { return nil })
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("since after until: %v", err)
	}
}

// TestEventLogFollowAcrossRotation appends while a watcher follows: every
// event arrives once, in order, though the log rotates many times.
func TestEventLogFollowAcrossRotation(t *testing.T) {
	l := &EventLog{Path: filepath.Join(t.TempDir(), "events.log"), MaxSize: 2048}
	id := strings.Repeat("c", 64)
	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []string
	var mu sync.Mutex
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		first := true
		done <- l.Watch(ctx, EventsOptions{Poll: 5 * time.Millisecond}, func(ev *Event) error {
			mu.Lock()
			defer mu.Unlock()
			if ev.Action == "ready" {
				if first {
					close(started)
					first = false
				}
				return nil
			}
			got = append(got, ev.Actor.Attributes["name"])
			if len(got) == n {
				cancel()
			}
			return nil
		})
	}()
	// The watcher starts at the end of the log: announce until it is there.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		l.Append(testEvent("ready", id, "", time.Now()))
		select {
		case <-started:
			break wait
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("the watcher never saw an event")
		}
	}
	// Batches smaller than a rotation, each awaited: the watcher may lag
	// a rotation behind, never a whole file.
	for i := 0; i < n; i++ {
		if err := l.Append(testEvent("start", id, fmt.Sprintf("ev%03d", i), time.Now())); err != nil {
			t.Fatal(err)
		}
		if i%4 == 3 {
			for {
				mu.Lock()
				caught := len(got) > i || ctx.Err() != nil
				mu.Unlock()
				if caught {
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("got %d events, want %d", len(got), n)
	}
	for i, g := range got {
		if want := fmt.Sprintf("ev%03d", i); g != want {
			t.Fatalf("event %d is %s, want %s (lost, repeated or out of order)", i, g, want)
		}
	}
	for _, p := range []string{l.Path, l.Path + ".1"} {
		if st, err := os.Stat(p); err == nil && st.Size() > 2*l.MaxSize {
			t.Errorf("%s is %d bytes: the log is not bounded", p, st.Size())
		}
	}
}
