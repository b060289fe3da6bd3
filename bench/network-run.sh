#!/usr/bin/env bash
# The whole `docker run` path with the default bridge network, image to exit
# with clean-up included:
#   berth run --rm IMAGE true        (default network "bridge": veth, address, NAT)
# against podman run --rm of the same image with podman's default network
# (podman needs runc and clamped ulimits on this hybrid-cgroup host), and,
# for reference, berth with --network none: the difference is what the
# network part costs. BERTH_BASE=/path/to/older/berth adds that build on the
# bridge network too (its own state roots), to compare before and after.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need runc podman conmon
ROOTFS_TAR=${BERTH_ROOTFS_TAR:-$REPO/bin/busybox-rootfs.tar}
[ -f "$ROOTFS_TAR" ] || "$REPO/scripts/mkrootfs.sh" "$ROOTFS_TAR"

work=$(mktemp -d /tmp/berth-bench-netrun.XXXXXX)
ROOT=$work/root RUNROOT=$work/run
B="$BERTH --root $ROOT --runroot $RUNROOT"
IMG=berth-bench-busybox:latest
PODMAN_IMG=localhost/berth-bench-netrun:latest
PODMAN="podman --runtime runc"
cleanup() {
	$PODMAN rmi -f "$PODMAN_IMG" >/dev/null 2>&1 || true
	# The bench root's networks: bridge, nftables table.
	rm -rf "$work"
	$BERTH network repair >/dev/null 2>&1 || true
}
trap cleanup EXIT

$B import "$ROOTFS_TAR" "$IMG" >/dev/null
$PODMAN import -q "$ROOTFS_TAR" "$PODMAN_IMG" >/dev/null
# First use creates the default network; the bench measures runs on it.
$B run --rm "$IMG" true

base=()
if [ -n "${BERTH_BASE:-}" ]; then
	BB="$BERTH_BASE --root $work/base-root --runroot $work/base-run"
	$BB import "$ROOTFS_TAR" "$IMG" >/dev/null
	$BB run --rm "$IMG" true
	base=(base-none="$BB run --rm --network none $IMG true" base-bridge="$BB run --rm $IMG true")
fi

bench_alternate -title "run --rm IMAGE true (default bridge network)" \
	berth-none="$B run --rm --network none $IMG true" \
	"${base[@]}" \
	berth-bridge="$B run --rm $IMG true" \
	podman-bridge="$PODMAN run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 $PODMAN_IMG true"
