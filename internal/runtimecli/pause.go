package runtimecli

import "github.com/spf13/cobra"

// NewCmdRuntimePause is `pause`: freeze every process of a container.
func NewCmdRuntimePause(ropts *RuntimeOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER",
		Short: "Freeze every process of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := ropts.runtime()
			if err != nil {
				return err
			}
			return rt.Pause(args[0])
		},
	}
}
