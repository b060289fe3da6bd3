package runtimecli

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

func TestMain_versionAndUsage(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{[]string{Name, "--version"}, 0, "berth-runtime version ", ""},
		{[]string{Name, "state"}, 125, "", `"berth-runtime state" requires exactly 1 argument(s)`},
		{[]string{Name, "list", "extra"}, 125, "", "accepts no arguments"},
		{[]string{Name, "--systemd-cgroup", "--root", "/nonexistent-berth-root", "list"}, 1, "", "systemd cgroup driver is not supported"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(context.Background(), tt.args, &out, &errb)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, errb.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout %q, want it to contain %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", errb.String(), tt.wantErr)
			}
		})
	}
}

// TestLeanDeps keeps cmd/berth-runtime lean: every package it links that is
// not the standard library must be one of the runtime's own dependencies.
func TestLeanDeps(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go toolchain not on PATH")
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./cmd/berth-runtime")
	cmd.Dir = testutil.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{
		"github.com/berth/berth/cmd/berth-runtime",
		"github.com/berth/berth/internal/runtimecli",
		"github.com/berth/berth/internal/version",
		"github.com/berth/berth/internal/cliargs",
		"github.com/berth/berth/pkg/mountinfo",
		"github.com/berth/berth/pkg/runtime",
		"github.com/berth/berth/pkg/cgroups",
		"github.com/berth/berth/pkg/seccomp",
		"github.com/berth/berth/pkg/errdefs",
		"github.com/opencontainers/runtime-spec/",
		"github.com/spf13/cobra",
		"github.com/spf13/pflag",
		"golang.org/x/sys/",
	}
	for _, p := range strings.Fields(string(out)) {
		ok := false
		for _, a := range allowed {
			if p == a || strings.HasPrefix(p, strings.TrimSuffix(a, "/")+"/") || (strings.HasSuffix(a, "/") && strings.HasPrefix(p, a)) {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("berth-runtime links %s; keep it to the runtime's own dependencies", p)
		}
	}
}
