package runtime_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/runtime"
	_ "github.com/berth/berth/pkg/runtime/nsenter"
)

// The runtime re-executes its own binary as the container init: in tests
// that binary is the test binary, which must then act as the init.
func TestMain(m *testing.M) {
	if runtime.IsChild() {
		runtime.ChildMain()
	}
	os.Exit(m.Run())
}

func uniqueID(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	return strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())) + "-" + hex.EncodeToString(b)
}

// testSpec is runc's default spec made non-interactive, running args.
func testSpec(args ...string) *specs.Spec {
	s := runtime.DefaultSpec()
	s.Process.Terminal = false
	s.Process.Args = args
	s.Linux.Resources = nil
	return s
}

func newRuntime(t *testing.T) *runtime.Runtime {
	t.Helper()
	testutil.RequireRoot(t)
	rt, err := runtime.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// runOutput runs a container from spec in the foreground and returns its
// exit code and combined output.
func runOutput(t *testing.T, rt *runtime.Runtime, spec *specs.Spec) (int, string, error) {
	t.Helper()
	bundle := testutil.Bundle(t, spec)
	return runBundle(t, rt, uniqueID(t), bundle)
}

func runBundle(t *testing.T, rt *runtime.Runtime, id, bundle string) (int, string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, r); close(done) }()
	code, err := rt.Run(id, &runtime.CreateOptions{Bundle: bundle, Stdout: w, Stderr: w}, false)
	w.Close()
	<-done
	r.Close()
	return code, out.String(), err
}
