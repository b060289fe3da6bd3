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
		ipRange, driver           string
		internal, ipv6            bool
		labels, subnets, gateways []string
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
			// One IPv4 and (with --ipv6) one IPv6 subnet, each with its
			// gateway, as docker takes them.
			for _, subnet := range subnets {
				p, err := netip.ParsePrefix(subnet)
				if err != nil {
					return usageError(cmd, fmt.Errorf("invalid --subnet %q: want CIDR like 10.10.0.0/24 or fd42:1::/64", subnet))
				}
				dst := &o.Subnet
				if p.Addr().Is6() && !p.Addr().Is4In6() {
					dst = &o.Subnet6
				}
				if dst.IsValid() {
					return usageError(cmd, fmt.Errorf("--subnet %s: one IPv4 and one IPv6 subnet at most", subnet))
				}
				*dst = p
			}
			for _, gateway := range gateways {
				a, err := netip.ParseAddr(gateway)
				if err != nil {
					return usageError(cmd, fmt.Errorf("invalid --gateway %q: want an IP address", gateway))
				}
				dst := &o.Gateway
				if a.Is6() && !a.Is4In6() {
					dst = &o.Gateway6
				}
				if dst.IsValid() {
					return usageError(cmd, fmt.Errorf("--gateway %s: one IPv4 and one IPv6 gateway at most", gateway))
				}
				*dst = a
			}
			o.IPv6 = ipv6
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
	f.StringArrayVar(&subnets, "subnet", nil, "subnet in CIDR format, IPv4 (default: a free private range) and, with --ipv6, IPv6")
	f.StringArrayVar(&gateways, "gateway", nil, "gateway address of a subnet (default: its first address)")
	f.BoolVar(&ipv6, "ipv6", false, "enable IPv6 (dual stack; without an IPv6 --subnet a random unique local /64 is picked)")
	f.StringVar(&ipRange, "ip-range", "", "allocate container addresses from this sub-range")
	f.BoolVar(&internal, "internal", false, "restrict external access to the network")
	f.StringArrayVar(&labels, "label", nil, "set metadata on the network (KEY=VALUE)")
	return cmd
}
