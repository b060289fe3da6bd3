// Package cli is berth's command line: a thin cobra shell over the library
// packages. Each subcommand lives in its own file as NewCmdX(opts).
package cli

import (
	"context"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cliargs"
	"github.com/berth/berth/internal/runtimecli"
)

// RuntimeName is the program name under which berth acts as a runc-compatible
// OCI runtime. make builds a lean bin/berth-runtime (cmd/berth-runtime); a
// link named berth-runtime to the full binary still works.
const RuntimeName = runtimecli.Name

// Main runs the command line given in args (args[0] is the program name) and
// returns the process exit code. It never exits itself, so it can be tested.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cmd *cobra.Command
	name := "berth"
	if len(args) > 0 && filepath.Base(args[0]) == RuntimeName {
		name = RuntimeName
		cmd = runtimecli.NewRuntimeCmd(name)
	} else {
		cmd = newRootCmd(lookupCommand(args[min(len(args), 1):]))
	}
	return runtimecli.Execute(ctx, cmd, name, args, stdout, stderr)
}

// Short names for the shared argument checks.
var (
	usageError = cliargs.UsageError
	exactArgs  = cliargs.ExactArgs
	minArgs    = cliargs.MinArgs
	noArgs     = cliargs.NoArgs
)
