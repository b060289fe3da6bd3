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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
