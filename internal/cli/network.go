package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/network"
)

// NewCmdNetwork groups the network subcommands (docker network ...).
func NewCmdNetwork(opts *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Manage networks",
		Long: `Manage bridge networks. Containers on a user-defined network reach each other
by name; the default network "bridge" is made on first use.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		NewCmdNetworkCreate(opts),
		NewCmdNetworkLs(opts),
		NewCmdNetworkInspect(opts),
		NewCmdNetworkRm(opts),
		NewCmdNetworkPrune(opts),
		NewCmdNetworkAttach(opts),
		NewCmdNetworkDetach(opts),
		NewCmdNetworkRepair(opts),
	)
	return cmd
}

// openNetworks opens the network manager on the global state roots.
func openNetworks(opts *Options) (*network.Manager, error) {
	return network.Open(opts.Root, opts.RunRoot)
}
