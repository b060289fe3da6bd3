package cli

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/network"
)

// NewCmdNetworkCreate creates a bridge network and prints its ID.
func NewCmdNetworkCreate(opts *Options) *cobra.Command {
	var (
		subnet, gateway, ipRange, driver string
		internal                         bool
		labels                           []string
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var o network.CreateOptions
			var err error
			if driver != network.DriverBridge {
				return usageError(cmd, fmt.Errorf("invalid --driver %q: only bridge is supported", driver))
			}
			if subnet != "" {
				if o.Subnet, err = netip.ParsePrefix(subnet); err != nil {
					return usageError(cmd, fmt.Errorf("invalid --subnet %q: want CIDR like 10.10.0.0/24", subnet))
				}
			}
			if gateway != "" {
				if o.Gateway, err = netip.ParseAddr(gateway); err != nil {
					return usageError(cmd, fmt.Errorf("invalid --gateway %q: want an IP address", gateway))
				}
			}
			if ipRange != "" {
				if o.IPRange, err = netip.ParsePrefix(ipRange); err != nil {
					return usageError(cmd, fmt.Errorf("invalid --ip-range %q: want CIDR like 10.10.0.128/25", ipRange))
				}
			}
			o.Internal = internal
			if len(labels) > 0 {
				o.Labels = map[string]string{}
				for _, l := range labels {
					k, v, _ := strings.Cut(l, "=")
					o.Labels[k] = v
				}
			}
			m, err := openNetworks(opts)
			if err != nil {
				return err
			}
			n, err := m.Create(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), n.ID)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&driver, "driver", "d", network.DriverBridge, "driver to manage the network (only bridge)")
	f.StringVar(&subnet, "subnet", "", "subnet in CIDR format (default: a free private range)")
	f.StringVar(&gateway, "gateway", "", "gateway address of the subnet (default: its first address)")
	f.StringVar(&ipRange, "ip-range", "", "allocate container addresses from this sub-range")
	f.BoolVar(&internal, "internal", false, "restrict external access to the network")
	f.StringArrayVar(&labels, "label", nil, "set metadata on the network (KEY=VALUE)")
	return cmd
}
