package runtime_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/runtime"
)

// withUserNS gives spec a new user namespace mapping 0..65535 to host
// ids from base, and makes its bundle reachable by that namespace's root.
func withUserNS(t *testing.T, spec *specs.Spec, base uint32) {
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: 65536}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: 65536}}
}

// userBundle writes spec's bundle with every parent directory searchable,
// so that the user namespace's root can reach the rootfs.
func userBundle(t *testing.T, spec *specs.Spec) string {
	bundle := testutil.Bundle(t, spec)
	for d := bundle; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	return bundle
}

// setPath makes spec join the namespace of type typ at path.
func setPath(spec *specs.Spec, typ specs.LinuxNamespaceType, path string) {
	for i, ns := range spec.Linux.Namespaces {
		if ns.Type == typ {
			spec.Linux.Namespaces[i].Path = path
			return
		}
	}
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: typ, Path: path})
}

// A pod's container: it joins the pod's network namespace by path
// and has a user namespace of its own (podman's pods with --userns).
func TestJoinNamespacesWithNewUserNamespace(t *testing.T) {
	forEachInit(t, testJoinNamespacesWithNewUserNamespace)
}

func testJoinNamespacesWithNewUserNamespace(t *testing.T) {
	rt := newRuntime(t)
	_, ownerPid := startContainer(t, rt, testSpec("sleep", "1000"), runtime.CreateOptions{})
	nsOf := func(pid int, name string) string {
		l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	spec := testSpec("sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/user; cat /proc/self/uid_map; id -u; hostname")
	spec.Hostname = ""
	withUserNS(t, spec, 300000)
	setPath(spec, specs.NetworkNamespace, "/proc/"+strconv.Itoa(ownerPid)+"/ns/net")
	bundle := userBundle(t, spec)
	id := uniqueID(t)
	code, out, err := runBundle(t, rt, id, bundle)
	if err != nil || code != 0 {
		t.Fatalf("run: %d, %v: %s", code, err, out)
	}
	f := strings.Fields(out)
	if len(f) < 6 {
		t.Fatalf("output %q", out)
	}
	if f[0] != nsOf(ownerPid, "net") {
		t.Errorf("network namespace %s, want the pod's %s", f[0], nsOf(ownerPid, "net"))
	}
	if f[1] == nsOf(os.Getpid(), "user") {
		t.Errorf("the container is in the host's user namespace %s", f[1])
	}
	if f[2] != "0" || f[3] != "300000" || f[4] != "65536" || f[5] != "0" {
		t.Errorf("uid map and uid in the container: %q", out)
	}
}

// Exec into such a container joins the host-owned network namespace and
// the container's own user namespace.
func TestExecWithJoinedNamespacesAndNewUserNamespace(t *testing.T) {
	forEachInit(t, testExecWithJoinedNamespacesAndNewUserNamespace)
}

func testExecWithJoinedNamespacesAndNewUserNamespace(t *testing.T) {
	rt := newRuntime(t)
	_, ownerPid := startContainer(t, rt, testSpec("sleep", "1000"), runtime.CreateOptions{})
	spec := testSpec("sleep", "1000")
	spec.Hostname = ""
	withUserNS(t, spec, 300000)
	setPath(spec, specs.NetworkNamespace, "/proc/"+strconv.Itoa(ownerPid)+"/ns/net")
	id := uniqueID(t)
	if _, err := rt.Create(id, &runtime.CreateOptions{Bundle: userBundle(t, spec)}); err != nil {
		t.Fatal(err)
	}
	defer rt.Delete(id, true)
	if err := rt.Start(id); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := *spec.Process
	p.Args = []string{"sh", "-c", "readlink /proc/self/ns/net; cat /proc/self/uid_map"}
	code, err := rt.Exec(id, &runtime.ExecOptions{Process: &p, Stdout: w, Stderr: w})
	w.Close()
	b, _ := io.ReadAll(r)
	if err != nil || code != 0 {
		t.Fatalf("exec: %d, %v: %s", code, err, b)
	}
	want, _ := os.Readlink("/proc/" + strconv.Itoa(ownerPid) + "/ns/net")
	if f := strings.Fields(string(b)); len(f) < 4 || f[0] != want || f[2] != "300000" {
		t.Errorf("exec sees %q, want net %s and the container's uid map", b, want)
	}
}

// What the kernel cannot do with a new user namespace is refused up front,
// naming the field.
func TestJoinWithNewUserNamespaceRefused(t *testing.T) {
	rt := newRuntime(t)
	_, ownerPid := startContainer(t, rt, testSpec("sleep", "1000"), runtime.CreateOptions{})
	ns := func(name string) string { return "/proc/" + strconv.Itoa(ownerPid) + "/ns/" + name }
	for _, tc := range []struct {
		name   string
		mutate func(*specs.Spec)
		want   string
	}{
		{"mount", func(s *specs.Spec) { setPath(s, specs.MountNamespace, ns("mnt")) }, "linux.namespaces"},
		{"uts with hostname", func(s *specs.Spec) { setPath(s, specs.UTSNamespace, ns("uts")); s.Hostname = "x" }, "hostname"},
		{"pid with proc", func(s *specs.Spec) { setPath(s, specs.PIDNamespace, ns("pid")) }, "mounts[0]: proc"},
		{"ipc with mqueue", func(s *specs.Spec) { setPath(s, specs.IPCNamespace, ns("ipc")) }, "mqueue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec("true")
			spec.Hostname = ""
			withUserNS(t, spec, 300000)
			tc.mutate(spec)
			id := uniqueID(t)
			_, err := rt.Create(id, &runtime.CreateOptions{Bundle: userBundle(t, spec)})
			if err == nil {
				rt.Delete(id, true)
				t.Fatal("create succeeded")
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("create: %v, want an invalid-argument error naming %s", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(rt.Root(), id)); !os.IsNotExist(err) {
				t.Errorf("state dir left behind: %v", err)
			}
		})
	}
}
