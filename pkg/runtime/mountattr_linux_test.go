package runtime_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/runtime"
)

// dirWithSubmount makes a host directory with a tmpfs mounted at sub
// (unmounted when the test ends): what a recursive option must reach.
func dirWithSubmount(t *testing.T) string {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
	return dir
}

// mountOptionsAt returns the per-mount options of the mount at dest in the
// container's mountinfo lines.
func mountOptionsAt(mountinfo, dest string) []string {
	for _, l := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(l)
		if len(f) > 5 && f[4] == dest {
			return strings.Split(f[5], ",")
		}
	}
	return nil
}

func TestRecursiveMountOptions(t *testing.T) {
	rt := newRuntime(t)
	dir := dirWithSubmount(t)
	spec := testSpec("sh", "-c", "cat /proc/self/mountinfo; touch /a/sub/f && echo WRITABLE")
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/a", Type: "bind", Source: dir, Options: []string{"rbind", "rro"}},
		specs.Mount{Destination: "/b", Type: "bind", Source: dir, Options: []string{"rbind", "rnosuid", "rnodev", "rnoexec", "rnoatime", "rnosymfollow"}},
		specs.Mount{Destination: "/c", Type: "bind", Source: dir, Options: []string{"rbind", "rro", "rrw", "rnoatime", "rrelatime"}},
	)
	code, out, err := runOutput(t, rt, spec)
	if err != nil {
		t.Fatalf("run: %v: %s", err, out)
	}
	_ = code
	if strings.Contains(out, "WRITABLE") {
		t.Errorf("the submount under an rro mount is writable")
	}
	has := func(dest string, want ...string) {
		opts := mountOptionsAt(out, dest)
		for _, w := range want {
			found := false
			for _, o := range opts {
				found = found || o == w
			}
			if !found {
				t.Errorf("%s has options %v, want %s", dest, opts, w)
			}
		}
	}
	has("/a", "ro")
	has("/a/sub", "ro")
	has("/b/sub", "nosuid", "nodev", "noexec", "noatime", "nosymfollow")
	has("/c/sub", "rw", "relatime")
}

// idmapDir is a host directory holding root (0:0) and 1000:1000 owned files.
func idmapDir(t *testing.T) string {
	dir := t.TempDir()
	// Reachable by a user namespace's root, for the plain bind mount.
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	for name, id := range map[string]int{"root": 0, "user": 1000} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, id, id); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestIDMapMounts(t *testing.T) { forEachInit(t, testIDMapMounts) }

func testIDMapMounts(t *testing.T) {
	rt := newRuntime(t)
	dir := idmapDir(t)
	for _, tc := range []struct {
		name   string
		userns bool
		mount  specs.Mount
		want   string
	}{
		{"idmap with the container user namespace", true,
			specs.Mount{Destination: "/home", Type: "bind", Source: dir, Options: []string{"rbind", "idmap"}}, "0:0 1000:1000"},
		{"plain bind in a user namespace", true,
			specs.Mount{Destination: "/home", Type: "bind", Source: dir, Options: []string{"rbind"}}, "65534:65534 65534:65534"},
		{"ridmap with mappings of the mount", false,
			specs.Mount{Destination: "/home", Type: "bind", Source: dir, Options: []string{"rbind", "ridmap"},
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 5000, Size: 1}},
				GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 6000, Size: 1}}}, "5000:6000 65534:65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec("stat", "-c", "%u:%g", "/home/root", "/home/user")
			if tc.userns {
				withUserNS(t, spec, 400000)
			}
			spec.Mounts = append(spec.Mounts, tc.mount)
			code, out, err := runBundle(t, rt, uniqueID(t), userBundle(t, spec))
			if err != nil || code != 0 {
				t.Fatalf("run: %d, %v: %s", code, err, out)
			}
			if got := strings.Join(strings.Fields(out), " "); got != tc.want {
				t.Errorf("owners seen in the container: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIDMapMountRefused(t *testing.T) {
	rt := newRuntime(t)
	dir := idmapDir(t)
	for _, tc := range []struct {
		name  string
		mount specs.Mount
	}{
		{"no user namespace and no mappings", specs.Mount{Destination: "/m", Type: "bind", Source: dir, Options: []string{"rbind", "idmap"}}},
		{"not a bind mount", specs.Mount{Destination: "/m", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"},
			UIDMappings: []specs.LinuxIDMapping{{HostID: 5000, Size: 1}}, GIDMappings: []specs.LinuxIDMapping{{HostID: 5000, Size: 1}}}},
		{"mappings without idmap", specs.Mount{Destination: "/m", Type: "bind", Source: dir, Options: []string{"rbind"},
			UIDMappings: []specs.LinuxIDMapping{{HostID: 5000, Size: 1}}, GIDMappings: []specs.LinuxIDMapping{{HostID: 5000, Size: 1}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec("true")
			spec.Mounts = append(spec.Mounts, tc.mount)
			_, _, err := runOutput(t, rt, spec)
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "mounts[") {
				t.Fatalf("run: %v, want an invalid-argument error naming the mount", err)
			}
		})
	}
}

func TestFeaturesAdvertiseMountExtensions(t *testing.T) {
	f := runtime.Features()
	for _, o := range []string{"rro", "rnosuid", "rnodev", "rnoexec", "rrelatime", "rnoatime", "rnosymfollow", "idmap", "ridmap", "nosymfollow", "tmpcopyup", "acl", "noacl"} {
		found := false
		for _, m := range f.MountOptions {
			found = found || m == o
		}
		if !found {
			t.Errorf("features lack mount option %s", o)
		}
	}
	if e := f.Linux.MountExtensions; e == nil || e.IDMap == nil || e.IDMap.Enabled == nil || !*e.IDMap.Enabled {
		t.Errorf("features do not advertise idmapped mounts")
	}
}
