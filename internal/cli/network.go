package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
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

// openNetworks opens the network manager on the global state roots; the
// networks it creates and removes are recorded in the engine's event log.
func openNetworks(opts *Options) (*network.Manager, error) {
	return network.Open(opts.Root, opts.RunRoot, networkEvents(opts))
}

// networkEvents records network create and destroy events in the event
// log under opts.Root.
func networkEvents(opts *Options) network.Option {
	return network.WithEvents(func(action string, n *network.Network) {
		if err := eventLog(opts).Append(engine.NetworkEvent(action, n.ID, n.Name, "")); err != nil {
			slog.Warn("recording a network event", "action", action, "err", err)
		}
	})
}
