package cli

import (
	"github.com/spf13/cobra"
)

// NewCmdPause freezes every process of running containers.
func NewCmdPause(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			return eachContainer(cmd, args, func(ref string) error { return eng.Pause(cmd.Context(), ref) })
		},
	}
}
