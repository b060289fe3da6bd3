package runtimecli

import "github.com/spf13/cobra"

// NewCmdRuntimeStart is `start`: run the user process of a created container.
func NewCmdRuntimeStart(ropts *RuntimeOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "start CONTAINER",
		Short: "Start the user process of a created container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := ropts.runtime()
			if err != nil {
				return err
			}
			return rt.Start(args[0])
		},
	}
}
