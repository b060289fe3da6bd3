package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

// TestContainerdRuntime runs containers through containerd's runc shim
// (io.containerd.runc.v2) with berth-runtime as its runc binary: a private
// containerd (own root, state and socket), ctr run --rm, and a detached
// task through exec, ps, pause, resume, kill and delete.
func TestContainerdRuntime(t *testing.T) {
	testutil.RequireRoot(t)
	containerd := testutil.RequireCommand(t, "containerd")
	ctrBin := testutil.RequireCommand(t, "ctr")
	testutil.RequireCommand(t, "containerd-shim-runc-v2")
	rt := filepath.Join(filepath.Dir(testutil.BerthBinary(t)), "berth-runtime")
	rootfs := testutil.BusyboxRootfs(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "containerd.sock")
	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	daemon := exec.Command(containerd, "--config", filepath.Join(dir, "config.toml"))
	daemon.Stdout, daemon.Stderr = &log, &log
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		daemon.Process.Kill()
		daemon.Wait()
		if t.Failed() {
			t.Logf("containerd log:\n%s", log.String())
		}
	})
	ns := fmt.Sprintf("berth-%d", time.Now().UnixNano())
	// The shim keeps berth-runtime's state root per namespace.
	t.Cleanup(func() { os.Remove(filepath.Join("/run/containerd/runc", ns)) })
	ctr := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := exec.Command(ctrBin, append([]string{"--address", sock, "--namespace", ns}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	pollUntil(t, func() bool { _, err := ctr("version"); return err == nil }, "containerd to serve")

	out, err := ctr("run", "--rm", "--runc-binary", rt, "--rootfs", rootfs, "once", "sh", "-c", "echo hello from containerd; echo pid=$$")
	if err != nil || !strings.Contains(out, "hello from containerd") || !strings.Contains(out, "pid=1") {
		t.Fatalf("ctr run --rm: %v: %q", err, out)
	}

	if out, err := ctr("run", "-d", "--runc-binary", rt, "--rootfs", rootfs, "svc", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"); err != nil {
		t.Fatalf("ctr run -d: %v: %s", err, out)
	}
	status := func() string {
		out, _ := ctr("task", "ls")
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "svc" {
				return f[2]
			}
		}
		return ""
	}
	if s := status(); s != "RUNNING" {
		t.Fatalf("task status %q, want RUNNING", s)
	}
	if out, err := ctr("task", "exec", "--exec-id", "e1", "svc", "sh", "-c", "echo in-exec; cat /proc/1/cmdline"); err != nil || !strings.Contains(out, "in-exec") || !strings.Contains(out, "trap") {
		t.Errorf("ctr task exec: %v: %q", err, out)
	}
	if out, err := ctr("task", "ps", "svc"); err != nil || len(strings.Split(strings.TrimSpace(out), "\n")) < 2 {
		t.Errorf("ctr task ps: %v: %q", err, out)
	}
	if out, err := ctr("task", "pause", "svc"); err != nil || status() != "PAUSED" {
		t.Errorf("ctr task pause: %v: %q, status %q", err, out, status())
	}
	if out, err := ctr("task", "resume", "svc"); err != nil || status() != "RUNNING" {
		t.Errorf("ctr task resume: %v: %q, status %q", err, out, status())
	}
	if out, err := ctr("task", "kill", "svc"); err != nil {
		t.Errorf("ctr task kill: %v: %s", err, out)
	}
	pollUntil(t, func() bool { return status() == "STOPPED" }, "the task to stop after SIGTERM")
	if out, err := ctr("task", "delete", "svc"); err != nil {
		t.Errorf("ctr task delete: %v: %s", err, out)
	}
	if out, err := ctr("container", "rm", "svc"); err != nil {
		t.Errorf("ctr container rm: %v: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join("/run/containerd/runc", ns, "svc")); !os.IsNotExist(err) {
		t.Errorf("berth-runtime state of svc survives delete: %v", err)
	}
}
