package engine

import "time"

// Container statuses, as docker names them.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusRestarting = "restarting"
	StatusExited     = "exited"
	StatusRemoving   = "removing"
	StatusDead       = "dead"
)

// Container is everything berth records about one container. Its JSON is the
// shape `berth inspect` prints, which follows docker's.
type Container struct {
	ID              string `json:"Id"`
	Name            string
	Created         time.Time
	Path            string
	Args            []string
	State           State
	Image           string
	ImageRef        string `json:"ImageRef,omitempty"`
	Rootfs          string `json:"Rootfs,omitempty"`
	LogPath         string
	RestartCount    int
	Config          Config
	HostConfig      HostConfig
	Mounts          []MountPoint
	NetworkSettings NetworkSettings
	// ExtraNetworks are the networks joined with `network connect`.
	ExtraNetworks []string `json:"ExtraNetworks,omitempty"`
	// ManuallyStopped is set by stop/kill so that restart policies (other
	// than always) leave the container down.
	ManuallyStopped bool `json:"ManuallyStopped,omitempty"`
}

// State is a container's life: docker's State object.
type State struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
	Health     *Health `json:"Health,omitempty"`
	// MonitorPid is the pid of the berth monitor that owns the container.
	MonitorPid int `json:"MonitorPid,omitempty"`
}

// Health is the result of a container's health checks.
type Health struct {
	Status        string // starting, healthy, unhealthy
	FailingStreak int
	Log           []HealthResult
}

// HealthResult is one health check run.
type HealthResult struct {
	Start    time.Time
	End      time.Time
	ExitCode int
	Output   string
}

// Health statuses.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Config is what the container runs: the image's config merged with the
// user's flags (docker's Config object).
type Config struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Healthcheck  *HealthConfig `json:",omitempty"`
	Image        string
	Volumes      map[string]struct{} `json:",omitempty"`
	WorkingDir   string
	Entrypoint   []string
	Labels       map[string]string
	StopSignal   string `json:",omitempty"`
	StopTimeout  *int   `json:",omitempty"`
	// MacAddress is the address asked for the container's device on its
	// network (--mac-address).
	MacAddress string `json:",omitempty"`
}

// HealthConfig is how to check a container's health (docker's Healthcheck).
type HealthConfig struct {
	// Test is ["NONE"], ["CMD", args...] or ["CMD-SHELL", command].
	Test          []string
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// HostConfig is how the host runs the container: resources, mounts, network.
type HostConfig struct {
	Binds           []string
	Mounts          []MountSpec       `json:",omitempty"`
	Tmpfs           map[string]string `json:",omitempty"`
	LogConfig       LogConfig
	NetworkMode     string
	PortBindings    PortMap
	RestartPolicy   RestartPolicy
	AutoRemove      bool
	VolumeDriver    string
	CapAdd          []string
	CapDrop         []string
	Privileged      bool
	PublishAllPorts bool
	ReadonlyRootfs  bool
	SecurityOpt     []string
	Init            bool
	Memory          int64
	MemorySwap      int64
	NanoCpus        int64 `json:"NanoCpus"`
	CpuShares       int64 //nolint:revive // docker's spelling
	CpusetCpus      string
	PidsLimit       int64
	Ulimits         []Ulimit
	// Runtime is the OCI runtime binary that runs the container.
	Runtime string `json:",omitempty"`
	// Aliases are extra names on user networks (--network-alias).
	Aliases []string `json:",omitempty"`
	// Dns, DnsSearch and DnsOptions replace the nameserver, search and
	// options lines of the container's resolv.conf (--dns...); ExtraHosts
	// are "HOST:IP" lines for its /etc/hosts (--add-host).
	Dns        []string `json:",omitempty"` //nolint:revive // docker's spelling
	DnsSearch  []string `json:",omitempty"` //nolint:revive // docker's spelling
	DnsOptions []string `json:",omitempty"` //nolint:revive // docker's spelling
	ExtraHosts []string `json:",omitempty"`

	// CpuPeriod and CpuQuota are the CFS period and quota in
	// microseconds (--cpu-period, --cpu-quota; --cpus sets NanoCpus
	// instead), CpusetMems the memory nodes (--cpuset-mems),
	// MemoryReservation the soft limit in bytes (--memory-reservation),
	// BlkioWeight the relative block I/O weight, 10 to 1000 (--blkio-weight).
	CpuPeriod         int64  //nolint:revive // docker's spelling
	CpuQuota          int64  //nolint:revive // docker's spelling
	CpusetMems        string //nolint:revive // docker's spelling
	MemoryReservation int64
	BlkioWeight       uint16

	// Links are legacy links (--link NAME[:ALIAS]) in docker's form,
	// "/NAME:/SELF/ALIAS": the linked container's address is written under
	// ALIAS, its host name and NAME into this container's /etc/hosts.
	Links []string `json:",omitempty"`
}

// MountSpec is one --mount (or -v / --tmpfs) request.
type MountSpec struct {
	Type     string // bind, volume, tmpfs
	Source   string
	Target   string
	ReadOnly bool
	// TmpfsOptions are mount options for a tmpfs (size=, mode=).
	Options []string `json:",omitempty"`
}

// MountPoint is a mount as inspect reports it.
type MountPoint struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Mode        string
	RW          bool
	// Anonymous volumes are removed with `rm -v`.
	Anonymous bool `json:",omitempty"`
}

// LogConfig selects and configures the log driver; berth has json-file.
type LogConfig struct {
	Type   string
	Config map[string]string
}

// PortBinding is one host side of a published port.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// PortMap maps "80/tcp" to its host bindings.
type PortMap map[string][]PortBinding

// RestartPolicy is --restart.
type RestartPolicy struct {
	Name              string // "", no, always, on-failure, unless-stopped
	MaximumRetryCount int
}

// Ulimit is one --ulimit.
type Ulimit struct {
	Name string
	Soft int64
	Hard int64
}

// NetworkSettings is what the container's networks gave it.
type NetworkSettings struct {
	Ports    PortMap                      `json:"Ports"`
	Networks map[string]*EndpointSettings `json:"Networks"`
	// SandboxKey is the network namespace path.
	SandboxKey string
}

// EndpointSettings is the container's place on one network.
type EndpointSettings struct {
	// IPAMConfig is what the user asked for (--ip); IPAddress what the
	// network gave.
	IPAMConfig  *EndpointIPAMConfig `json:",omitempty"`
	Aliases     []string
	NetworkID   string
	IPAddress   string
	IPPrefixLen int
	Gateway     string
	MacAddress  string
	// GlobalIPv6Address, GlobalIPv6PrefixLen and IPv6Gateway are the IPv6
	// side on a dual-stack network (docker's names).
	GlobalIPv6Address   string `json:",omitempty"`
	GlobalIPv6PrefixLen int    `json:",omitempty"`
	IPv6Gateway         string `json:",omitempty"`
}

// EndpointIPAMConfig is a requested static address (docker's IPAMConfig).
type EndpointIPAMConfig struct {
	IPv4Address string `json:",omitempty"`
	IPv6Address string `json:",omitempty"`
}
