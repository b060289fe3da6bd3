package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recordState reads a container's record straight from the store, so that
// a test can watch it without running berth (whose commands repair state).
func (e *engineEnv) recordState(id string) (running bool, pid, monitorPid int) {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, "containers", id, "config.v2.json"))
	if err != nil {
		return false, 0, 0
	}
	var rec struct {
		State struct {
			Running    bool
			Pid        int
			MonitorPid int
		}
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return false, 0, 0
	}
	return rec.State.Running, rec.State.Pid, rec.State.MonitorPid
}

// TestEngineWatchdogRestartsWithoutCommand: restart policy always holds
// after its monitor is killed with SIGKILL, by itself: no berth command runs
// between the kill and the restart.
func TestEngineWatchdogRestartsWithoutCommand(t *testing.T) {
	e := newEngineEnv(t)
	id := e.mustRunD([]string{"--name", "lazarus", "--restart", "always"}, "sleep", "600")
	running, pid, mon := e.recordState(id)
	if !running || pid <= 0 || mon <= 0 {
		t.Fatalf("record after run -d: running=%v pid=%d monitor=%d", running, pid, mon)
	}
	if exe, err := os.Readlink("/proc/" + itoa(mon) + "/exe"); err != nil || filepath.Base(exe) != "berth-monitor" {
		t.Errorf("monitor program %q (%v), want the lean berth-monitor", exe, err)
	}
	if err := syscallKill(mon); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, p, m := e.recordState(id)
		if r && p > 0 && p != pid && m > 0 && m != mon {
			if _, err := os.Stat("/proc/" + itoa(m)); err != nil {
				t.Fatalf("new monitor %d is not alive", m)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not restarted by itself: running=%v pid=%d (was %d) monitor=%d (was %d)", r, p, pid, m, mon)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := e.inspect("lazarus", "{{.State.Status}}"); got != "running" {
		t.Errorf("status after the watchdog's restart: %q", got)
	}
	// A stop is final: the watchdog must not bring it back.
	if _, errOut, code := e.berth("stop", "-t", "1", "lazarus"); code != 0 {
		t.Fatalf("stop: %d %s", code, errOut)
	}
	time.Sleep(300 * time.Millisecond) // give a wrong restart the chance to show
	if r, _, _ := e.recordState(id); r {
		t.Errorf("running again after stop")
	}
}

// TestEngineRunRmLeavesNothing: the attached client removes a --rm
// container (the lean monitor leaves it the image store's part); nothing of
// it remains, and its exit code and output come through.
func TestEngineRunRmLeavesNothing(t *testing.T) {
	e := newEngineEnv(t)
	for i := 0; i < 3; i++ {
		out, _, code := e.run([]string{"--rm"}, "sh", "-c", "echo out; exit 7")
		if code != 7 || strings.TrimSpace(out) != "out" {
			t.Fatalf("run --rm: code %d out %q", code, out)
		}
	}
	// -d --rm: the monitor removes it itself.
	e.mustRunD([]string{"--rm"}, "true")
	deadline := time.Now().Add(20 * time.Second)
	for {
		ents, _ := os.ReadDir(filepath.Join(e.root, "containers"))
		runEnts, _ := os.ReadDir(filepath.Join(e.runroot, "containers"))
		if len(ents) == 0 && len(runEnts) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind: %v %v", ents, runEnts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestEngineLeanMonitorHelpers: what the lean monitor asks of the full
// berth (an image container's restart, its removal with no client
// attached) works and leaves nothing behind.
func TestEngineLeanMonitorHelpers(t *testing.T) {
	e := newEngineEnv(t)
	img := e.importBusybox()
	if _, errOut, code := e.berth("run", "-d", "--name", "retry", "--network", "none", "--restart", "on-failure:2", img, "sh", "-c", "echo try; exit 1"); code != 0 {
		t.Fatalf("run -d: %s", errOut)
	}
	eventually(t, 30*time.Second, "on-failure:2 to give up", func() bool {
		return e.inspect("retry", "{{.State.Status}} {{.RestartCount}}") == "exited 2"
	})
	if out, _, _ := e.berth("logs", "retry"); strings.Count(out, "try") != 3 {
		t.Errorf("logs after 2 restarts of an image container: %q", out)
	}
	if _, errOut, code := e.berth("rm", "retry"); code != 0 {
		t.Fatalf("rm: %s", errOut)
	}
	if _, errOut, code := e.berth("run", "-d", "--rm", "--network", "none", img, "true"); code != 0 {
		t.Fatalf("run -d --rm: %s", errOut)
	}
	eventually(t, 20*time.Second, "the monitor to remove a detached --rm container", func() bool {
		ents, _ := os.ReadDir(filepath.Join(e.root, "containers"))
		runEnts, _ := os.ReadDir(filepath.Join(e.runroot, "containers"))
		return len(ents) == 0 && len(runEnts) == 0
	})
	if _, errOut, code := e.berth("run", "--rm", "--restart", "always", img, "true"); code != 125 || !strings.Contains(errOut, "conflicting options") {
		t.Errorf("--rm with --restart: exit %d, %s", code, errOut)
	}
}

// TestEngineRunHandoffAttach: an attached run is attached by the monitor
// handoff (the container starts the moment it is created), so output the
// container writes at once, on both streams, and its exit code all arrive;
// `attach` by socket still works for a detached container.
func TestEngineRunHandoffAttach(t *testing.T) {
	e := newEngineEnv(t)
	for _, flags := range [][]string{{"--rm"}, nil} {
		out, errOut, code := e.run(flags, "sh", "-c", "seq 1 20000; echo oops >&2; exit 9")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 9 || len(lines) != 20000 || lines[19999] != "20000" || strings.TrimSpace(errOut) != "oops" {
			t.Fatalf("run %v: code %d, %d lines (last %q), stderr %q", flags, code, len(lines), lines[len(lines)-1], errOut)
		}
	}
	id := e.mustRunD(nil, "sh", "-c", "sleep 3; echo late; exit 3")
	out, _, code := e.berth("attach", id)
	if code != 3 || strings.TrimSpace(out) != "late" {
		t.Fatalf("attach: code %d out %q", code, out)
	}
}
