// Command berth is a container platform: OCI runtime, image store, builder,
// registry and engine in one program. Invoked as berth-runtime it is a
// runc-compatible OCI runtime.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth/berth/internal/cli"
	"github.com/berth/berth/pkg/runtime"
	_ "github.com/berth/berth/pkg/runtime/nsenter" // joins namespaces before the Go runtime starts (exec)
)

func main() {
	if runtime.IsChild() {
		runtime.ChildMain() // the runtime re-executed as a container init or exec helper; never returns
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
