package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/network"
)

// engineEnv is one isolated engine: its own root, runroot and rootfs.
type engineEnv struct {
	t       *testing.T
	bin     string
	root    string
	runroot string
	rootfs  string
}

func newEngineEnv(t *testing.T) *engineEnv {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "runc")
	dir := t.TempDir()
	e := &engineEnv{t: t, bin: testutil.BerthBinary(t), root: filepath.Join(dir, "root"), runroot: filepath.Join(dir, "run"),
		rootfs: testutil.BusyboxRootfs(t)}
	t.Cleanup(func() {
		out, _, _ := e.berth("ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			e.berth("rm", "-f", "-v", id)
		}
		// Drop this root's networks, bridge and nftables table.
		if m, err := network.Open(e.root, e.runroot); err == nil {
			if err := m.Destroy(context.Background()); err != nil {
				t.Errorf("removing the test's networks: %v", err)
			}
		}
	})
	return e
}

// berth runs the CLI against this engine and returns stdout, stderr, exit code.
func (e *engineEnv) berth(args ...string) (string, string, int) {
	return e.berthIn("", args...)
}

func (e *engineEnv) berthIn(stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(e.bin, append([]string{"--root", e.root, "--runroot", e.runroot}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("running berth %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// run is `berth run --network none --rootfs ROOTFS` with extra flags before the command.
func (e *engineEnv) run(flags []string, cmd ...string) (string, string, int) {
	e.t.Helper()
	args := append([]string{"run", "--network", "none", "--rootfs", e.rootfs}, flags...)
	return e.berth(append(args, cmd...)...)
}

func (e *engineEnv) mustRunD(flags []string, cmd ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(append([]string{"-d"}, flags...), cmd...)
	if code != 0 {
		e.t.Fatalf("run -d: exit %d: %s", code, errOut)
	}
	return strings.TrimSpace(out)
}

func (e *engineEnv) inspect(ref, format string) string {
	e.t.Helper()
	out, errOut, code := e.berth("inspect", "-f", format, ref)
	if code != 0 {
		e.t.Fatalf("inspect %s: exit %d: %s", ref, code, errOut)
	}
	return strings.TrimSpace(out)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEngineRunExitCodes(t *testing.T) {
	e := newEngineEnv(t)
	for _, tc := range []struct {
		name   string
		flags  []string
		cmd    []string
		code   int
		stdout string
		stderr string
	}{
		{"echo", []string{"--rm"}, []string{"echo", "hello"}, 0, "hello\n", ""},
		{"exit code", []string{"--rm"}, []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, 3, "out\n", "err\n"},
		{"not found", []string{"--rm"}, []string{"nosuchcmd"}, 127, "", "executable file not found"},
		{"not executable", []string{"--rm"}, []string{"/etc/passwd"}, 126, "", "permission denied"},
		{"signal", []string{"--rm"}, []string{"sh", "-c", "sleep 5 & kill -9 $!; wait $!; exit $?"}, 137, "", ""},
		{"env and workdir", []string{"--rm", "-e", "FOO=bar", "-w", "/tmp"}, []string{"sh", "-c", "echo $FOO $(pwd)"}, 0, "bar /tmp\n", ""},
		{"user", []string{"--rm", "-u", "1000:1000"}, []string{"id", "-u"}, 0, "1000\n", ""},
		{"hostname", []string{"--rm", "--hostname", "box1"}, []string{"cat", "/etc/hostname"}, 0, "box1\n", ""},
		{"hosts file", []string{"--rm"}, []string{"grep", "-c", "localhost", "/etc/hosts"}, 0, "2\n", ""},
		{"read-only", []string{"--rm", "--read-only"}, []string{"touch", "/x"}, 1, "", "Read-only file system"},
		{"bad memory", []string{"--rm", "--memory", "lots"}, []string{"true"}, 125, "", "invalid argument"},
		{"bad restart", []string{"--restart", "sometimes"}, []string{"true"}, 125, "", "invalid restart policy"},
		{"missing bind source", []string{"--rm", "-v", "/nonexistent-berth-src:/data"}, []string{"true"}, 125, "", "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := e.run(tc.flags, tc.cmd...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if tc.stdout != "" && stdout != tc.stdout {
				t.Errorf("stdout %q, want %q", stdout, tc.stdout)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.stderr)
			}
		})
	}
	// Nothing is left behind by the failures above.
	if out, _, _ := e.berth("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("containers left behind: %q", out)
	}
}

func TestEngineStdinAndNames(t *testing.T) {
	e := newEngineEnv(t)
	out, errOut, code := e.berthIn("from stdin\n", "run", "-i", "--rm", "--network", "none", "--rootfs", e.rootfs, "cat")
	if code != 0 || out != "from stdin\n" {
		t.Fatalf("run -i cat: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	e.mustRunD([]string{"--name", "dup"}, "sleep", "30")
	_, errOut, code = e.run([]string{"-d", "--name", "dup"}, "true")
	if code != 125 || !strings.Contains(errOut, "already in use") {
		t.Fatalf("name conflict: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code = e.berth("rm", "dup"); code == 0 || !strings.Contains(errOut, "running") {
		t.Fatalf("rm of a running container: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code = e.berth("rm", "-f", "dup"); code != 0 {
		t.Fatalf("rm -f: exit %d: %s", code, errOut)
	}
	if _, _, code = e.berth("inspect", "dup"); code == 0 {
		t.Fatal("inspect after rm succeeded")
	}
}

func TestEngineLifecycle(t *testing.T) {
	e := newEngineEnv(t)
	id := e.mustRunD([]string{"--name", "life", "--stop-signal", "USR1"}, "sh", "-c", "trap 'echo bye; exit 0' USR1; echo started; while true; do sleep 0.1; done")
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a container ID", id)
	}
	eventually(t, 10*time.Second, "the log line", func() bool {
		out, _, _ := e.berth("logs", "life")
		return out == "started\n"
	})
	out, _, _ := e.berth("ps", "--format", "{{.Names}} {{.State}}")
	if !strings.Contains(out, "life running") {
		t.Fatalf("ps: %q", out)
	}
	if got := e.inspect("life", "{{.State.Status}} {{.State.Running}}"); got != "running true" {
		t.Fatalf("inspect: %q", got)
	}
	// exec in the running container.
	out, errOut, code := e.berth("exec", "-e", "X=1", "life", "sh", "-c", "echo exec$X; exit 4")
	if code != 4 || out != "exec1\n" {
		t.Fatalf("exec: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// logs -f follows new output until the container stops.
	follow := exec.Command(e.bin, "--root", e.root, "--runroot", e.runroot, "logs", "-f", "life")
	var fout bytes.Buffer
	follow.Stdout = &fout
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := e.berth("exec", "life", "sh", "-c", "echo followed > /proc/1/fd/1"); code != 0 {
		t.Fatalf("exec write: %d %s", code, errOut)
	}
	if _, errOut, code := e.berth("stop", "life"); code != 0 {
		t.Fatalf("stop: exit %d: %s", code, errOut)
	}
	done := make(chan error, 1)
	go func() { done <- follow.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		follow.Process.Kill()
		t.Fatal("logs -f did not end when the container stopped")
	}
	for _, want := range []string{"started", "followed", "bye"} {
		if !strings.Contains(fout.String(), want) {
			t.Errorf("logs -f output %q lacks %q", fout.String(), want)
		}
	}
	if got := e.inspect("life", "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 0" {
		t.Fatalf("after stop: %q", got)
	}
	if out, _, _ := e.berth("wait", "life"); strings.TrimSpace(out) != "0" {
		t.Fatalf("wait: %q", out)
	}
	// start again: the same container runs again.
	if _, errOut, code := e.berth("start", "life"); code != 0 {
		t.Fatalf("start: exit %d: %s", code, errOut)
	}
	if got := e.inspect("life", "{{.State.Status}}"); got != "running" {
		t.Fatalf("after start: %q", got)
	}
	if _, errOut, code := e.berth("kill", "life"); code != 0 {
		t.Fatalf("kill: %d %s", code, errOut)
	}
	if got := e.inspect("life", "{{.State.ExitCode}}"); got != "137" {
		t.Fatalf("exit code after kill: %q", got)
	}
	if _, errOut, code := e.berth("rm", "life"); code != 0 {
		t.Fatalf("rm: %d %s", code, errOut)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.root, "containers")); len(ents) != 0 {
		t.Fatalf("container state left behind: %v", ents)
	}
}

func TestEngineMonitorKilled(t *testing.T) {
	e := newEngineEnv(t)
	e.mustRunD([]string{"--name", "orphan"}, "sleep", "600")
	e.mustRunD([]string{"--name", "phoenix", "--restart", "always"}, "sleep", "600")
	for _, name := range []string{"orphan", "phoenix"} {
		pid, _ := strconv.Atoi(e.inspect(name, "{{.State.MonitorPid}}"))
		if pid <= 0 {
			t.Fatalf("%s has no monitor pid", name)
		}
		if err := syscallKill(pid); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "ps to notice the dead monitor", func() bool {
		return e.inspect("orphan", "{{.State.Status}}") == "exited"
	})
	if got := e.inspect("orphan", "{{.State.ExitCode}}"); got != "137" {
		t.Errorf("orphan exit code %s, want 137", got)
	}
	eventually(t, 20*time.Second, "always to restart after its monitor died", func() bool {
		return e.inspect("phoenix", "{{.State.Status}} {{.RestartCount}}") == "running 0" &&
			e.inspect("phoenix", "{{.State.MonitorPid}}") != "0"
	})
}

func TestEngineRestartAndHealth(t *testing.T) {
	e := newEngineEnv(t)
	e.mustRunD([]string{"--name", "flaky", "--restart", "on-failure:2"}, "sh", "-c", "echo try; exit 1")
	eventually(t, 30*time.Second, "on-failure:2 to give up", func() bool {
		return e.inspect("flaky", "{{.State.Status}} {{.RestartCount}}") == "exited 2"
	})
	if out, _, _ := e.berth("logs", "flaky"); strings.Count(out, "try") != 3 {
		t.Errorf("logs after 2 restarts: %q", out)
	}
	e.mustRunD([]string{"--name", "doc", "--health-cmd", "test -f /tmp/ok", "--health-interval", "200ms", "--health-retries", "2"}, "sleep", "600")
	eventually(t, 30*time.Second, "unhealthy", func() bool { return e.inspect("doc", "{{.State.Health.Status}}") == "unhealthy" })
	if _, _, code := e.berth("exec", "doc", "touch", "/tmp/ok"); code != 0 {
		t.Fatal("exec touch failed")
	}
	eventually(t, 30*time.Second, "healthy", func() bool { return e.inspect("doc", "{{.State.Health.Status}}") == "healthy" })
	out, _, _ := e.berth("ps", "--filter", "health=healthy", "--format", "{{.Names}} {{.Status}}")
	if !strings.Contains(out, "doc Up") || !strings.Contains(out, "(healthy)") {
		t.Errorf("ps: %q", out)
	}
}

func TestEngineNamedVolumeSurvives(t *testing.T) {
	e := newEngineEnv(t)
	vol := "berth-e2e-" + strconv.Itoa(os.Getpid())
	if _, errOut, code := e.run([]string{"--rm", "-v", vol + ":/data"}, "sh", "-c", "echo kept > /data/f"); code != 0 {
		t.Fatalf("writer: %s", errOut)
	}
	out, errOut, code := e.run([]string{"--rm", "-v", vol + ":/data:ro"}, "cat", "/data/f")
	if code != 0 || out != "kept\n" {
		t.Fatalf("reader: exit %d, %q, %s", code, out, errOut)
	}
	// An empty named volume is first filled from the image.
	out, _, _ = e.run([]string{"--rm", "-v", vol + "-etc:/etc"}, "cat", "/etc/passwd")
	if !strings.Contains(out, "root:") {
		t.Fatalf("volume not filled from the image: %q", out)
	}
	// tmpfs and binds.
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "in"), []byte("bound\n"), 0o644)
	out, _, _ = e.run([]string{"--rm", "-v", host + ":/h", "--tmpfs", "/scratch"}, "sh", "-c", "cat /h/in; grep -c ' /scratch tmpfs' /proc/mounts")
	if out != "bound\n1\n" {
		t.Fatalf("bind+tmpfs: %q", out)
	}
}

func TestEngineResourceLimits(t *testing.T) {
	e := newEngineEnv(t)
	t.Run("pids-limit holds a fork bomb", func(t *testing.T) {
		id := e.mustRunD([]string{"--pids-limit", "20"}, "sleep", "600")
		// The bomb forks until the kernel refuses, then its shell gives up (exit 2).
		_, errOut, code := e.berth("exec", id, "sh", "-c", "while :; do sleep 600 </dev/null >/dev/null 2>&1 & done")
		if code == 0 {
			t.Fatalf("the fork bomb was never refused: %s", errOut)
		}
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids/berth", id, "pids.current"))
		if err != nil {
			b, err = os.ReadFile(filepath.Join("/sys/fs/cgroup/berth", id, "pids.current"))
		}
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n > 20 || n < 2 {
			t.Fatalf("pids.current %s, want 2..20", b)
		}
		// The host and the container are unharmed.
		if out, _, code := e.berth("exec", id, "echo", "alive"); code != 0 && !strings.Contains(out, "alive") {
			t.Logf("exec after the bomb: exit %d (the container's pids are still exhausted)", code)
		}
		if err := exec.Command("true").Run(); err != nil {
			t.Fatalf("the host cannot fork: %v", err)
		}
	})
	t.Run("memory limit OOM is reported", func(t *testing.T) {
		_, errOut, code := e.run([]string{"--name", "hog", "--memory", "16m", "--memory-swap", "16m"}, "sh", "-c",
			"x=0123456789abcdef; while true; do x=$x$x; done")
		if code != 137 {
			t.Fatalf("exit %d, want 137: %s", code, errOut)
		}
		if got := e.inspect("hog", "{{.State.OOMKilled}} {{.State.ExitCode}}"); got != "true 137" {
			t.Fatalf("inspect: %q", got)
		}
	})
	t.Run("cpus 0.5 holds a busy loop near half a core", func(t *testing.T) {
		id := e.mustRunD([]string{"--cpus", "0.5"}, "sh", "-c", "while :; do :; done")
		usage := func() (cpu int64, at time.Time) {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpuacct/berth", id, "cpuacct.usage"))
			if err != nil {
				b, err = os.ReadFile(filepath.Join("/sys/fs/cgroup/berth", id, "cpu.stat"))
				if err != nil {
					t.Fatalf("reading cpu usage: %v", err)
				}
				for _, l := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
						n, _ := strconv.ParseInt(v, 10, 64)
						return n * 1000, time.Now()
					}
				}
			}
			n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			return n, time.Now()
		}
		c0, t0 := usage()
		time.Sleep(2 * time.Second) // a measurement window, not synchronisation
		c1, t1 := usage()
		share := float64(c1-c0) / float64(t1.Sub(t0).Nanoseconds())
		// The quota is the upper bound; the lower one only shows the loop ran
		// (a loaded machine may give it little).
		if share > 0.75 || share < 0.05 {
			t.Fatalf("busy loop used %.2f of a core under --cpus 0.5", share)
		}
	})
}

func TestEngineParallelRuns(t *testing.T) {
	e := newEngineEnv(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(e.bin, "--root", e.root, "--runroot", e.runroot, "run", "-d", "--network", "none",
				"--name", fmt.Sprintf("par%d", i), "--rootfs", e.rootfs, "sleep", "600")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				errs <- fmt.Sprintf("run %d: %v: %s", i, err, stderr.String())
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	out, _, _ := e.berth("ps", "-q")
	if got := len(strings.Fields(out)); got != n {
		t.Fatalf("%d running containers, want %d", got, n)
	}
}

// importBusybox makes the offline busybox image in this engine's store.
func (e *engineEnv) importBusybox() string {
	e.t.Helper()
	ref := "berth-e2e-busybox:latest"
	if _, errOut, code := e.berth("import", testutil.RootfsTar(e.t), ref); code != 0 {
		e.t.Fatalf("import: exit %d: %s", code, errOut)
	}
	return ref
}

// freePort asks the kernel for a free TCP port on the host.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestEngineImageAndNetworks(t *testing.T) {
	e := newEngineEnv(t)
	img := e.importBusybox()
	t.Run("unknown image", func(t *testing.T) {
		_, errOut, code := e.berth("run", "--rm", "no-such-image-berth", "true")
		if code != 125 || !strings.Contains(errOut, "berth pull") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("missing command", func(t *testing.T) {
		_, errOut, code := e.berth("run", "--rm", "--network", "none", img)
		if code != 125 || !strings.Contains(errOut, "no command specified") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("image config is honoured", func(t *testing.T) {
		ref := "berth-e2e-config:latest"
		if _, errOut, code := e.berth("import", "-c", "VOLUME /data", "-c", "ENV GREETING=hi", "-c", "WORKDIR /data",
			"-c", `CMD ["sh","-c","echo $GREETING from $(pwd)"]`, "-c", "STOPSIGNAL SIGUSR1", testutil.RootfsTar(t), ref); code != 0 {
			t.Fatalf("import: %s", errOut)
		}
		out, errOut, code := e.berth("run", "--name", "cfg", "--network", "none", ref)
		if code != 0 || out != "hi from /data\n" {
			t.Fatalf("run: exit %d, %q, %s", code, out, errOut)
		}
		if got := e.inspect("cfg", "{{.Config.StopSignal}} {{(index .Mounts 0).Destination}} {{(index .Mounts 0).Anonymous}}"); got != "SIGUSR1 /data true" {
			t.Fatalf("inspect: %q", got)
		}
		vol := e.inspect("cfg", "{{(index .Mounts 0).Name}}")
		if _, errOut, code := e.berth("rm", "-v", "cfg"); code != 0 {
			t.Fatal(errOut)
		}
		if out, _, _ := e.berth("volume", "ls", "-q"); strings.Contains(out, vol) {
			t.Fatalf("rm -v left the anonymous volume %s", vol)
		}
	})
	t.Run("image rootfs is copy-on-write", func(t *testing.T) {
		if _, errOut, code := e.berth("run", "--rm", "--network", "none", img, "sh", "-c", "echo x > /etc/passwd"); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		out, _, _ := e.berth("run", "--rm", "--network", "none", img, "cat", "/etc/passwd")
		if !strings.Contains(out, "root:") {
			t.Fatalf("a container's write reached the image: %q", out)
		}
	})
	t.Run("published port serves from the host", func(t *testing.T) {
		port := freePort(t)
		e.berth("run", "-d", "--name", "web", "-p", fmt.Sprintf("%d:80", port), img,
			"sh", "-c", "mkdir -p /www && echo served-by-berth > /www/index.html && exec httpd -f -p 80 -h /www")
		var body string
		eventually(t, 20*time.Second, "the published port to answer", func() bool {
			resp, err := (&http.Client{Timeout: time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return resp.StatusCode == 200
		})
		if body != "served-by-berth\n" {
			t.Fatalf("body %q", body)
		}
		if out, _, _ := e.berth("port", "web", "80"); strings.TrimSpace(out) != fmt.Sprintf("0.0.0.0:%d", port) {
			t.Errorf("port: %q", out)
		}
		_, errOut, code := e.berth("run", "-d", "-p", fmt.Sprintf("%d:80", port), img, "true")
		if code != 125 || !strings.Contains(errOut, "already allocated") {
			t.Errorf("port in use: exit %d, stderr %q", code, errOut)
		}
		e.berth("rm", "-f", "web")
		if _, err := (&http.Client{Timeout: time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
			t.Error("the port still answers after rm")
		}
	})
	t.Run("user network resolves names", func(t *testing.T) {
		netName := fmt.Sprintf("berthe2e%d", os.Getpid())
		if _, errOut, code := e.berth("network", "create", netName); code != 0 {
			t.Fatalf("network create: %s", errOut)
		}
		t.Cleanup(func() { e.berth("network", "rm", netName) })
		e.berth("run", "-d", "--name", "alpha", "--network", netName, img, "sleep", "600")
		e.berth("run", "-d", "--name", "beta", "--network", netName, img, "sleep", "600")
		for _, pair := range [][2]string{{"alpha", "beta"}, {"beta", "alpha"}} {
			out, errOut, code := e.berth("exec", pair[0], "ping", "-c", "1", "-W", "5", pair[1])
			if code != 0 {
				t.Fatalf("%s cannot reach %s: exit %d: %s %s", pair[0], pair[1], code, out, errOut)
			}
		}
		e.berth("rm", "-f", "alpha", "beta")
	})
}

func TestEngineParallelHealthyOnBridge(t *testing.T) {
	e := newEngineEnv(t)
	img := e.importBusybox()
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Each check is a runtime exec: 50 of them every 5 s fit in 2 cores.
			_, errOut, code := e.berth("run", "-d", "--name", fmt.Sprintf("h%d", i), "--health-cmd", "true",
				"--health-interval", "5s", img, "sleep", "600")
			if code != 0 {
				errs <- fmt.Sprintf("run %d: exit %d: %s", i, code, errOut)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	eventually(t, 300*time.Second, "50 healthy containers", func() bool {
		out, _, _ := e.berth("ps", "--filter", "health=healthy", "-q")
		return len(strings.Fields(out)) == n
	})
	out, _, _ := e.berth("ps", "--format", "{{.Networks}}")
	ips := map[string]bool{}
	for i := 0; i < n; i++ {
		ip := e.inspect(fmt.Sprintf("h%d", i), "{{.NetworkSettings.Networks.bridge.IPAddress}}")
		if ip == "" || ips[ip] {
			t.Fatalf("container h%d has address %q (duplicate or missing); ps: %s", i, ip, out)
		}
		ips[ip] = true
	}
}

func TestEngineInspectionVerbs(t *testing.T) {
	e := newEngineEnv(t)
	e.mustRunD([]string{"--name", "box", "--label", "tier=web"}, "sh", "-c", "echo hi > /tmp/in-box; exec sleep 600")
	eventually(t, 10*time.Second, "the file in the container", func() bool {
		_, _, code := e.berth("exec", "box", "test", "-f", "/tmp/in-box")
		return code == 0
	})
	// cp both ways.
	dir := t.TempDir()
	if _, errOut, code := e.berth("cp", "box:/tmp/in-box", dir); code != 0 {
		t.Fatalf("cp out: %s", errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "in-box")); string(b) != "hi\n" {
		t.Fatalf("copied out %q", b)
	}
	os.WriteFile(filepath.Join(dir, "to-box"), []byte("there\n"), 0o644)
	if _, errOut, code := e.berth("cp", filepath.Join(dir, "to-box"), "box:/tmp/"); code != 0 {
		t.Fatalf("cp in: %s", errOut)
	}
	if out, _, _ := e.berth("exec", "box", "cat", "/tmp/to-box"); out != "there\n" {
		t.Fatalf("copied in %q", out)
	}
	// top lists the container's process; stats reads its cgroup.
	if out, _, code := e.berth("top", "box"); code != 0 || !strings.Contains(out, "sleep 600") {
		t.Fatalf("top: %d %q", code, out)
	}
	if out, _, code := e.berth("stats", "--no-stream", "box"); code != 0 || !strings.Contains(out, "box") || !strings.Contains(out, "MEM USAGE") {
		t.Fatalf("stats: %d %q", code, out)
	}
	// ps filters and formats.
	if out, _, _ := e.berth("ps", "--filter", "label=tier=web", "--format", "{{.Names}} {{.Label \"tier\"}}"); strings.TrimSpace(out) != "box web" {
		t.Fatalf("ps filter: %q", out)
	}
	if out, _, _ := e.berth("ps", "--filter", "label=tier=db", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("ps filter matched: %q", out)
	}
	if out, _, _ := e.berth("inspect", "box"); !strings.Contains(out, `"Status": "running"`) || !strings.HasPrefix(out, "[") {
		t.Fatalf("inspect JSON: %.200s", out)
	}
	// Volumes: in use, then removed.
	vol := fmt.Sprintf("berth-e2e-v%d", os.Getpid())
	e.berth("volume", "create", vol)
	e.mustRunD([]string{"--name", "user", "-v", vol + ":/v"}, "sleep", "600")
	if _, errOut, code := e.berth("volume", "rm", vol); code == 0 || !strings.Contains(errOut, "in use") {
		t.Fatalf("volume rm in use: %d %s", code, errOut)
	}
	e.berth("rm", "-f", "user")
	if _, errOut, code := e.berth("volume", "rm", vol); code != 0 {
		t.Fatalf("volume rm: %s", errOut)
	}
	// container prune removes stopped containers only.
	e.run([]string{"--name", "done"}, "true")
	out, _, _ := e.berth("container", "prune", "-f")
	if !strings.Contains(out, "Deleted Containers") {
		t.Fatalf("prune: %q", out)
	}
	if _, _, code := e.berth("inspect", "done"); code == 0 {
		t.Fatal("prune left the stopped container")
	}
	if _, _, code := e.berth("inspect", "box"); code != 0 {
		t.Fatal("prune removed a running container")
	}
}
