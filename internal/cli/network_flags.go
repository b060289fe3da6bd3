package cli

import (
	"github.com/spf13/pflag"

	"github.com/berth/berth/pkg/engine"
)

// netFlags are the network flags of run and create beyond --network,
// --network-alias and -p: docker's --ip, --mac-address, --link, --dns,
// --dns-search, --dns-option and --add-host.
type netFlags struct {
	ip, ip6, mac                              string
	dns, dnsSearch, dnsOption, addHost, links []string
}

func addNetFlags(fs *pflag.FlagSet, f *netFlags) {
	fs.StringVar(&f.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104) on a user-defined network")
	fs.StringVar(&f.ip6, "ip6", "", "IPv6 address (e.g., fd42:1::1:10) on a user-defined IPv6 network")
	fs.StringVar(&f.mac, "mac-address", "", "container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fs.StringArrayVar(&f.links, "link", nil, "add link to another container (NAME[:ALIAS]): an /etc/hosts entry for its address")
	fs.StringArrayVar(&f.dns, "dns", nil, "set custom DNS servers")
	fs.StringArrayVar(&f.dnsSearch, "dns-search", nil, `set custom DNS search domains ("." for none)`)
	fs.StringArrayVar(&f.dnsOption, "dns-option", nil, "set DNS options")
	fs.StringArrayVar(&f.addHost, "add-host", nil, `add a custom host-to-IP mapping (host:ip, ip may be "host-gateway")`)
}

// apply checks the flags and puts them into req.
func (f *netFlags) apply(req *engine.CreateRequest) error {
	if err := engine.ValidateDNS(f.dns, f.dnsSearch, f.dnsOption); err != nil {
		return err
	}
	for _, h := range f.addHost {
		if _, _, err := engine.ParseExtraHost(h); err != nil {
			return err
		}
	}
	if f.mac != "" {
		mac, err := engine.ParseMAC(f.mac)
		if err != nil {
			return err
		}
		req.Config.MacAddress = mac
	}
	for _, l := range f.links {
		if _, _, err := engine.ParseLink(l); err != nil {
			return err
		}
	}
	h := &req.HostConfig
	h.Dns, h.DnsSearch, h.DnsOptions, h.ExtraHosts = f.dns, f.dnsSearch, f.dnsOption, f.addHost
	h.Links = f.links
	req.IPv4Address, req.IPv6Address = f.ip, f.ip6
	return nil
}
