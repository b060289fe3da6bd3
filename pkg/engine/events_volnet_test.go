package engine

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestVolumeAndNetworkEventFilters(t *testing.T) {
	netID := strings.Repeat("c", 64)
	ctr := strings.Repeat("d", 64)
	evs := []Event{
		VolumeEvent("create", "data", nil),
		VolumeEvent("mount", "data", map[string]string{"container": ctr, "destination": "/data", "read/write": "true", "propagation": ""}),
		NetworkEvent("create", netID, "front", ""),
		NetworkEvent("connect", netID, "front", ctr),
		testEvent("start", ctr, "web", time.Now()),
		NetworkEvent("disconnect", netID, "front", ctr),
		VolumeEvent("unmount", "data", map[string]string{"container": ctr}),
		VolumeEvent("destroy", "other", nil),
		NetworkEvent("destroy", netID, "front", ""),
	}
	for _, tc := range []struct {
		filters []string
		want    string
	}{
		{nil, "volume/create volume/mount network/create network/connect container/start network/disconnect volume/unmount volume/destroy network/destroy"},
		{[]string{"type=volume"}, "volume/create volume/mount volume/unmount volume/destroy"},
		{[]string{"type=network"}, "network/create network/connect network/disconnect network/destroy"},
		{[]string{"volume=data"}, "volume/create volume/mount volume/unmount"},
		{[]string{"volume=other", "volume=data", "event=destroy"}, "volume/destroy"},
		{[]string{"network=front"}, "network/create network/connect network/disconnect network/destroy"},
		{[]string{"network=" + netID[:12], "event=connect"}, "network/connect"},
		{[]string{"network=back"}, ""},
		{[]string{"type=network", "type=container"}, "network/create network/connect container/start network/disconnect network/destroy"},
	} {
		f, err := ParseEventFilters(tc.filters)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := range evs {
			if f.Match(&evs[i]) {
				got = append(got, evs[i].Type+"/"+evs[i].Action)
			}
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("filters %v: got %q, want %q", tc.filters, g, tc.want)
		}
	}
	if _, err := ParseEventFilters([]string{"type=plugin"}); err == nil {
		t.Error("type=plugin accepted")
	}
}

func TestVolumeEventsRecorded(t *testing.T) {
	e, err := New(Options{Root: t.TempDir(), RunRoot: t.TempDir(), MonitorCommand: []string{"false"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateVolume("vol1", nil, false); err != nil {
		t.Fatal(err)
	}
	// A second create of an existing volume records nothing, as in docker.
	if _, err := e.CreateVolume("vol1", nil, false); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveVolume(context.Background(), "vol1", false); err != nil {
		t.Fatal(err)
	}
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = e.Events().Watch(ctx, EventsOptions{Until: time.Now(), Filter: EventFilter{"type": {"volume"}}}, func(ev *Event) error {
		got = append(got, ev.Action+":"+ev.Actor.ID+":"+ev.Actor.Attributes["driver"])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, " "); g != "create:vol1:local destroy:vol1:local" {
		t.Errorf("events: %q", g)
	}
}
