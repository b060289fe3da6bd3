package runtime_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/runtime"
)

func TestUserNamespace(t *testing.T) { forEachInit(t, testUserNamespace) }

func testUserNamespace(t *testing.T) {
	rt := newRuntime(t)
	spec := testSpec("sh", "-c", "id -u; cat /proc/self/uid_map; grep CapEff /proc/self/status")
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	spec.Root.Readonly = false
	bundle := testutil.Bundle(t, spec)
	// The namespace's root (host uid 200000) must be able to reach the rootfs.
	for d := bundle; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	code, out, err := runBundle(t, rt, uniqueID(t), bundle)
	if err != nil || code != 0 {
		t.Fatalf("run: %d, %v: %s", code, err, out)
	}
	fields := strings.Fields(out)
	if len(fields) < 4 || fields[0] != "0" || fields[1] != "0" || fields[2] != "200000" || fields[3] != "65536" {
		t.Errorf("uid and map in the container: %q", out)
	}
	if !strings.Contains(out, "CapEff:\t0000000020000420") {
		t.Errorf("capabilities in the user namespace: %q", out)
	}
}

func TestHooks(t *testing.T) { forEachInit(t, testHooks) }

func testHooks(t *testing.T) {
	rt := newRuntime(t)
	dir := t.TempDir()
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + filepath.Join(dir, name)}}
	}
	spec := testSpec("sh", "-c", "cat /tmp/started")
	spec.Root.Readonly = false
	spec.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{hook("prestart")},
		CreateRuntime:   []specs.Hook{hook("createRuntime")},
		CreateContainer: []specs.Hook{hook("createContainer")},
		// startContainer runs inside the container, after pivot_root.
		StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo start-hook-ran > /tmp/started"}}},
		Poststart:      []specs.Hook{hook("poststart")},
		Poststop:       []specs.Hook{hook("poststop")},
	}
	id := uniqueID(t)
	code, out, err := runBundle(t, rt, id, testutil.Bundle(t, spec))
	if err != nil || code != 0 {
		t.Fatalf("run: %d, %v: %s", code, err, out)
	}
	if !strings.Contains(out, "start-hook-ran") {
		t.Errorf("startContainer hook did not run in the container: %q", out)
	}
	for _, name := range []string{"prestart", "createRuntime", "createContainer", "poststart", "poststop"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("hook %s did not run: %v", name, err)
			continue
		}
		var st specs.State
		if err := json.Unmarshal(b, &st); err != nil || st.ID != id {
			t.Errorf("hook %s got state %q (%v)", name, b, err)
		}
	}

	// A failing hook fails create and leaves nothing behind.
	spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
	bundle := testutil.Bundle(t, spec)
	id = uniqueID(t)
	if _, err := rt.Create(id, &runtime.CreateOptions{Bundle: bundle}); err == nil || !strings.Contains(err.Error(), "hooks.createRuntime[0]") {
		t.Fatalf("create with a failing hook: %v", err)
	}
	if _, err := os.Stat(filepath.Join(rt.Root(), id)); !os.IsNotExist(err) {
		t.Errorf("state dir left behind")
	}
}

func TestConsoleSocket(t *testing.T) {
	rt := newRuntime(t)
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	spec := testSpec("sh", "-c", "tty; echo hello-from-tty; sleep 100")
	spec.Process.Terminal = true
	spec.Process.ConsoleSize = &specs.Box{Height: 33, Width: 99}
	bundle := testutil.Bundle(t, spec)
	id := uniqueID(t)
	got := make(chan *os.File, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			got <- nil
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) != 1 {
			got <- nil
			return
		}
		fds, _ := unix.ParseUnixRights(&msgs[0])
		got <- os.NewFile(uintptr(fds[0]), "pty-master")
	}()
	if _, err := rt.Create(id, &runtime.CreateOptions{Bundle: bundle, ConsoleSocket: sock}); err != nil {
		t.Fatal(err)
	}
	defer rt.Delete(id, true)
	master := <-got
	if master == nil {
		t.Fatal("no pty master arrived on the console socket")
	}
	defer master.Close()
	ws, err := unix.IoctlGetWinsize(int(master.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row != 33 || ws.Col != 99 {
		t.Errorf("console size %+v (%v), want 33x99", ws, err)
	}
	if err := rt.Start(id); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	buf := make([]byte, 256)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "hello-from-tty") && time.Now().Before(deadline) {
		master.SetReadDeadline(deadline)
		n, err := master.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(out.String(), "/dev/pts/0") || !strings.Contains(out.String(), "hello-from-tty") {
		t.Errorf("terminal output %q", out.String())
	}
}

func TestPreserveFDs(t *testing.T) {
	rt := newRuntime(t)
	spec := testSpec("sh", "-c", "echo through-fd-3 >&3; ls /proc/self/fd")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bundle := testutil.Bundle(t, spec)
	outR, outW, _ := os.Pipe()
	code, err := rt.Run(uniqueID(t), &runtime.CreateOptions{Bundle: bundle, Stdout: outW, Stderr: outW, ExtraFiles: []*os.File{w}}, false)
	w.Close()
	outW.Close()
	if err != nil || code != 0 {
		t.Fatalf("run: %d, %v", code, err)
	}
	got, _ := readAll(r)
	if got != "through-fd-3\n" {
		t.Errorf("fd 3 carried %q", got)
	}
	fds, _ := readAll(outR)
	if strings.Fields(fds)[4] != "4" || len(strings.Fields(fds)) != 5 {
		t.Errorf("fds in the container: %q, want 0-3 and ls's own", fds)
	}
}

// In the foreground without a console socket, Run proxies the pty itself.
func TestRunTerminalProxy(t *testing.T) {
	rt := newRuntime(t)
	spec := testSpec("sh", "-c", "tty; echo via-pty; exit 6")
	spec.Process.Terminal = true
	code, out, err := runOutput(t, rt, spec)
	if err != nil || code != 6 {
		t.Fatalf("run: %d %v %q", code, err, out)
	}
	if !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "via-pty") {
		t.Errorf("terminal output %q", out)
	}
}
