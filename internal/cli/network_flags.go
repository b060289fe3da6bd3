package cli

import (
	"github.com/spf13/pflag"

	"github.com/berth/berth/pkg/engine"
)

// netFlags are the network flags of run and create beyond --network,
// --network-alias and -p: docker's --ip, --dns, --dns-search, --dns-option
// and --add-host.
type netFlags struct {
	ip                                 string
	dns, dnsSearch, dnsOption, addHost []string
}

func addNetFlags(fs *pflag.FlagSet, f *netFlags) {
	fs.StringVar(&f.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104) on a user-defined network")
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
	h := &req.HostConfig
	h.Dns, h.DnsSearch, h.DnsOptions, h.ExtraHosts = f.dns, f.dnsSearch, f.dnsOption, f.addHost
	req.IPv4Address = f.ip
	return nil
}
