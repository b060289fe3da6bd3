package runtimecli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/runtime"
)

// NewCmdRuntimeKill is `kill`: signal the init (or, with --all, every process).
func NewCmdRuntimeKill(ropts *RuntimeOptions) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [--all] CONTAINER [SIGNAL]",
		Short: "Send a signal (name or number, default SIGTERM) to a container",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageError(cmd, fmt.Errorf("%q requires a container id and an optional signal, got %d argument(s)", cmd.CommandPath(), len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			sigName := "SIGTERM"
			if len(args) == 2 {
				sigName = args[1]
			}
			sig, err := runtime.ParseSignal(sigName)
			if err != nil {
				return err
			}
			rt, err := ropts.runtime()
			if err != nil {
				return err
			}
			return rt.Kill(args[0], sig, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "send the signal to every process in the container")
	return cmd
}
