package network

import (
	"bufio"
	"net/netip"
	"os"
	"strings"
)

// HostResolvConf is where the host's resolver configuration is read from.
const HostResolvConf = "/etc/resolv.conf"

// fallbackNameservers are used when the host has none a container can reach
// (only loopback ones, as with systemd-resolved's 127.0.0.53), as docker does.
var fallbackNameservers = []string{"8.8.8.8", "8.8.4.4"}

// ContainerDNS derives a container's resolv.conf from the host's at path:
// the same search domains and options, the same nameservers except loopback
// ones, which mean nothing inside another network namespace.
func ContainerDNS(path string) DNSConfig {
	var c DNSConfig
	f, err := os.Open(path)
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 || strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], ";") {
				continue
			}
			switch fields[0] {
			case "nameserver":
				a, err := netip.ParseAddr(fields[1])
				if err != nil || a.IsLoopback() {
					continue
				}
				c.Nameservers = append(c.Nameservers, a.String())
			case "search", "domain":
				c.Search = fields[1:]
			case "options":
				c.Options = append(c.Options, fields[1:]...)
			}
		}
	}
	if len(c.Nameservers) == 0 {
		c.Nameservers = append([]string(nil), fallbackNameservers...)
	}
	return c
}

// String renders c as a resolv.conf file.
func (c DNSConfig) String() string {
	var b strings.Builder
	for _, n := range c.Nameservers {
		b.WriteString("nameserver " + n + "\n")
	}
	if len(c.Search) > 0 {
		b.WriteString("search " + strings.Join(c.Search, " ") + "\n")
	}
	if len(c.Options) > 0 {
		b.WriteString("options " + strings.Join(c.Options, " ") + "\n")
	}
	return b.String()
}
