package cli

import (
	"github.com/spf13/cobra"
)

// NewCmdRename renames a container.
func NewCmdRename(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			return eng.Rename(cmd.Context(), args[0], args[1])
		},
	}
}
