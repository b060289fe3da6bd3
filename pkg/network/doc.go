// Package network gives berth containers their networks: docker's "bridge"
// driver (a default network named "bridge" and user-defined bridge networks),
// with NAT to the outside, published ports and name discovery. "none" and
// "host" need no network object; the engine handles them by itself.
//
// # Shape
//
// A Manager keeps network definitions under ROOT/networks (one JSON file per
// network, written atomically) and everything that dies with a reboot under
// RUNROOT/networks: per-network endpoint tables, the host-port table and the
// flock(2) files that serialise changes to them. No daemon runs: every berth
// process that attaches or detaches a container takes the network's lock,
// changes the kernel and the tables, and lets go.
//
// # Kernel plumbing: netlink and nftables, in process
//
// Links, addresses and routes are made with netlink (vishvananda/netlink);
// NAT and port publishing are nftables rules (google/nftables) in one table
// that belongs to berth alone ("berth" for the default state root). Nothing is
// exec'd on the `berth run` hot path, which is why we chose this over the CNI
// bridge/portmap plugins: a CNI attach forks two or three plugin binaries
// (bridge, host-local, portmap, often firewall), each re-parsing its config
// and, for portmap, driving iptables; ours is a handful of netlink messages.
// Every rule carries a comment naming its network or container, so clean-up
// deletes exactly what was added and never touches anyone else's rules.
//
// # Name discovery: /etc/hosts kept current for every member
//
// On user-defined networks containers reach each other by name and alias.
// Rather than run a DNS server per network (a process to start, supervise,
// restart after kill -9 and stop, and a port 53 on the gateway that can clash
// with the host's resolver), the Manager writes a block of "IP name aliases"
// lines into the hosts file of every member whenever one joins or leaves. The
// file is rewritten in place, because the engine bind-mounts it into the
// container and a rename would leave the container looking at the old inode.
// libc resolvers read /etc/hosts on every lookup, so changes show at once. What
// this does not give: names for tools that speak DNS directly (dig,
// nslookup) and DNS round-robin between containers sharing an alias.
package network
