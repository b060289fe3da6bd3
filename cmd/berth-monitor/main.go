// Command berth-monitor is the lean keeper of one container (pkg/monitor):
// it links the engine and the runtime but not the image store, builder,
// registry or network manager, so it starts fast and stays small for as
// long as its container runs. berth starts it; it is not for direct use.
package main

import (
	"os"

	"github.com/berth/berth/pkg/monitor"
	"github.com/berth/berth/pkg/runtime"
	_ "github.com/berth/berth/pkg/runtime/nsenter" // joins namespaces before the Go runtime starts (exec)
)

func main() {
	if runtime.IsChild() {
		runtime.ChildMain() // re-executed as a container init when berth-runtime is absent; never returns
	}
	os.Exit(monitor.Main(os.Args, os.Stderr))
}
