package monitor

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// TestLeanDeps keeps cmd/berth-monitor lean: it must not link the image
// store, the builder, the registry, the network manager or their libraries;
// what needs them it asks of the full berth.
func TestLeanDeps(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go toolchain not on PATH")
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./cmd/berth-monitor")
	cmd.Dir = testutil.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{
		"github.com/berth/berth/pkg/image", "github.com/berth/berth/pkg/snapshot", "github.com/berth/berth/pkg/network",
		"github.com/berth/berth/pkg/build", "github.com/berth/berth/pkg/registry", "github.com/berth/berth/internal/cli",
		"github.com/spf13/cobra", "github.com/prometheus/", "github.com/google/nftables", "github.com/klauspost/",
		"github.com/opencontainers/go-digest", "google.golang.org/protobuf",
	}
	for _, p := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if p == f || strings.HasPrefix(p, strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("berth-monitor links %s; keep it lean (ask the full berth through engine.Options.Helper)", p)
			}
		}
	}
}
