package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// eventLines replays the events recorded since start, one --format line each.
func (e *engineEnv) eventLines(start time.Time, format string, filters ...string) []string {
	e.t.Helper()
	args := []string{"events", "--since", strconv.FormatInt(start.Unix()-1, 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10), "--format", format}
	for _, f := range filters {
		args = append(args, "--filter", f)
	}
	out, errOut, code := e.berth(args...)
	if code != 0 {
		e.t.Fatalf("events %v: exit %d: %s", filters, code, errOut)
	}
	return strings.Split(strings.TrimSpace(out), "\n")
}

// Volume and network events as docker records them: create, mount or
// connect at start, unmount or disconnect at stop, destroy at removal.
func TestEngfeat3VolumeNetworkEvents(t *testing.T) {
	e := newEngineEnv(t)
	sfx := netSuffix()
	vol, netName, ctr := "evvol-"+sfx, "evnet-"+sfx, "evctr-"+sfx
	t.Cleanup(func() {
		e.berth("rm", "-f", ctr)
		e.berth("volume", "rm", vol)
		e.berth("network", "rm", netName)
	})
	start := time.Now()
	mustBerth(t, e, "volume", "create", vol)
	mustBerth(t, e, "volume", "create", vol) // exists: no second event
	netID := strings.TrimSpace(mustBerth(t, e, "network", "create", "--subnet", freeSubnet(t).String(), netName))
	id := strings.TrimSpace(mustBerth(t, e, "run", "-d", "--name", ctr, "--network", netName, "-v", vol+":/data:ro", "--rootfs", e.rootfs, "sleep", "300"))
	mustBerth(t, e, "stop", "-t", "1", ctr)
	mustBerth(t, e, "rm", ctr)
	mustBerth(t, e, "volume", "rm", vol)
	mustBerth(t, e, "network", "rm", netName)

	got := e.eventLines(start, "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.container}}", "type=volume")
	want := []string{
		"volume create " + vol + " <no value>",
		"volume mount " + vol + " " + id,
		"volume unmount " + vol + " " + id,
		"volume destroy " + vol + " <no value>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("volume events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = e.eventLines(start, "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}", "network="+netName)
	want = []string{
		"network create " + netID + " " + netName + " <no value>",
		"network connect " + netID + " " + netName + " " + id,
		"network disconnect " + netID + " " + netName + " " + id,
		"network destroy " + netID + " " + netName + " <no value>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("network events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The mount event carries docker's attributes; --format json works.
	lines := e.eventLines(start, "json", "volume="+vol, "event=mount")
	if len(lines) != 1 {
		t.Fatalf("volume=%s event=mount: %q", vol, lines)
	}
	var ev struct {
		Type, Action string
		Actor        struct {
			ID         string
			Attributes map[string]string
		}
		TimeNano int64 `json:"timeNano"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatalf("%q: %v", lines[0], err)
	}
	a := ev.Actor.Attributes
	if ev.Type != "volume" || a["destination"] != "/data" || a["read/write"] != "false" || a["driver"] != "local" || a["container"] != id || ev.TimeNano == 0 {
		t.Errorf("mount event: %+v", ev)
	}
	// The default line: TIME TYPE ACTION ID (k=v, ...).
	out := mustBerth(t, e, "events", "--since", strconv.FormatInt(start.Unix()-1, 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
		"--filter", "type=network", "--filter", "event=destroy")
	if !strings.Contains(out, " network destroy "+netID+" (name="+netName+", type=bridge)") {
		t.Errorf("events line: %q", out)
	}
	// type=volume and type=network together are alternatives; a container
	// filter selects no volume or network event.
	if got := e.eventLines(start, "{{.Type}}", "type=volume", "type=network", "container="+ctr); len(got) != 1 || got[0] != "" {
		t.Errorf("container filter over volume and network events: %q", got)
	}
	if _, errOut, code := e.berth("events", "--filter", "type=plugin", "--until", "1"); code != 125 || !strings.Contains(errOut, "invalid event type") {
		t.Errorf("type=plugin: exit %d %s", code, errOut)
	}
}
