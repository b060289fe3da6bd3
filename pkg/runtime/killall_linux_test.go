package runtime_test

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/runtime"
)

// startContainer creates and starts a container from spec; it is deleted
// (forced) when the test ends.
func startContainer(t *testing.T, rt *runtime.Runtime, spec *specs.Spec, opts runtime.CreateOptions) (string, int) {
	t.Helper()
	id := uniqueID(t)
	opts.Bundle = testutil.Bundle(t, spec)
	pid, err := rt.Create(id, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Delete(id, true) })
	if err := rt.Start(id); err != nil {
		t.Fatal(err)
	}
	return id, pid
}

// joinPidNS makes spec join the pid namespace of pid instead of creating one.
func joinPidNS(spec *specs.Spec, pid int) {
	for i, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace {
			spec.Linux.Namespaces[i].Path = "/proc/" + strconv.Itoa(pid) + "/ns/pid"
		}
	}
}

// waitPids waits until container id has at least n processes and returns them.
func waitPids(t *testing.T, rt *runtime.Runtime, id string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := rt.Ps(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) >= n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s has processes %v, want %d", id, pids, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// running reports whether pid is a live (not zombie) process.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// A container that joins another's pid namespace is not that namespace's
// pid 1: when its init exits, the kernel leaves its other processes
// running, and berth kills them through the container's cgroup.
func TestSharedPidNSInitExitKillsTheRest(t *testing.T) {
	rt := newRuntime(t)
	owner, ownerPid := startContainer(t, rt, testSpec("sleep", "1000"), runtime.CreateOptions{})

	spec := testSpec("sh", "-c", "sleep 1001 & read x")
	joinPidNS(spec, ownerPid)
	stdin, release, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer release.Close()
	id, pid := startContainer(t, rt, spec, runtime.CreateOptions{Stdin: stdin})
	stdin.Close()
	pids := waitPids(t, rt, id, 2)

	release.Close() // the init reads EOF and exits; its sleep stays behind
	waitStatus(t, rt, id, runtime.Stopped)
	deadline := time.Now().Add(15 * time.Second)
	for {
		var left []int
		for _, p := range pids {
			if p != pid && running(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v of container %s outlived its init", left, id)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st, err := rt.State(owner); err != nil || st.Status != runtime.Running {
		t.Fatalf("the pid namespace's owner: %+v, %v; want it running", st, err)
	}
}

// kill KILL, kill --all and delete --force of a container without a pid
// namespace of its own reach every process of it, and return once they are dead.
func TestSharedPidNSKillReachesEveryProcess(t *testing.T) {
	rt := newRuntime(t)
	owner, ownerPid := startContainer(t, rt, testSpec("sleep", "1000"), runtime.CreateOptions{})
	for _, tc := range []struct {
		name string
		op   func(id string) error
	}{
		{"kill KILL", func(id string) error { return rt.Kill(id, syscall.SIGKILL, false) }},
		{"kill --all KILL", func(id string) error { return rt.Kill(id, syscall.SIGKILL, true) }},
		{"delete --force", func(id string) error { return rt.Delete(id, true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec("sh", "-c", "sleep 1001 & sleep 1002 & exec sleep 1003")
			joinPidNS(spec, ownerPid)
			id, _ := startContainer(t, rt, spec, runtime.CreateOptions{})
			pids := waitPids(t, rt, id, 3)
			if err := tc.op(id); err != nil {
				t.Fatal(err)
			}
			for _, p := range pids {
				if running(p) {
					t.Errorf("pid %d of container %s still runs", p, id)
				}
			}
		})
	}
	if st, err := rt.State(owner); err != nil || st.Status != runtime.Running {
		t.Fatalf("the pid namespace's owner: %+v, %v; want it running", st, err)
	}
}
