package cli

import (
	"github.com/spf13/cobra"
)

// NewCmdStop stops running containers.
func NewCmdStop(opts *Options) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			var t *int
			if cmd.Flags().Changed("time") {
				t = &timeout
			}
			return eachContainer(cmd, args, func(ref string) error { return eng.Stop(cmd.Context(), ref, t) })
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before killing the container")
	return cmd
}
