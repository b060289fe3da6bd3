package runtimecli

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/errdefs"
)

// NewCmdRuntimeRun is `run`: create and start, and wait unless detached.
func NewCmdRuntimeRun(ropts *RuntimeOptions) *cobra.Command {
	var cf runtimeCreateFlags
	var detach bool
	cmd := &cobra.Command{
		Use:   "run [flags] CONTAINER",
		Short: "Create and start a container, and wait for it unless --detach",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := ropts.runtime()
			if err != nil {
				return err
			}
			code, err := rt.Run(args[0], cf.options(), detach)
			if err != nil {
				return err
			}
			if code != 0 {
				return &errdefs.ExitError{Code: code}
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "return once the container runs")
	return cmd
}
