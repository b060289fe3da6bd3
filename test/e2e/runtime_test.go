package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

// TestRuntimeCLI drives berth-runtime the way containerd's shim and conmon
// do: global flags first, a bundle from `spec`, create/start/state/kill/delete.
func TestRuntimeCLI(t *testing.T) {
	testutil.RequireRoot(t)
	rootfs := testutil.BusyboxRootfs(t)
	bundle := filepath.Dir(rootfs)
	root := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "log.json")
	rt := func(args ...string) (string, string, int) {
		return runFiles(t, "berth-runtime", append([]string{"--root", root, "--log", logFile, "--log-format", "json"}, args...)...)
	}
	if _, stderr, code := rt("spec", "--bundle", bundle); code != 0 {
		t.Fatalf("spec: %s", stderr)
	}
	var spec map[string]any
	b, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"sleep", "1000"}
	b, _ = json.Marshal(spec)
	os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644)

	id := fmt.Sprintf("e2e-runtime-%d", time.Now().UnixNano())
	pidFile := filepath.Join(t.TempDir(), "init.pid")
	if _, stderr, code := rt("create", "--bundle", bundle, "--pid-file", pidFile, id); code != 0 {
		t.Fatalf("create: %s", stderr)
	}
	defer rt("delete", "--force", id)
	if _, err := os.Stat(pidFile); err != nil {
		t.Fatalf("pid file: %v", err)
	}
	state := func() map[string]any {
		out, stderr, code := rt("state", id)
		if code != 0 {
			t.Fatalf("state: %s", stderr)
		}
		var st map[string]any
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("state output %q: %v", out, err)
		}
		return st
	}
	st := state()
	for _, k := range []string{"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created"} {
		if _, ok := st[k]; !ok {
			t.Errorf("state lacks %q: %v", k, st)
		}
	}
	if st["status"] != "created" {
		t.Errorf("status %v after create", st["status"])
	}
	if _, stderr, code := rt("start", id); code != 0 {
		t.Fatalf("start: %s", stderr)
	}
	if st := state(); st["status"] != "running" {
		t.Errorf("status %v after start", st["status"])
	}
	if out, _, code := rt("exec", id, "sh", "-c", "echo $((6*7))"); code != 0 || strings.TrimSpace(out) != "42" {
		t.Errorf("exec: %q, %d", out, code)
	}
	if out, _, code := rt("ps", "--format", "json", id); code != 0 || !strings.HasPrefix(out, "[") {
		t.Errorf("ps: %q, %d", out, code)
	}
	if out, _, _ := rt("list", "-q"); strings.TrimSpace(out) != id {
		t.Errorf("list -q: %q", out)
	}
	// Deleting a running container fails, and says why in the --log file
	// as JSON lines, as containerd and conmon expect.
	if _, _, code := rt("delete", id); code == 0 {
		t.Fatal("delete of a running container succeeded")
	}
	lb, _ := os.ReadFile(logFile)
	lines := strings.Split(strings.TrimSpace(string(lb)), "\n")
	var entry map[string]string
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &entry); err != nil || entry["level"] != "error" || entry["msg"] == "" || entry["time"] == "" {
		t.Errorf("log line %q (%v)", lines[len(lines)-1], err)
	}
	if _, stderr, code := rt("kill", id, "KILL"); code != 0 {
		t.Fatalf("kill: %s", stderr)
	}
	if _, stderr, code := rt("delete", "--force", id); code != 0 {
		t.Fatalf("delete: %s", stderr)
	}
	if _, stderr, code := rt("state", id); code == 0 || !strings.Contains(stderr, "does not exist") {
		t.Errorf("state after delete: %d %q", code, stderr)
	}
	// run returns the container's exit code.
	proc["args"] = []string{"sh", "-c", "exit 3"}
	b, _ = json.Marshal(spec)
	os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644)
	if _, stderr, code := rt("run", "--bundle", bundle, id+"-run"); code != 3 {
		t.Errorf("run exit code %d, want 3 (%s)", code, stderr)
	}
	if out, _, code := rt("features"); code != 0 || !strings.Contains(out, `"ociVersionMax"`) {
		t.Errorf("features: %q", out)
	}
}

// runFiles is run with stdout and stderr in files rather than pipes: a
// container's init inherits them and outlives the command (as with runc).
func runFiles(t *testing.T, name string, args ...string) (string, string, int) {
	t.Helper()
	bin := filepath.Join(filepath.Dir(testutil.BerthBinary(t)), name)
	dir := t.TempDir()
	stdout, _ := os.Create(filepath.Join(dir, "stdout"))
	stderr, _ := os.Create(filepath.Join(dir, "stderr"))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	stdout.Close()
	stderr.Close()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s %v: %v", name, args, err)
	}
	o, _ := os.ReadFile(stdout.Name())
	e, _ := os.ReadFile(stderr.Name())
	return string(o), string(e), code
}

// TestRuntimePodman uses berth-runtime as podman's OCI runtime: run, run -d,
// exec (also with a terminal), stop and rm.
func TestRuntimePodman(t *testing.T) {
	testutil.RequireRoot(t)
	podman := testutil.RequireCommand(t, "podman")
	bin := filepath.Join(filepath.Dir(testutil.BerthBinary(t)), "berth-runtime")
	suffix := fmt.Sprint(time.Now().UnixNano())
	image := "localhost/berth-e2e-busybox:" + suffix
	name := "berth-e2e-" + suffix
	pm := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(podman, append([]string{"--runtime", bin}, args...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if out, code := pm("import", testutil.RootfsTar(t), image); code != 0 {
		t.Fatalf("podman import: %s", out)
	}
	defer pm("rmi", "-f", image)
	ulimits := []string{"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}
	out, code := pm(append(append([]string{"run", "--rm"}, ulimits...), image, "sh", "-c", "echo hello-from-podman; grep Seccomp: /proc/self/status")...)
	if code != 0 || !strings.Contains(out, "hello-from-podman") || !strings.Contains(out, "Seccomp:\t2") {
		t.Fatalf("podman run: %d %q", code, out)
	}
	if out, code := pm(append(append([]string{"run", "-d", "--name", name}, ulimits...), image, "sleep", "1000")...); code != 0 {
		t.Fatalf("podman run -d: %s", out)
	}
	defer pm("rm", "-f", name)
	if out, code := pm("exec", name, "sh", "-c", "echo $((2+3))"); code != 0 || strings.TrimSpace(out) != "5" {
		t.Errorf("podman exec: %d %q", code, out)
	}
	if out, code := pm("exec", "-t", name, "tty"); code != 0 || !strings.Contains(out, "/dev/pts/") {
		t.Errorf("podman exec -t: %d %q", code, out)
	}
	if out, code := pm("stop", "-t", "1", name); code != 0 {
		t.Errorf("podman stop: %s", out)
	}
	if out, code := pm("rm", name); code != 0 {
		t.Errorf("podman rm: %s", out)
	}
}
