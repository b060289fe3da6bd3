package network

import (
	"context"
	"strconv"
	"time"
)

// Inspect is a network as `docker network inspect` shows it.
type Inspect struct {
	Name       string                      `json:"Name"`
	ID         string                      `json:"Id"`
	Created    time.Time                   `json:"Created"`
	Scope      string                      `json:"Scope"`
	Driver     string                      `json:"Driver"`
	EnableIPv6 bool                        `json:"EnableIPv6"`
	IPAM       InspectIPAM                 `json:"IPAM"`
	Internal   bool                        `json:"Internal"`
	Attachable bool                        `json:"Attachable"`
	Ingress    bool                        `json:"Ingress"`
	ConfigOnly bool                        `json:"ConfigOnly"`
	Containers map[string]InspectContainer `json:"Containers"`
	Options    map[string]string           `json:"Options"`
	Labels     map[string]string           `json:"Labels"`
}

// InspectIPAM is the addressing part of Inspect.
type InspectIPAM struct {
	Driver  string              `json:"Driver"`
	Options map[string]string   `json:"Options"`
	Config  []InspectIPAMConfig `json:"Config"`
}

// InspectIPAMConfig is one subnet of a network.
type InspectIPAMConfig struct {
	Subnet  string `json:"Subnet"`
	IPRange string `json:"IPRange,omitempty"`
	Gateway string `json:"Gateway"`
}

// InspectContainer is one attached container, keyed by its ID.
type InspectContainer struct {
	Name        string `json:"Name"`
	EndpointID  string `json:"EndpointID"`
	MacAddress  string `json:"MacAddress"`
	IPv4Address string `json:"IPv4Address"`
	IPv6Address string `json:"IPv6Address"`
}

// Inspect describes the network ref (name, ID or ID prefix) with its members.
func (m *Manager) Inspect(ctx context.Context, ref string) (*Inspect, error) {
	n, err := m.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	eps, err := m.Endpoints(ctx, n.ID)
	if err != nil {
		return nil, err
	}
	out := &Inspect{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
		IPAM: InspectIPAM{Driver: "default", Options: map[string]string{},
			Config: []InspectIPAMConfig{{Subnet: n.Subnet.String(), Gateway: n.Gateway.String()}}},
		Internal:   n.Internal,
		Containers: map[string]InspectContainer{},
		Options:    map[string]string{"com.docker.network.bridge.name": n.Bridge},
		Labels:     map[string]string{},
	}
	if n.IPRange.IsValid() {
		out.IPAM.Config[0].IPRange = n.IPRange.String()
	}
	if n.EnableIPv6 {
		out.EnableIPv6 = true
		out.IPAM.Config = append(out.IPAM.Config, InspectIPAMConfig{Subnet: n.Subnet6.String(), Gateway: n.Gateway6.String()})
	}
	for k, v := range n.Labels {
		out.Labels[k] = v
	}
	for _, ep := range eps {
		ic := InspectContainer{
			Name: ep.Name, EndpointID: vethName(n.ID, ep.ContainerID), MacAddress: ep.MAC,
			IPv4Address: ep.IP.String() + "/" + strconv.Itoa(ep.PrefixLen),
		}
		if ep.IP6.IsValid() {
			ic.IPv6Address = ep.IP6.String() + "/" + strconv.Itoa(ep.PrefixLen6)
		}
		out.Containers[ep.ContainerID] = ic
	}
	return out, nil
}
