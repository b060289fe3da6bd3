package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
)

// NewCmdRm removes containers.
func NewCmdRm(opts *Options) *cobra.Command {
	var ro engine.RemoveOptions
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more containers",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			return eachContainer(cmd, args, func(ref string) error { return eng.Remove(cmd.Context(), ref, ro) })
		},
	}
	cmd.Flags().BoolVarP(&ro.Force, "force", "f", false, "force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&ro.Volumes, "volumes", "v", false, "remove anonymous volumes associated with the container")
	return cmd
}
