package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/testutil"
)

// podman drives podman with berth-runtime as its OCI runtime, on a private
// storage root so that it neither sees nor disturbs anyone else's containers.
type podman struct {
	bin     string
	runtime string
	dir     string
	conf    string
}

// newPodman prepares a private podman (storage, run root, tmp dir and a
// containers.conf that lists berth-runtime among the runtimes that write
// JSON error logs, so podman passes it --log-format=json --log F the way it
// does for runc) and imports the busybox rootfs as localhost/busybox.
func newPodman(t *testing.T) *podman {
	t.Helper()
	testutil.RequireRoot(t)
	bin := testutil.RequireCommand(t, "podman")
	testutil.RequireCommand(t, "conmon")
	dir := t.TempDir()
	conf := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(conf, []byte("[engine]\nruntime_supports_json = [\"crun\", \"runc\", \"berth-runtime\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &podman{
		bin:     bin,
		runtime: filepath.Join(filepath.Dir(testutil.BerthBinary(t)), "berth-runtime"),
		dir:     dir,
		conf:    conf,
	}
	t.Cleanup(p.cleanup)
	if out, err := p.cmd("import", testutil.RootfsTar(t), "busybox").CombinedOutput(); err != nil {
		t.Fatalf("podman import: %v: %s", err, out)
	}
	return p
}

func (p *podman) cmd(args ...string) *exec.Cmd {
	global := []string{
		"--root", filepath.Join(p.dir, "storage"),
		"--runroot", filepath.Join(p.dir, "run"),
		"--tmpdir", filepath.Join(p.dir, "tmp"),
		"--cgroup-manager", "cgroupfs",
		"--events-backend", "file",
		"--runtime", p.runtime,
	}
	cmd := exec.Command(p.bin, append(global, args...)...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+p.conf)
	return cmd
}

// run runs podman and returns stdout, stderr and the exit code.
func (p *podman) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := p.cmd(args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("podman %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// must runs podman and fails the test unless it exits 0; it returns stdout.
func (p *podman) must(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := p.run(t, args...)
	if code != 0 {
		t.Fatalf("podman %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

// cleanup removes every container and image of this private podman and
// unmounts what its storage left mounted.
func (p *podman) cleanup() {
	p.cmd("rm", "--all", "--force", "--time", "0").Run()
	p.cmd("system", "reset", "--force").Run()
	mounts, _ := mountsUnder(p.dir)
	for i := len(mounts) - 1; i >= 0; i-- {
		unix.Unmount(mounts[i], unix.MNT_DETACH)
	}
}

// mountsUnder lists the mount points at or below dir, in mount order.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			out = append(out, fields[4])
		}
	}
	return out, s.Err()
}

// common are the options every container here needs: no network (the test
// needs none and podman's default network wants netavark), and rlimits
// within this machine's hard limits (podman asks for nofile 1048576).
var podmanCommon = []string{"--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}

func podmanRunArgs(name string, detach bool, extra []string, cmd ...string) []string {
	args := []string{"run"}
	if detach {
		args = append(args, "-d")
	} else {
		args = append(args, "--rm")
	}
	if name != "" {
		args = append(args, "--name", name)
	}
	args = append(args, podmanCommon...)
	args = append(args, extra...)
	args = append(args, "busybox")
	return append(args, cmd...)
}

func TestPodmanRuntimeRun(t *testing.T) {
	p := newPodman(t)
	for _, tc := range []struct {
		name     string
		extra    []string
		cmd      []string
		wantCode int
		want     string // in stdout
		wantErr  string // in stderr
	}{
		{"echo", nil, []string{"echo", "hello from berth"}, 0, "hello from berth", ""},
		{"exit code", nil, []string{"sh", "-c", "exit 7"}, 7, "", ""},
		{"hostname", []string{"--hostname", "berthbox"}, []string{"hostname"}, 0, "berthbox", ""},
		{"env and workdir", []string{"-e", "GREETING=hi", "-w", "/tmp"}, []string{"sh", "-c", "echo $GREETING $(pwd)"}, 0, "hi /tmp", ""},
		{"user", []string{"--user", "1:1"}, []string{"id"}, 0, "uid=1(daemon) gid=1(daemon)", ""},
		{"rlimit", nil, []string{"sh", "-c", "ulimit -n"}, 0, "1024", ""},
		{"read-only root", []string{"--read-only"}, []string{"sh", "-c", "touch /x 2>/dev/null || echo read-only"}, 0, "read-only", ""},
		{"default seccomp profile", nil, []string{"grep", "^Seccomp:", "/proc/self/status"}, 0, "Seccomp:\t2", ""},
		{"capabilities dropped", []string{"--cap-drop", "all"}, []string{"grep", "^CapEff:", "/proc/self/status"}, 0, "CapEff:\t0000000000000000", ""},
		{"pid namespace", nil, []string{"sh", "-c", "echo pid=$$"}, 0, "pid=1", ""},
		{"memory limit", []string{"--memory", "64m"}, []string{"cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}, 0, "67108864", ""},
		{"missing command", nil, []string{"/no/such/command"}, 127, "", "/no/such/command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := p.run(t, podmanRunArgs("", false, tc.extra, tc.cmd...)...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d (stdout %q, stderr %q)", code, tc.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.want) {
				t.Errorf("stdout %q lacks %q (stderr %q)", stdout, tc.want, stderr)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.wantErr)
			}
		})
	}
}

func TestPodmanRuntimeLifecycle(t *testing.T) {
	p := newPodman(t)
	name := fmt.Sprintf("berth-podman-%d", time.Now().UnixNano())
	// sh as pid 1 ignores SIGTERM; trap it so that stop ends the container
	// without podman falling back to SIGKILL.
	id := strings.TrimSpace(p.must(t, podmanRunArgs(name, true, nil, "sh", "-c", "trap 'echo bye; exit 0' TERM; echo started; while :; do sleep 1; done")...))
	if len(id) != 64 {
		t.Fatalf("podman run -d printed %q, want a container id", id)
	}

	// The state podman reads back from the runtime.
	pollUntil(t, func() bool { return strings.Contains(p.must(t, "logs", name), "started") }, "the container's first output in podman logs")
	if got := strings.TrimSpace(p.must(t, "inspect", "--format", "{{.State.Status}} {{.OCIRuntime}}", name)); !strings.HasPrefix(got, "running ") || !strings.HasSuffix(got, "berth-runtime") {
		t.Errorf("inspect: %q, want running with berth-runtime", got)
	}
	pid := strings.TrimSpace(p.must(t, "inspect", "--format", "{{.State.Pid}}", name))
	if _, err := os.Stat("/proc/" + pid); err != nil || pid == "0" {
		t.Errorf("container pid %q is not a live host process: %v", pid, err)
	}

	// exec joins the running container: same hostname, same pid namespace.
	if got := p.must(t, "exec", name, "sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '"); !strings.Contains(got, id[:12]) || !strings.Contains(got, "while :") {
		t.Errorf("exec output %q: want the container's hostname %s and its init", got, id[:12])
	}
	if got := p.must(t, "exec", "-e", "X=exec-env", "-w", "/tmp", "--user", "1", name, "sh", "-c", "echo $X $(pwd) $(id -u)"); strings.TrimSpace(got) != "exec-env /tmp 1" {
		t.Errorf("exec with env, workdir, user: %q", got)
	}
	if _, _, code := p.run(t, "exec", name, "sh", "-c", "exit 3"); code != 3 {
		t.Errorf("exec exit code %d, want 3", code)
	}
	// A detached exec keeps running inside the container.
	p.must(t, "exec", "-d", name, "sh", "-c", "echo detached > /tmp/d; sleep 1000")
	pollUntil(t, func() bool {
		out, _, _ := p.run(t, "exec", name, "cat", "/tmp/d")
		return strings.Contains(out, "detached")
	}, "the detached exec's output")

	// top goes through the runtime's view of the container's processes.
	if got := p.must(t, "top", name, "args"); !strings.Contains(got, "sleep 1000") {
		t.Errorf("podman top lacks the detached exec: %q", got)
	}

	// pause and resume (freezer through the runtime).
	p.must(t, "pause", name)
	if got := strings.TrimSpace(p.must(t, "inspect", "--format", "{{.State.Status}}", name)); got != "paused" {
		t.Errorf("after pause: status %q", got)
	}
	p.must(t, "unpause", name)
	if got := strings.TrimSpace(p.must(t, "inspect", "--format", "{{.State.Status}}", name)); got != "running" {
		t.Errorf("after unpause: status %q", got)
	}

	// stop sends SIGTERM through `berth-runtime kill`; the trap answers.
	p.must(t, "stop", "--time", "30", name)
	if got := strings.TrimSpace(p.must(t, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)); got != "exited 0" {
		t.Errorf("after stop: %q, want %q", got, "exited 0")
	}
	if got := p.must(t, "logs", name); !strings.Contains(got, "bye") {
		t.Errorf("logs after stop %q lack the trap's output", got)
	}
	if _, err := os.Stat("/proc/" + pid); err == nil {
		if b, _ := os.ReadFile("/proc/" + pid + "/cmdline"); bytes.Contains(b, []byte("while :")) {
			t.Errorf("container init %s still runs after stop", pid)
		}
	}

	// A stopped container starts again.
	p.must(t, "start", name)
	pollUntil(t, func() bool {
		return strings.Count(p.must(t, "logs", name), "started") == 2
	}, "the restarted container's output")
	p.must(t, "kill", "--signal", "KILL", name)
	p.must(t, "wait", name)

	// rm deletes it from podman and from the runtime.
	p.must(t, "rm", name)
	if _, _, code := p.run(t, "inspect", name); code == 0 {
		t.Errorf("podman inspect %s succeeds after rm", name)
	}
	if _, err := os.Stat(filepath.Join("/run/berth-runtime", id)); !os.IsNotExist(err) {
		t.Errorf("berth-runtime state of %s survives rm: %v", id, err)
	}
}

func TestPodmanRuntimeRmForce(t *testing.T) {
	p := newPodman(t)
	id := strings.TrimSpace(p.must(t, podmanRunArgs("", true, nil, "sleep", "1000")...))
	var ps []struct {
		ID    string `json:"Id"`
		State string `json:"State"`
	}
	if err := json.Unmarshal([]byte(p.must(t, "ps", "--format", "json")), &ps); err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].ID != id || ps[0].State != "running" {
		t.Fatalf("podman ps: %+v, want %s running", ps, id)
	}
	p.must(t, "rm", "--force", "--time", "0", id)
	if out := strings.TrimSpace(p.must(t, "ps", "-a", "-q")); out != "" {
		t.Errorf("containers left after rm -f: %q", out)
	}
	if _, err := os.Stat(filepath.Join("/run/berth-runtime", id)); !os.IsNotExist(err) {
		t.Errorf("berth-runtime state of %s survives rm -f: %v", id, err)
	}
}

// waitFor polls cond until it holds or a deadline passes.
func pollUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
