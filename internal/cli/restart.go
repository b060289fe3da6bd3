package cli

import (
	"github.com/spf13/cobra"
)

// NewCmdRestart restarts containers.
func NewCmdRestart(opts *Options) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
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
			return eachContainer(cmd, args, func(ref string) error { return eng.Restart(cmd.Context(), ref, t) })
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before killing the container")
	return cmd
}
