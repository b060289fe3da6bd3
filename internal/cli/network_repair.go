package cli

import (
	"github.com/spf13/cobra"
)

// NewCmdNetworkRepair releases what dead containers left behind: addresses,
// veths, port rules and names whose network namespace is gone.
func NewCmdNetworkRepair(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:    "repair",
		Short:  "Release network state of containers whose namespace is gone",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks(opts)
			if err != nil {
				return err
			}
			return m.Repair(cmd.Context())
		},
	}
}
