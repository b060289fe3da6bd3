package cli

import (
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/network"
)

// NewCmdNetworkAttach attaches a bare network namespace to a network and
// prints the attachment as JSON: the low-level step under `berth run`, for
// debugging, scripts and bench/network-attach.sh. Users want `connect`.
func NewCmdNetworkAttach(opts *Options) *cobra.Command {
	var (
		req   network.AttachRequest
		ports []string
		ip    string
	)
	cmd := &cobra.Command{
		Use:    "attach [OPTIONS] NETWORK",
		Short:  "Attach a network namespace to a network (low level; prefer connect)",
		Hidden: true,
		Args:   exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Network = args[0]
			for _, p := range ports {
				pm, err := network.ParsePort(p)
				if err != nil {
					return usageError(cmd, err)
				}
				req.Ports = append(req.Ports, pm)
			}
			if ip != "" {
				a, err := netip.ParseAddr(ip)
				if err != nil {
					return usageError(cmd, fmt.Errorf("invalid --ip %q", ip))
				}
				req.IP = a
			}
			m, err := openNetworks(opts)
			if err != nil {
				return err
			}
			att, err := m.Attach(cmd.Context(), req)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(att)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.NetNSPath, "netns", "", "network namespace file (/run/netns/NAME or /proc/PID/ns/net)")
	f.StringVar(&req.ContainerID, "id", "", "ID the attachment is recorded under")
	f.StringVar(&req.Name, "name", "", "name other members resolve")
	f.StringArrayVar(&req.Aliases, "alias", nil, "more names on this network")
	f.StringArrayVarP(&ports, "publish", "p", nil, "publish a port: [IP:][HOST:]CONTAINER[/PROTO]")
	f.StringVar(&ip, "ip", "", "fixed IPv4 address")
	f.StringVar(&req.Interface, "interface", "", "device name in the namespace (default eth0, eth1...)")
	f.StringVar(&req.HostsPath, "hosts-file", "", "hosts file to keep member names in")
	return cmd
}
