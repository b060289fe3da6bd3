// Package e2e drives the built berth binary the way a user does.
package e2e

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// run executes the berth binary (or another name beside it) and returns stdout, stderr and the exit code.
func run(t *testing.T, name string, args ...string) (string, string, int) {
	t.Helper()
	bin := filepath.Join(filepath.Dir(testutil.BerthBinary(t)), name)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s %v: %v", name, args, err)
	}
	return stdout.String(), stderr.String(), code
}

func TestCLIBasics(t *testing.T) {
	for _, tc := range []struct {
		name       string
		prog       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"help", "berth", []string{"--help"}, 0, "Usage:", ""},
		{"version", "berth", []string{"version"}, 0, "berth version ", ""},
		{"version json", "berth", []string{"version", "--format", "json"}, 0, `"goVersion":"go`, ""},
		{"unknown flag", "berth", []string{"version", "--nope"}, 125, "", "unknown flag: --nope"},
		{"bad log level", "berth", []string{"--log-level", "loud", "version"}, 125, "", "invalid --log-level"},
		{"unknown command", "berth", []string{"frobnicate"}, 1, "", `unknown command "frobnicate"`},
		{"runtime version", "berth-runtime", []string{"--version"}, 0, "spec: 1.", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tc.prog, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.wantCode, stderr)
			}
			if !strings.Contains(stdout, tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout, tc.wantStdout)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.wantStderr)
			}
		})
	}
}
