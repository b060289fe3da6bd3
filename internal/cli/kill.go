package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
)

// NewCmdKill sends a signal to containers.
func NewCmdKill(opts *Options) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := engine.ParseSignal(signal)
			if err != nil {
				return usageError(cmd, err)
			}
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			return eachContainer(cmd, args, func(ref string) error { return eng.Kill(cmd.Context(), ref, sig) })
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send to the container")
	return cmd
}
