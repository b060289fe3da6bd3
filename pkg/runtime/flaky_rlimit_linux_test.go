package runtime_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/runtime"
)

// The runtime-tools program process_rlimits printed nothing now and then on
// a loaded machine (docs/runtime-conformance.md, "The silent crash"): the
// Go init set process.rlimits at create time, long before it exec'd the
// container's process, and RLIMIT_AS (1 GiB there) was already below the
// address space the Go runtime had reserved (about 1.2 GiB), so any later
// mmap of the runtime failed. Whenever the init's heap had to grow before
// the exec (compiling seccomp, converting args and environment), it died
// with "fatal error: runtime: out of memory" on the container's stderr,
// which that program never shows; when the scheduler started a thread
// (a system call that blocked a moment under load), with "pthread_create
// failed". Now the memory limits are set by the init's last raw system
// calls before execve (rlimit_linux.go).
//
// These containers make the init allocate many megabytes after the point
// where the old init had set the limits (an environment of 5 MiB,
// converted for execve), so the old init failed every time, not only under
// load; with the limits set just before execve they must run.

// bigEnv returns n environment entries of 127 KiB each (execve takes at most
// 128 KiB per string).
func bigEnv(n int) []string {
	val := strings.Repeat("x", 127<<10)
	env := make([]string, n)
	for i := range env {
		env[i] = fmt.Sprintf("BIG%03d=%s", i, val)
	}
	return env
}

func TestRlimitsAddressSpaceBelowInit(t *testing.T) {
	rt := newRuntime(t)
	var stack unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &stack); err != nil {
		t.Fatal(err)
	}
	const mib = 1 << 20
	if stack.Max < 64*mib {
		t.Skipf("hard RLIMIT_STACK %d is below the 64 MiB this test needs for a large environment", stack.Max)
	}
	for _, tc := range []struct {
		name    string
		rlimits []specs.POSIXRlimit
		env     int
		args    []string
		want    string
	}{
		{
			// execve allows args and environment of a quarter of
			// RLIMIT_STACK, at most 6 MiB: 40 x 127 KiB need more
			// than the usual 8 MiB of stack.
			name: "address space 256 MiB and 5 MiB environment",
			rlimits: []specs.POSIXRlimit{
				{Type: "RLIMIT_AS", Soft: 256 * mib, Hard: 256 * mib},
				{Type: "RLIMIT_STACK", Soft: 64 * mib, Hard: stack.Max},
			},
			env:  40,
			args: []string{"sh", "-c", "echo as=$(ulimit -v) big=${#BIG039}"},
			want: fmt.Sprintf("as=%d big=%d", 256*1024, 127<<10),
		},
		{
			// The limits of runtime-tools' process_rlimits program.
			name: "process_rlimits",
			rlimits: []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Soft: 3000, Hard: 4000},
				{Type: "RLIMIT_AS", Soft: 1 << 30, Hard: 2 << 30},
				{Type: "RLIMIT_CORE", Soft: 3 << 30, Hard: 4 << 30},
				{Type: "RLIMIT_DATA", Soft: 5 << 30, Hard: 6 << 30},
				{Type: "RLIMIT_FSIZE", Soft: 7 << 30, Hard: 8 << 30},
				{Type: "RLIMIT_STACK", Soft: 9 << 30, Hard: min(10<<30, stack.Max)},
				{Type: "RLIMIT_CPU", Soft: 60, Hard: 120},
			},
			env:  40,
			args: []string{"sh", "-c", "echo nofile=$(ulimit -n) as=$(ulimit -v) cpu=$(ulimit -t)"},
			want: fmt.Sprintf("nofile=3000 as=%d cpu=60", 1<<20),
		},
		{
			// Limits that do not constrain memory take the same path.
			name:    "data segment 64 MiB",
			rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_DATA", Soft: 64 * mib, Hard: 64 * mib}, {Type: "RLIMIT_STACK", Soft: 32 * mib, Hard: stack.Max}},
			env:     40,
			args:    []string{"sh", "-c", "echo data=$(ulimit -d)"},
			want:    fmt.Sprintf("data=%d", 64*1024),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec(tc.args...)
			spec.Process.Rlimits = tc.rlimits
			spec.Process.Env = append(spec.Process.Env, bigEnv(tc.env)...)
			code, out, err := runOutput(t, rt, spec)
			if err != nil {
				t.Fatal(err)
			}
			if code != 0 || !strings.Contains(out, tc.want) {
				if len(out) > 2000 {
					out = out[:2000] + "..."
				}
				t.Fatalf("exit %d, want 0 and %q; output:\n%s", code, tc.want, out)
			}
		})
	}
}

// TestRlimitsNofileInherited: without RLIMIT_NOFILE in process.rlimits the
// container keeps the soft limit its caller's children get (the Go runtime
// raises its own at start and puts it back for what it execs; the init must
// do the same when it execs without the syscall package's help).
func TestRlimitsNofileInherited(t *testing.T) {
	rt := newRuntime(t)
	// The Go runtime raises a soft limit below the hard one: make ours so
	// for the test (nothing else of this test binary runs meanwhile).
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < 2048 {
		t.Skipf("hard RLIMIT_NOFILE %d is too low for this test", lim.Max)
	}
	low := lim
	low.Cur = min(lim.Cur, 1000)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &lim) })
	want, err := exec.Command("sh", "-c", "ulimit -n").Output()
	if err != nil {
		t.Fatal(err)
	}
	spec := testSpec("sh", "-c", "ulimit -n")
	spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 0, Hard: 0}}
	code, out, err := runOutput(t, rt, spec)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || strings.TrimSpace(out) != strings.TrimSpace(string(want)) {
		t.Fatalf("container's soft RLIMIT_NOFILE: exit %d, output %q; want %q (what sh started by the caller sees)", code, out, want)
	}
}

// TestRlimitsRefusedAtCreate: limits are set only just before execve, so
// create must refuse, naming the field, what setrlimit would refuse then.
func TestRlimitsRefusedAtCreate(t *testing.T) {
	rt := newRuntime(t)
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err != nil {
		t.Fatal(err)
	}
	canRaise := caps[unix.CAP_SYS_RESOURCE/32].Effective&(1<<(unix.CAP_SYS_RESOURCE%32)) != 0
	for _, tc := range []struct {
		name    string
		rlimits []specs.POSIXRlimit
		skip    string
		want    string
	}{
		{"given twice", []specs.POSIXRlimit{{Type: "RLIMIT_CORE"}, {Type: "RLIMIT_CORE"}}, "", "RLIMIT_CORE is given twice"},
		{"hard nofile above fs.nr_open", []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1 << 40}}, "", "process.rlimits RLIMIT_NOFILE"},
		{"raised hard limit without CAP_SYS_RESOURCE", []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: nofile.Max + 1}},
			map[bool]string{true: "we hold CAP_SYS_RESOURCE: raising is allowed"}[canRaise], "process.rlimits RLIMIT_NOFILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			spec := testSpec("true")
			spec.Process.Rlimits = tc.rlimits
			id := uniqueID(t)
			_, err := rt.Create(id, &runtime.CreateOptions{Bundle: testutil.Bundle(t, spec)})
			if err == nil {
				rt.Delete(id, true)
				t.Fatal("create succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestRlimitsExecAddressSpace: exec into a running container takes the same
// last steps as the init (and failed the same way).
func TestRlimitsExecAddressSpace(t *testing.T) {
	rt := newRuntime(t)
	var stack unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &stack); err != nil {
		t.Fatal(err)
	}
	if stack.Max < 64<<20 {
		t.Skipf("hard RLIMIT_STACK %d is below the 64 MiB this test needs for a large environment", stack.Max)
	}
	id := uniqueID(t)
	if _, err := rt.Create(id, &runtime.CreateOptions{Bundle: testutil.Bundle(t, testSpec("sleep", "1000"))}); err != nil {
		t.Fatal(err)
	}
	defer rt.Delete(id, true)
	if err := rt.Start(id); err != nil {
		t.Fatal(err)
	}
	const mib = 1 << 20
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &specs.Process{
		Args: []string{"sh", "-c", "echo as=$(ulimit -v) big=${#BIG039}"},
		Cwd:  "/",
		Env:  append([]string{"PATH=/bin"}, bigEnv(40)...),
		Rlimits: []specs.POSIXRlimit{
			{Type: "RLIMIT_AS", Soft: 256 * mib, Hard: 256 * mib},
			{Type: "RLIMIT_STACK", Soft: 64 * mib, Hard: stack.Max},
		},
	}
	code, err := rt.Exec(id, &runtime.ExecOptions{Process: p, Stdout: w, Stderr: w})
	w.Close()
	out, _ := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("as=%d big=%d", 256*1024, 127<<10); code != 0 || !strings.Contains(string(out), want) {
		if len(out) > 2000 {
			out = out[:2000]
		}
		t.Fatalf("exit %d, want 0 and %q; output:\n%s", code, want, out)
	}
}
