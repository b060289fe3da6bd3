package cli

import (
	"github.com/spf13/cobra"
)

// NewCmdUnpause thaws paused containers.
func NewCmdUnpause(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			return eachContainer(cmd, args, func(ref string) error { return eng.Unpause(cmd.Context(), ref) })
		},
	}
}
