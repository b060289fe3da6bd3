package cli

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/berth/berth/pkg/engine"
)

func TestEventPrinter(t *testing.T) {
	at := time.Date(2026, 11, 27, 1, 2, 3, 4, time.UTC)
	ev := &engine.Event{Status: "die", ID: "abc", From: "busybox", Type: "container", Action: "die", Scope: "local",
		Actor: engine.EventActor{ID: "abc", Attributes: map[string]string{"name": "web", "exitCode": "3", "image": "busybox"}},
		Time:  at.Unix(), TimeNano: at.UnixNano()}
	for _, tc := range []struct {
		format string
		check  func(t *testing.T, out string)
	}{
		{"", func(t *testing.T, out string) {
			want := at.Local().Format("2006-01-02T15:04:05.000000000Z07:00") + " container die abc (exitCode=3, image=busybox, name=web)\n"
			if out != want {
				t.Fatalf("got %q, want %q", out, want)
			}
		}},
		{"{{.Type}} {{.Action}} {{.Actor.Attributes.name}}", func(t *testing.T, out string) {
			if out != "container die web\n" {
				t.Fatalf("got %q", out)
			}
		}},
		{"json", func(t *testing.T, out string) {
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano"} {
				if _, ok := m[k]; !ok {
					t.Errorf("docker's field %q is missing from %s", k, out)
				}
			}
		}},
	} {
		var b bytes.Buffer
		show, err := eventPrinter(&b, tc.format)
		if err != nil {
			t.Fatal(err)
		}
		if err := show(ev); err != nil {
			t.Fatal(err)
		}
		tc.check(t, b.String())
	}
	if _, err := eventPrinter(&bytes.Buffer{}, "{{.Nope"); err == nil {
		t.Fatal("a broken template was accepted")
	}
}
