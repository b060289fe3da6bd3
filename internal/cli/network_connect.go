package cli

import (
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
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
	var co engine.ConnectOptions
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if co.IP != "" {
				if a, err := netip.ParseAddr(co.IP); err != nil || !a.Is4() {
					return usageError(cmd, fmt.Errorf("invalid argument %q for \"--ip\" flag: invalid IPv4 address", co.IP))
				}
			}
			if co.IP6 != "" {
				if a, err := netip.ParseAddr(co.IP6); err != nil || !a.Is6() || a.Is4In6() {
					return usageError(cmd, fmt.Errorf("invalid argument %q for \"--ip6\" flag: invalid IPv6 address", co.IP6))
				}
			}
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			return eng.ConnectWith(cmd.Context(), args[1], args[0], co)
		},
	}
	cmd.Flags().StringVar(&co.IP, "ip", "", "IPv4 address (e.g., 172.30.100.104) on the network")
	cmd.Flags().StringVar(&co.IP6, "ip6", "", "IPv6 address (e.g., fd42:1::1:10) on an IPv6 network")
	cmd.Flags().StringArrayVar(&co.Aliases, "alias", nil, "add network-scoped alias for the container")
	return cmd
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
