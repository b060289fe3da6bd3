package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cgroupFile reads a container's cgroup file: the v1 controller hierarchy,
// else the unified one.
func cgroupFile(t *testing.T, id, controller, file string) string {
	t.Helper()
	for _, p := range []string{filepath.Join("/sys/fs/cgroup", controller, "berth", id, file), filepath.Join("/sys/fs/cgroup/berth", id, file)} {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("no cgroup file %s/%s for %s", controller, file, id)
	return ""
}

// frozen reports whether the container's freezer holds it.
func frozen(t *testing.T, id string) bool {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer/berth", id, "freezer.state")); err == nil {
		return strings.TrimSpace(string(b)) == "FROZEN"
	}
	return cgroupFile(t, id, "", "cgroup.freeze") == "1"
}

func TestEngfeatPauseUnpause(t *testing.T) {
	e := newEngineEnv(t)
	id := e.mustRunD([]string{"--name", "pz"}, "sh", "-c", "while :; do sleep 0.1; done")
	if out, errOut, code := e.berth("pause", "pz"); code != 0 || strings.TrimSpace(out) != "pz" {
		t.Fatalf("pause: exit %d, %q %s", code, out, errOut)
	}
	if !frozen(t, id) {
		t.Fatal("the container's cgroup is not frozen")
	}
	if got := e.inspect("pz", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"); got != "paused true true" {
		t.Fatalf("inspect of a paused container: %q", got)
	}
	out, _, _ := e.berth("ps", "--format", "{{.Names}} {{.Status}}")
	if !strings.Contains(out, "pz Up") || !strings.Contains(out, "(Paused)") {
		t.Fatalf("ps: %q", out)
	}
	if out, _, _ := e.berth("ps", "-q", "--filter", "status=paused"); !strings.HasPrefix(id, strings.TrimSpace(out)) || strings.TrimSpace(out) == "" {
		t.Fatalf("ps --filter status=paused: %q", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pause", "pz"}, "already paused"},
		{[]string{"exec", "pz", "true"}, "unpause the container before exec"},
		{[]string{"pause", "nosuch"}, "no such container"},
		{[]string{"unpause", "nosuch"}, "no such container"},
	} {
		if _, errOut, code := e.berth(tc.args...); code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want an error with %q", tc.args, code, errOut, tc.want)
		}
	}
	if _, errOut, code := e.berth("unpause", "pz"); code != 0 {
		t.Fatalf("unpause: exit %d: %s", code, errOut)
	}
	if frozen(t, id) {
		t.Fatal("the container is still frozen after unpause")
	}
	if got := e.inspect("pz", "{{.State.Status}} {{.State.Paused}}"); got != "running false" {
		t.Fatalf("inspect after unpause: %q", got)
	}
	if _, errOut, code := e.berth("unpause", "pz"); code != 1 || !strings.Contains(errOut, "not paused") {
		t.Fatalf("unpause of a running container: exit %d %q", code, errOut)
	}

	t.Run("stop", func(t *testing.T) {
		e.berth("pause", "pz")
		if _, errOut, code := e.berth("stop", "-t", "5", "pz"); code != 0 {
			t.Fatalf("stop of a paused container: exit %d: %s", code, errOut)
		}
		// sh as PID 1 ignores SIGTERM: SIGKILL after the timeout ends the thawed container.
		if got := e.inspect("pz", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"); got != "exited false false" {
			t.Fatalf("after stop: %q", got)
		}
		if _, errOut, code := e.berth("pause", "pz"); code != 1 || !strings.Contains(errOut, "not running") {
			t.Fatalf("pause of a stopped container: exit %d %q", code, errOut)
		}
	})
	t.Run("kill", func(t *testing.T) {
		e.berth("start", "pz")
		e.berth("pause", "pz")
		if _, errOut, code := e.berth("kill", "pz"); code != 0 {
			t.Fatalf("kill of a paused container: exit %d: %s", code, errOut)
		}
		if got := e.inspect("pz", "{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}"); got != "exited false 137" {
			t.Fatalf("after kill: %q", got)
		}
	})
	t.Run("monitor killed while paused", func(t *testing.T) {
		e.berth("start", "pz")
		e.berth("pause", "pz")
		mp, _ := strconv.Atoi(e.inspect("pz", "{{.State.MonitorPid}}"))
		if mp <= 0 {
			t.Fatal("no monitor pid")
		}
		syscallKill(mp)
		eventually(t, 10*time.Second, "the repaired record", func() bool {
			out, _, _ := e.berth("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "pz")
			return strings.TrimSpace(out) == "exited false"
		})
		if _, errOut, code := e.berth("start", "pz"); code != 0 {
			t.Fatalf("start after repair: %s", errOut)
		}
		if got := e.inspect("pz", "{{.State.Status}} {{.State.Paused}}"); got != "running false" {
			t.Fatalf("restarted container: %q", got)
		}
	})
	t.Run("rm -f", func(t *testing.T) {
		e.berth("start", "pz")
		if _, errOut, code := e.berth("pause", "pz"); code != 0 {
			t.Fatalf("pause: %s", errOut)
		}
		if _, errOut, code := e.berth("rm", "-f", "pz"); code != 0 {
			t.Fatalf("rm -f of a paused container: exit %d: %s", code, errOut)
		}
		if out, _, _ := e.berth("ps", "-aq"); strings.TrimSpace(out) != "" {
			t.Fatalf("containers left: %q", out)
		}
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/freezer/berth", id)); err == nil {
			t.Fatal("the container's freezer cgroup is left behind")
		}
	})
}

func TestEngfeatRename(t *testing.T) {
	e := newEngineEnv(t)
	e.mustRunD([]string{"--name", "first"}, "sleep", "600")
	e.mustRunD([]string{"--name", "taken"}, "sleep", "600")
	if out, errOut, code := e.berth("rename", "first", "second"); code != 0 || out != "" {
		t.Fatalf("rename: exit %d, %q %s", code, out, errOut)
	}
	if got := e.inspect("second", "{{.Name}}"); got != "second" && got != "/second" {
		t.Fatalf("inspect by the new name: %q", got)
	}
	if _, _, code := e.berth("inspect", "first"); code == 0 {
		t.Fatal("the old name still resolves")
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"rename", "second", "taken"}, 1, "already in use"},
		{[]string{"rename", "second", "second"}, 1, "same name"},
		{[]string{"rename", "second", "no/slash"}, 1, "invalid container name"},
		{[]string{"rename", "nosuch", "other"}, 1, "no such container"},
		{[]string{"rename", "second"}, 125, "requires exactly 2"},
	} {
		if _, errOut, code := e.berth(tc.args...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	// The old name is free again; the new one is held.
	e.mustRunD([]string{"--name", "first"}, "true")
	if _, errOut, code := e.run([]string{"--name", "second"}, "true"); code != 125 || !strings.Contains(errOut, "already in use") {
		t.Fatalf("run with the renamed container's name: exit %d %q", code, errOut)
	}

	t.Run("user network peers resolve the new name", func(t *testing.T) {
		img := e.importBusybox()
		netName := fmt.Sprintf("efren%d", os.Getpid())
		if _, errOut, code := e.berth("network", "create", netName); code != 0 {
			t.Fatalf("network create: %s", errOut)
		}
		t.Cleanup(func() {
			e.berth("rm", "-f", "peer", "renamed", "orig")
			e.berth("network", "rm", netName)
		})
		for _, n := range []string{"peer", "orig"} {
			if _, errOut, code := e.berth("run", "-d", "--name", n, "--network", netName, img, "sleep", "600"); code != 0 {
				t.Fatalf("run %s: %s", n, errOut)
			}
		}
		if _, errOut, code := e.berth("rename", "orig", "renamed"); code != 0 {
			t.Fatalf("rename: %s", errOut)
		}
		out, errOut, code := e.berth("exec", "peer", "ping", "-c", "1", "-W", "5", "renamed")
		if code != 0 {
			t.Fatalf("peer cannot reach the new name: exit %d: %s %s", code, out, errOut)
		}
		hosts, _, _ := e.berth("exec", "peer", "cat", "/etc/hosts")
		if strings.Contains(hosts, "\torig ") || strings.Contains(hosts, " orig\n") {
			t.Fatalf("the old name is still in the peer's hosts file:\n%s", hosts)
		}
	})
}

func TestEngfeatUpdate(t *testing.T) {
	e := newEngineEnv(t)
	id := e.mustRunD([]string{"--name", "up", "--memory", "64m"}, "sleep", "600")
	const mb = 1024 * 1024
	if got := cgroupFile(t, id, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(64*mb) {
		t.Fatalf("memory limit before: %s", got)
	}
	out, errOut, code := e.berth("update", "--memory", "128m", "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0",
		"--pids-limit", "50", "--restart", "on-failure:3", "up")
	if code != 0 || strings.TrimSpace(out) != "up" {
		t.Fatalf("update: exit %d, %q %s", code, out, errOut)
	}
	check := func(when string) {
		t.Helper()
		for _, c := range []struct{ ctl, file, want string }{
			{"memory", "memory.limit_in_bytes", strconv.Itoa(128 * mb)},
			{"cpu", "cpu.cfs_quota_us", "50000"},
			{"cpu", "cpu.shares", "512"},
			{"cpuset", "cpuset.cpus", "0"},
			{"pids", "pids.max", "50"},
		} {
			if got := cgroupFile(t, id, c.ctl, c.file); got != c.want {
				t.Errorf("%s: %s is %s, want %s", when, c.file, got, c.want)
			}
		}
	}
	check("after update")
	if got := e.inspect("up", "{{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"); got != "512 0 50 on-failure 3" {
		t.Fatalf("inspect after update: %q", got)
	}
	// The record keeps the limits: a restart applies them again.
	if _, errOut, code := e.berth("restart", "-t", "0", "up"); code != 0 {
		t.Fatalf("restart: %s", errOut)
	}
	check("after restart")
	if _, errOut, code := e.berth("update", "--pids-limit", "-1", "--cpus", "0", "up"); code != 0 {
		t.Fatalf("update to unlimited: %s", errOut)
	}
	if got := cgroupFile(t, id, "pids", "pids.max"); got != "max" {
		t.Fatalf("pids.max after --pids-limit -1: %s", got)
	}
	if got := cgroupFile(t, id, "cpu", "cpu.cfs_quota_us"); got != "-1" {
		t.Fatalf("cfs quota after --cpus 0: %s", got)
	}

	e.mustRunD([]string{"--name", "gone", "--rm"}, "sleep", "600")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"update", "--memory", "1m", "up"}, 1, "minimum memory limit"},
		{[]string{"update", "--memory", "lots", "up"}, 125, "invalid argument"},
		{[]string{"update", "--memory-swap", "64m", "up"}, 1, "minimum memoryswap limit"},
		{[]string{"update", "--cpuset-cpus", "4096", "up"}, 1, "not available"},
		{[]string{"update", "--restart", "sometimes", "up"}, 125, "invalid restart policy"},
		{[]string{"update", "--restart", "always", "gone"}, 1, "AutoRemove"},
		{[]string{"update", "up"}, 1, "one or more flags"},
		{[]string{"update", "--memory", "100m", "nosuch"}, 1, "no such container"},
	} {
		if _, errOut, code := e.berth(tc.args...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	// A failed update changed nothing.
	if got := cgroupFile(t, id, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(128*mb) {
		t.Fatalf("memory limit after rejected updates: %s", got)
	}

	t.Run("through runc's command line", func(t *testing.T) {
		rid := e.mustRunD([]string{"--name", "viarunc", "--runtime", "runc", "--memory", "32m"}, "sleep", "600")
		if _, errOut, code := e.berth("update", "--memory", "48m", "--pids-limit", "30", "viarunc"); code != 0 {
			t.Fatalf("update: %s", errOut)
		}
		if got := cgroupFile(t, rid, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(48*mb) {
			t.Errorf("memory limit %s", got)
		}
		if got := cgroupFile(t, rid, "pids", "pids.max"); got != "30" {
			t.Errorf("pids.max %s", got)
		}
		if _, errOut, code := e.berth("pause", "viarunc"); code != 0 || !frozen(t, rid) {
			t.Fatalf("pause through runc: exit %d %s", code, errOut)
		}
		if _, errOut, code := e.berth("unpause", "viarunc"); code != 0 || frozen(t, rid) {
			t.Fatalf("unpause through runc: exit %d %s", code, errOut)
		}
	})
	t.Run("stopped container", func(t *testing.T) {
		e.mustRunD([]string{"--name", "later"}, "true")
		e.berth("wait", "later")
		if _, errOut, code := e.berth("update", "--pids-limit", "33", "later"); code != 0 {
			t.Fatalf("update of a stopped container: %s", errOut)
		}
		e.berth("start", "later")
		if got := e.inspect("later", "{{.HostConfig.PidsLimit}}"); got != "33" {
			t.Fatalf("pids limit in the record: %s", got)
		}
	})
}

func TestEngfeatCommit(t *testing.T) {
	e := newEngineEnv(t)
	img := e.importBusybox()
	if _, errOut, code := e.berth("run", "--name", "src", "--network", "none", img, "sh", "-c",
		"echo hello > /hello && rm /bin/ls && mkdir -p /d/e && echo deep > /d/e/f"); code != 0 {
		t.Fatalf("run: %s", errOut)
	}
	out, errOut, code := e.berth("commit", "-a", "Ann <ann@example.com>", "-m", "my change", "-c", "ENV FOO=bar",
		"-c", `CMD ["cat", "/hello"]`, "src", "committed:v1")
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "sha256:") {
		t.Fatalf("commit: exit %d, %q %s", code, out, errOut)
	}
	if out, errOut, code := e.berth("run", "--rm", "--network", "none", "committed:v1"); code != 0 || out != "hello\n" {
		t.Fatalf("run of the committed image (its CMD): exit %d, %q %s", code, out, errOut)
	}
	out, errOut, code = e.berth("run", "--rm", "--network", "none", "committed:v1", "sh", "-c", "echo $FOO; cat /d/e/f; test -e /bin/ls || echo deleted")
	if code != 0 || out != "bar\ndeep\ndeleted\n" {
		t.Fatalf("the committed layer: exit %d, %q %s", code, out, errOut)
	}
	hist, _, _ := e.berth("history", "--no-trunc", "committed:v1")
	if !strings.Contains(hist, "my change") || len(strings.Split(strings.TrimSpace(hist), "\n")) != 3 {
		t.Fatalf("history:\n%s", hist)
	}
	if got, _, _ := e.berth("image", "inspect", "-f", "{{.Author}}", "committed:v1"); strings.TrimSpace(got) != "Ann <ann@example.com>" {
		t.Fatalf("author: %q", got)
	}
	// The runtime's mount points (the busybox image has no /etc/hosts) are
	// not committed; the container's own files are. A created container's
	// rootfs shows the image without the runtime's mounts.
	if _, errOut, code := e.berth("create", "--name", "look", "--network", "none", "committed:v1"); code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	if _, errOut, code := e.berth("cp", "look:/etc/hosts", "-"); code != 1 || !strings.Contains(errOut, "could not find") {
		t.Fatalf("the committed image has the runtime's /etc/hosts: exit %d %s", code, errOut)
	}
	if _, errOut, code := e.berth("cp", "look:/hello", "-"); code != 0 {
		t.Fatalf("the committed image lacks /hello: %s", errOut)
	}

	t.Run("running container, paused during the commit", func(t *testing.T) {
		if _, errOut, code := e.berth("run", "-d", "--name", "live", "--network", "none", img, "sh", "-c", "echo live > /live; exec sleep 600"); code != 0 {
			t.Fatalf("run: %s", errOut)
		}
		eventually(t, 10*time.Second, "the container's file", func() bool {
			_, _, code := e.berth("exec", "live", "test", "-e", "/live")
			return code == 0
		})
		out, errOut, code := e.berth("commit", "live")
		if code != 0 {
			t.Fatalf("commit: %s", errOut)
		}
		if got := e.inspect("live", "{{.State.Status}}"); got != "running" {
			t.Fatalf("after commit the container is %s", got)
		}
		id := strings.TrimSpace(out)
		if out, errOut, code := e.berth("run", "--rm", "--network", "none", id, "cat", "/live"); code != 0 || out != "live\n" {
			t.Fatalf("run of the untagged commit: exit %d %q %s", code, out, errOut)
		}
	})
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"commit", "src", "Bad::Ref"}, 125, "invalid reference"},
		{[]string{"commit", "-c", "FROB x", "src"}, 125, "unsupported instruction"},
		{[]string{"commit", "nosuch"}, 1, "no such container"},
		{[]string{"commit"}, 125, "at least 1"},
	} {
		if _, errOut, code := e.berth(tc.args...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

func TestEngfeatEvents(t *testing.T) {
	e := newEngineEnv(t)
	start := time.Now().Add(-time.Second).Format(time.RFC3339Nano)
	// A follower (replaying from before the first event, so it cannot miss
	// one) sees what happens next, then is interrupted.
	follow := exec.Command(e.bin, "--root", e.root, "--runroot", e.runroot, "events", "--since", start, "--filter", "container=ev1", "--filter", "container=ev1b", "--format", "{{.Action}}")
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer follow.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.Now().Add(20 * time.Second)
	e.mustRunD([]string{"--name", "other"}, "true")
	e.run([]string{"--name", "ev1"}, "sh", "-c", "exit 3")
	e.mustRunD([]string{"--name", "ev2"}, "sleep", "600")
	e.berth("exec", "ev2", "sh", "-c", "exit 5")
	e.berth("pause", "ev2")
	e.berth("unpause", "ev2")
	e.berth("rm", "-f", "ev2")
	e.berth("rename", "ev1", "ev1b")
	e.berth("rm", "ev1b")
	want := []string{"create", "start", "die", "rename", "destroy"}
	var got []string
	for len(want) > 0 && time.Now().Before(deadline) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("events ended early; got %q", got)
			}
			got = append(got, l)
			if l == want[0] {
				want = want[1:]
			}
		case <-time.After(time.Until(deadline)):
		}
	}
	if len(want) > 0 {
		t.Fatalf("the follower saw %q, missing %q", got, want)
	}
	follow.Process.Signal(syscall.SIGINT)
	if err := follow.Wait(); err != nil {
		t.Fatalf("events after an interrupt: %v", err)
	}

	// Replays: the whole story, filtered, in docker's shapes.
	out, errOut, code := e.berth("events", "--since", start, "--until", time.Now().Add(time.Second).Format(time.RFC3339Nano),
		"--filter", "type=container", "--filter", "container=ev2", "--format", "{{json .}}")
	if code != 0 {
		t.Fatalf("events --since --until: exit %d: %s", code, errOut)
	}
	var actions []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Type, Action string
			Status       string `json:"status"`
			ID           string `json:"id"`
			Actor        struct {
				ID         string
				Attributes map[string]string
			}
			TimeNano int64 `json:"timeNano"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("event line %q: %v", l, err)
		}
		if ev.Type != "container" || ev.Actor.Attributes["name"] != "ev2" || len(ev.Actor.ID) != 64 || ev.TimeNano == 0 {
			t.Fatalf("event %s", l)
		}
		actions = append(actions, ev.Action)
	}
	wantSeq := "create start exec_create: sh -c exit 5 exec_start: sh -c exit 5 exec_die pause unpause kill die destroy"
	if got := strings.Join(actions, " "); got != wantSeq {
		t.Fatalf("ev2's events: %q, want %q", got, wantSeq)
	}
	out, _, _ = e.berth("events", "--since", start, "--until", "0s", "--filter", "event=die")
	var sawExit3 bool
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		// docker's line: TIME container die ID (exitCode=3, image=..., name=ev1)
		if f := strings.Fields(l); len(f) >= 4 && f[1] == "container" && f[2] == "die" && strings.Contains(l, "exitCode=3") && strings.Contains(l, "name=ev1") {
			sawExit3 = true
		}
	}
	if !sawExit3 {
		t.Fatalf("no die event with exitCode=3 for ev1:\n%s", out)
	}
	out, _, _ = e.berth("events", "--since", start, "--until", "0s", "--filter", "event=exec_start", "--filter", "event=exec_die",
		"--format", `{{.Action}} {{index .Actor.Attributes "exitCode"}}`)
	if got := strings.TrimSpace(out); got != "exec_start: sh -c exit 5 \nexec_die 5" {
		t.Fatalf("exec events: %q", got)
	}
	out, _, _ = e.berth("events", "--since", start, "--until", "0s", "--filter", "event=rename", "--format", "{{.Actor.Attributes.oldName}} {{.Actor.Attributes.name}}")
	if strings.TrimSpace(out) != "/ev1 ev1b" {
		t.Fatalf("rename event: %q", out)
	}
	t.Run("oom and health_status", func(t *testing.T) {
		e.run([]string{"--name", "hog", "--memory", "16m", "--memory-swap", "16m"}, "sh", "-c", "x=0123456789abcdef; while true; do x=$x$x; done")
		e.mustRunD([]string{"--name", "doc", "--health-cmd", "true", "--health-interval", "1s"}, "sleep", "600")
		eventually(t, 30*time.Second, "health_status and oom events", func() bool {
			out, _, _ := e.berth("events", "--since", start, "--until", "0s", "--filter", "event=oom", "--filter", "event=health_status",
				"--format", "{{.Action}} {{.Actor.Attributes.name}}")
			return strings.Contains(out, "oom hog") && strings.Contains(out, "health_status: healthy doc")
		})
	})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"events", "--filter", "bogus=1"}, "invalid filter"},
		{[]string{"events", "--filter", "type=thing"}, "invalid event type"},
		{[]string{"events", "--since", "yesterday-ish"}, "invalid time"},
		{[]string{"events", "--since", "0s", "--until", "1h"}, "cannot be after"},
		{[]string{"events", "--format", "{{.Nope"}, "invalid --format"},
	} {
		if _, errOut, code := e.berth(tc.args...); code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q; want an error with %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestEngfeatCpStreams(t *testing.T) {
	e := newEngineEnv(t)
	e.mustRunD([]string{"--name", "box"}, "sleep", "600")
	t.Run("out", func(t *testing.T) {
		var stdout bytes.Buffer
		cmd := exec.Command(e.bin, "--root", e.root, "--runroot", e.runroot, "cp", "box:/etc", "-")
		cmd.Stdout = &stdout
		if err := cmd.Run(); err != nil {
			t.Fatalf("cp box:/etc -: %v", err)
		}
		names := map[string]string{}
		tr := tar.NewReader(&stdout)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("the stream is not a tar: %v", err)
			}
			b, _ := io.ReadAll(tr)
			names[hdr.Name] = string(b)
		}
		if _, ok := names["etc/"]; !ok || !strings.Contains(names["etc/passwd"], "root:") {
			t.Fatalf("tar entries: %v", keys(names))
		}
	})
	t.Run("in", func(t *testing.T) {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		tw.WriteHeader(&tar.Header{Name: "sub/", Typeflag: tar.TypeDir, Mode: 0o755})
		tw.WriteHeader(&tar.Header{Name: "sub/a.txt", Typeflag: tar.TypeReg, Mode: 0o600, Size: 5})
		tw.Write([]byte("hello"))
		tw.WriteHeader(&tar.Header{Name: "sub/l", Typeflag: tar.TypeSymlink, Linkname: "a.txt"})
		tw.WriteHeader(&tar.Header{Name: "sub/suid", Typeflag: tar.TypeReg, Mode: 0o6755})
		tw.Close()
		if _, errOut, code := e.berthIn(b.String(), "cp", "-", "box:/tmp"); code != 0 {
			t.Fatalf("cp - box:/tmp: exit %d: %s", code, errOut)
		}
		if out, _, _ := e.berth("exec", "box", "sh", "-c", "cat /tmp/sub/l; stat -c %a /tmp/sub/a.txt /tmp/sub/suid"); out != "hello600\n6755\n" {
			t.Fatalf("extracted content: %q", out)
		}
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(b.Bytes())
		zw.Close()
		if _, errOut, code := e.berthIn(z.String(), "cp", "-", "box:/root"); code != 0 {
			t.Fatalf("cp of a gzip stream: exit %d: %s", code, errOut)
		}
		if out, _, _ := e.berth("exec", "box", "cat", "/root/sub/a.txt"); out != "hello" {
			t.Fatalf("extracted from gzip: %q", out)
		}
	})
	t.Run("hostile input stays inside", func(t *testing.T) {
		marker := fmt.Sprintf("berth-e2e-escape-%d", os.Getpid())
		for _, entries := range [][]*tar.Header{
			{{Name: "../../../../" + marker, Typeflag: tar.TypeReg, Mode: 0o644}},
			{{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "/"}, {Name: "up/tmp/" + marker, Typeflag: tar.TypeReg, Mode: 0o644}},
			{{Name: "rel", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../tmp"}, {Name: "rel/" + marker, Typeflag: tar.TypeReg, Mode: 0o644}},
			{{Name: "hl", Typeflag: tar.TypeLink, Linkname: "../../../../etc/shadow"}},
		} {
			var b bytes.Buffer
			tw := tar.NewWriter(&b)
			for _, h := range entries {
				tw.WriteHeader(h)
			}
			tw.Close()
			if _, _, code := e.berthIn(b.String(), "cp", "-", "box:/tmp"); code == 0 {
				t.Errorf("a hostile stream (%s) was accepted", entries[len(entries)-1].Name)
			}
			for _, p := range []string{"/" + marker, "/tmp/" + marker} {
				if _, err := os.Lstat(p); err == nil {
					os.Remove(p)
					t.Fatalf("%s escaped onto the host", p)
				}
			}
		}
		if _, _, code := e.berth("exec", "box", "test", "-e", "/"+marker); code == 0 {
			t.Fatal("an entry escaped the destination directory inside the container")
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			stdin string
			args  []string
			code  int
			want  string
		}{
			{"", []string{"cp", "-", "box:/etc/passwd"}, 1, "must be a directory"},
			{"", []string{"cp", "-", "box:/nope"}, 1, "could not find"},
			{"not a tar at all, not a tar at all, not a tar at all, not a tar at all, not a tar at all, not a tar at all, " +
				strings.Repeat("x", 512), []string{"cp", "-", "box:/tmp"}, 1, "tar"},
			{"", []string{"cp", "box:/nope", "-"}, 1, "could not find"},
			{"", []string{"cp", "-", "-"}, 125, "container path"},
		} {
			if _, errOut, code := e.berthIn(tc.stdin, tc.args...); code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("%v: exit %d %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
			}
		}
	})
	t.Run("stopped container", func(t *testing.T) {
		e.mustRunD([]string{"--name", "still"}, "true")
		e.berth("wait", "still")
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		tw.WriteHeader(&tar.Header{Name: "note", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
		tw.Write([]byte("ok"))
		tw.Close()
		if _, errOut, code := e.berthIn(b.String(), "cp", "-", "still:/"); code != 0 {
			t.Fatalf("cp into a stopped container: %s", errOut)
		}
		out, _, code := e.berth("cp", "still:/note", "-")
		if code != 0 {
			t.Fatal("cp out of a stopped container failed")
		}
		tr := tar.NewReader(strings.NewReader(out))
		hdr, err := tr.Next()
		if err != nil || hdr.Name != "note" {
			t.Fatalf("tar of one file: %v %v", hdr, err)
		}
		if body, _ := io.ReadAll(tr); string(body) != "ok" {
			t.Fatalf("content %q", body)
		}
	})
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
