#!/usr/bin/env bash
# The network part of `berth run` in process (bench/network-part): a fresh
# namespace, attach to the default bridge network, release and unmount —
# medians per step. NETPART_BASE=/path/to/another/checkout times that
# tree's pkg/network the same way (Detach where it has no Release), and
# the current tree again with -detach, the veth deleted by hand.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${BENCH_N:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$REPO" && go build -o "$tmp/netpart" ./bench/network-part)
if [ -n "${NETPART_BASE:-}" ]; then
	mkdir -p "$NETPART_BASE/.netpart"
	cp "$REPO/bench/network-part/main.go" "$NETPART_BASE/.netpart/"
	(cd "$NETPART_BASE" && go build -o "$tmp/netpart-base" ./.netpart)
	rm -rf "$NETPART_BASE/.netpart"
fi
for round in 1 2; do
	printf 'this tree:          '; "$tmp/netpart" -n "$N"
	printf 'this tree, detach:  '; "$tmp/netpart" -n "$N" -detach
	if [ -x "$tmp/netpart-base" ]; then
		printf 'base tree:          '; "$tmp/netpart-base" -n "$N"
	fi
done
