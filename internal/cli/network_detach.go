package cli

import (
	"github.com/spf13/cobra"
)

// NewCmdNetworkDetach undoes NewCmdNetworkAttach (low level; users want
// `disconnect`).
func NewCmdNetworkDetach(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:    "detach NETWORK ID",
		Short:  "Detach an attachment made by attach (low level; prefer disconnect)",
		Hidden: true,
		Args:   exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks(opts)
			if err != nil {
				return err
			}
			return m.Detach(cmd.Context(), args[0], args[1])
		},
	}
}
