package runtime_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/cgroups"
	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/runtime"
)

func TestCgroupLifecycle(t *testing.T) {
	rt := newRuntime(t)
	id := uniqueID(t)
	cgPath := "/berth-test/" + id
	limit, pids := int64(64<<20), int64(40)
	spec := testSpec("sleep", "1000")
	spec.Linux.CgroupsPath = cgPath
	spec.Linux.Resources = &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: &limit},
		Pids:    &specs.LinuxPids{Limit: &pids},
	}
	bundle := testutil.Bundle(t, spec)
	pid, err := rt.Create(id, &runtime.CreateOptions{Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Delete(id, true)
	cg, err := cgroups.New(cgPath)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := cg.Pids()
	if err != nil || len(ps) != 1 || ps[0] != pid {
		t.Fatalf("cgroup pids %v (%v), want [%d]", ps, err, pid)
	}
	if err := rt.Start(id); err != nil {
		t.Fatal(err)
	}
	// The container sees its own limits; stdio through the device rules works.
	r, w, _ := os.Pipe()
	code, err := rt.Exec(id, &runtime.ExecOptions{Process: &specs.Process{
		Args: []string{"sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; echo ok > /dev/null && echo devnull-ok"},
		Cwd:  "/", Env: []string{"PATH=/bin"},
	}, Stdout: w, Stderr: w})
	w.Close()
	out, _ := readAll(r)
	if err != nil || code != 0 {
		t.Fatalf("exec: %d %v %q", code, err, out)
	}
	for _, want := range []string{"67108864", "40", "devnull-ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("container output %q lacks %q", out, want)
		}
	}
	newLimit := int64(32 << 20)
	if err := rt.Update(id, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &newLimit}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(cg.Path("memory"), "memory.limit_in_bytes")); strings.TrimSpace(string(b)) != "33554432" {
		t.Errorf("memory limit after update: %q", b)
	}
	if err := rt.Pause(id); err != nil {
		t.Fatal(err)
	}
	if st, _ := rt.State(id); st.Status != runtime.Paused {
		t.Errorf("status after pause: %s", st.Status)
	}
	if err := rt.Resume(id); err != nil {
		t.Fatal(err)
	}
	if st, _ := rt.State(id); st.Status != runtime.Running {
		t.Errorf("status after resume: %s", st.Status)
	}
	ev, err := rt.Stats(id)
	if err != nil || ev.Type != "stats" || ev.Data == nil {
		t.Errorf("stats: %+v, %v", ev, err)
	}
	if err := rt.Delete(id, true); err != nil {
		t.Fatal(err)
	}
	if cg.Exists() {
		t.Error("cgroup left behind after delete")
	}
}

func TestCgroupLimitHostCannotApply(t *testing.T) {
	rt := newRuntime(t)
	id := uniqueID(t)
	cgPath := "/berth-test/" + id
	spec := testSpec("true")
	spec.Linux.CgroupsPath = cgPath
	spec.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "4000-4001"}}
	bundle := testutil.Bundle(t, spec)
	_, err := rt.Create(id, &runtime.CreateOptions{Bundle: bundle})
	if err == nil {
		rt.Delete(id, true)
		t.Fatal("create accepted cpus the host does not have")
	}
	if !strings.Contains(err.Error(), "cpus") {
		t.Errorf("error %q does not name the field", err)
	}
	cg, _ := cgroups.New(cgPath)
	if cg.Exists() {
		cg.Destroy()
		t.Error("cgroup left behind")
	}
	if _, serr := rt.State(id); !errors.Is(serr, errdefs.ErrNotFound) {
		t.Errorf("state left behind: %v", serr)
	}
}
