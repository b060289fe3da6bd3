package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// validationSubset are the runtime-tools validation programs the test runs by
// default: one or more per area of the spec (lifecycle, state, kill, hooks,
// namespaces, mounts, devices, cgroups, process attributes), chosen so the
// run stays within a few minutes. BERTH_RTCONF_FULL=1 runs every program.
// killsig is left out: on a loaded machine it races (the suite signals the
// container before its shell has set the trap) and flakes for runc as well.
var validationSubset = []string{
	"create", "start", "state", "delete", "kill", "pidfile",
	"default", "hostname", "mounts", "linux_devices", "linux_masked_paths",
	"linux_readonly_paths", "linux_ns_path", "linux_ns_itype", "linux_sysctl",
	"linux_uid_mappings", "linux_cgroups_cpus", "linux_cgroups_memory",
	"linux_cgroups_pids", "linux_cgroups_devices", "process_user",
	"process_rlimits", "process_capabilities", "root_readonly_true",
	"prestart", "poststart", "poststop", "hooks_stdin",
}

// knownFailure is one line of testdata/runtime-validation-known-failures.txt.
type knownFailure struct {
	program, kind, check, reason string
}

func loadKnownFailures(t *testing.T) []knownFailure {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "runtime-validation-known-failures.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []knownFailure
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "|", 4)
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		if len(parts) != 4 || (parts[1] != "fail" && parts[1] != "crash") || parts[3] == "" {
			t.Fatalf("known failures line %d: want `program | fail|crash | check | reason`: %q", n, line)
		}
		out = append(out, knownFailure{parts[0], parts[1], parts[2], parts[3]})
	}
	return out
}

var notOK = regexp.MustCompile(`^not ok(?: [0-9]+)? - (.*)$`)

// TestRuntimeValidation runs the OCI runtime-tools validation suite
// (scripts/runtime-validation.sh) against berth-runtime and fails on any
// failed check or crashed program that the known-failures list does not
// name with a reason.
func TestRuntimeValidation(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "go")
	testutil.RequireCommand(t, "unshare")
	if testing.Short() {
		t.Skip("the validation suite takes minutes")
	}
	known := loadKnownFailures(t)
	rt := filepath.Join(filepath.Dir(testutil.BerthBinary(t)), "berth-runtime")
	out := t.TempDir()
	args := []string{rt}
	if os.Getenv("BERTH_RTCONF_FULL") == "" {
		args = append(args, validationSubset...)
	}
	cmd := exec.Command(filepath.Join(testutil.RepoRoot(), "scripts", "runtime-validation.sh"), args...)
	cmd.Env = append(os.Environ(), "RTCONF_OUT="+out)
	table, err := cmd.CombinedOutput()
	t.Logf("%s", table)
	if err != nil {
		t.Fatalf("runtime-validation.sh: %v", err)
	}

	results, err := os.ReadFile(filepath.Join(out, "results.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	allowed := func(program, kind, check string) *knownFailure {
		for i, k := range known {
			if k.program == program && k.kind == kind && (kind == "crash" || k.check == check) {
				return &known[i]
			}
		}
		return nil
	}
	used := map[*knownFailure]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(results)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 6 {
			t.Fatalf("results.tsv line %q", line)
		}
		if f[1] != "crash" {
			continue
		}
		if k := allowed(f[0], "crash", ""); k != nil {
			used[k] = true
			continue
		}
		// A program that prints nothing and exits 0 had a container whose
		// process never ran: the container's stderr, which the suite
		// throws away and the script keeps, says why.
		stderr, _ := os.ReadFile(filepath.Join(out, f[0]+".stderr"))
		tap, _ := os.ReadFile(filepath.Join(out, f[0]+".tap"))
		cstderr, _ := os.ReadFile(filepath.Join(out, f[0]+".container-stderr"))
		t.Errorf("validation program %s crashed (not a known failure; exit status %s):\nTAP:\n%s\nstderr:\n%s\ncontainer stderr:\n%s", f[0], f[5], tap, stderr, head(cstderr, 60))
	}
	fails, err := os.ReadFile(filepath.Join(out, "fails.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(fails)), "\n") {
		if line == "" {
			continue
		}
		program, rest, _ := strings.Cut(line, "\t")
		m := notOK.FindStringSubmatch(rest)
		if m == nil {
			t.Fatalf("fails.txt line %q", line)
		}
		check := strings.TrimSpace(m[1])
		if k := allowed(program, "fail", check); k != nil {
			used[k] = true
			continue
		}
		tap, _ := os.ReadFile(filepath.Join(out, program+".tap"))
		t.Errorf("%s: check failed (not a known failure): %s\nTAP:\n%s", program, check, tap)
	}
	// Known failures that no longer happen: say so, so the list shrinks.
	ran := map[string]bool{}
	for _, a := range args[1:] {
		ran[a] = true
	}
	var gone []string
	for i, k := range known {
		if (len(args) == 1 || ran[k.program]) && !used[&known[i]] {
			gone = append(gone, k.program+" | "+k.kind+" | "+k.check)
		}
	}
	sort.Strings(gone)
	for _, g := range gone {
		t.Logf("known failure did not happen (remove it from the list?): %s", g)
	}
}

// head returns the first n lines of b.
func head(b []byte, n int) string {
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...\n")
	}
	return strings.Join(lines, "")
}
