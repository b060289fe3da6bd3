package cli

import (
	"github.com/spf13/cobra"
)

// addNetworkConnect adds connect and disconnect, which need containers, to
// the network command group.
func addNetworkConnect(root *cobra.Command, opts *Options) {
	for _, c := range root.Commands() {
		if c.Name() == "network" {
			c.AddCommand(NewCmdNetworkConnect(opts), NewCmdNetworkDisconnect(opts))
		}
	}
}

// NewCmdNetworkConnect attaches a container to a network.
func NewCmdNetworkConnect(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "connect NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			return eng.Connect(cmd.Context(), args[1], args[0])
		},
	}
}

// NewCmdNetworkDisconnect detaches a container from a network.
func NewCmdNetworkDisconnect(opts *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "disconnect NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			return eng.Disconnect(cmd.Context(), args[1], args[0])
		},
	}
}
