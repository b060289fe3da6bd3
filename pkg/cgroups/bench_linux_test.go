package cgroups

import (
	"fmt"
	"os/exec"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
)

// BenchmarkLifecycle measures what a container start and delete cost in
// cgroup work: New, Set (memory, cpu, pids), Apply of a process, Signal,
// Destroy.
func BenchmarkLifecycle(b *testing.B) {
	testutil.RequireRoot(b)
	base := uniquePath(b)
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(256 << 20)},
		CPU:    &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000)},
		Pids:   &specs.LinuxPids{Limit: i64(100)},
	}
	var cur Manager
	b.Cleanup(func() {
		if cur != nil {
			_ = cur.Signal(syscall.SIGKILL)
			_ = cur.Destroy()
		}
	})
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		m, err := New(fmt.Sprintf("%s-%d", base, i))
		if err != nil {
			b.Fatal(err)
		}
		cur = m
		if err := m.Set(r); err != nil {
			b.Fatal(err)
		}
		if err := m.Apply(cmd.Process.Pid); err != nil {
			b.Fatal(err)
		}
		if err := m.Signal(syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		_ = cmd.Wait()
		if err := m.Destroy(); err != nil {
			b.Fatal(err)
		}
	}
}
