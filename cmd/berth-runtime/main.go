// Command berth-runtime is berth's runc-compatible OCI runtime as a lean
// binary: it links only the runtime, not the image store, builder, registry
// or engine, so each invocation — and each container init and exec helper,
// which the runtime re-executes from a read-only copy of this binary — skips
// the start-up of the rest of berth. `berth runtime` is the same command line.
package main

import (
	"context"
	"os"
	"os/signal"
	goruntime "runtime"
	"syscall"

	"github.com/berth/berth/internal/runtimecli"
	"github.com/berth/berth/pkg/runtime"
	_ "github.com/berth/berth/pkg/runtime/nsenter" // joins namespaces before the Go runtime starts (exec)
)

func main() {
	if runtime.IsChild() {
		runtime.ChildMain() // re-executed as a container init or exec helper; never returns
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// A runtime command lives for milliseconds and does little in
		// parallel: one P means fewer threads woken, spinning and parked.
		goruntime.GOMAXPROCS(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runtimecli.Main(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
