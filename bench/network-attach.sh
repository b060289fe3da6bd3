#!/usr/bin/env bash
# Attach + detach of a container network namespace with one published port:
# berth (netlink + nftables in process) against the CNI reference plugins
# (bridge + host-local + portmap, driven by cnitool), alternating. Both sides
# also pay `ip netns add/del` for a fresh namespace each round, equally.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need containernetworking-plugins iproute2 iptables
command -v cnitool >/dev/null || go install github.com/containernetworking/cni/cnitool@v1.2.3

tmp=$(mktemp -d)
roots="--root $tmp/root --runroot $tmp/run"
cnisubnet=10.231.7.0/24
if ip -4 route | grep -q "^10\.231\.7\."; then
	echo "bench: $cnisubnet is routed on this host already; edit cnisubnet" >&2
	exit 1
fi
cleanup() {
	"$BERTH" $roots network rm benchnet >/dev/null 2>&1 || true
	ip link del cnibench0 2>/dev/null || true
	# Whatever portmap left behind under our network's name.
	iptables -t nat -S CNI-HOSTPORT-DNAT 2>/dev/null | grep '"cnibench"' | sed 's/^-A/-D/' |
		while read -r rule; do eval iptables -t nat "$rule" || true; done
	for ns in $(ip netns list | awk '/^bnbench-/{print $1}'); do ip netns del "$ns"; done
	rm -rf "$tmp"
}
trap cleanup EXIT

"$BERTH" $roots network create benchnet >/dev/null
mkdir -p "$tmp/cni"
cat >"$tmp/cni/benchnet.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "cnibench",
  "plugins": [
    {"type": "bridge", "bridge": "cnibench0", "isGateway": true, "ipMasq": true,
     "ipam": {"type": "host-local", "dataDir": "$tmp/cni-ipam",
              "ranges": [[{"subnet": "$cnisubnet"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON

# Each round: a fresh namespace, attach publishing one fixed host port, detach.
berth_round="ns=bnbench-\$\$; ip netns add \$ns && $BERTH $roots network attach --netns /run/netns/\$ns --id \$ns -p 20081:80 benchnet >/dev/null && $BERTH $roots network detach benchnet \$ns && ip netns del \$ns"
# portmap needs the same port mappings on DEL to remove its rules.
cnienv="CNI_PATH=/usr/lib/cni NETCONFPATH=$tmp/cni CAP_ARGS='{\"portMappings\":[{\"hostPort\":20080,\"containerPort\":80,\"protocol\":\"tcp\"}]}'"
cni_round="ns=bnbench-\$\$; ip netns add \$ns && $cnienv cnitool add cnibench /run/netns/\$ns >/dev/null && $cnienv cnitool del cnibench /run/netns/\$ns && ip netns del \$ns"
bare_round="ns=bnbench-\$\$; ip netns add \$ns && ip netns del \$ns"

bench_alternate -title "network attach+detach of a fresh netns, one published port" \
	netns-only="$bare_round" \
	berth="$berth_round" \
	cni-bridge+portmap="$cni_round"
