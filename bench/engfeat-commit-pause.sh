#!/usr/bin/env bash
# docker commit and docker pause/unpause, side by side with podman:
#   commit of a stopped container whose writable layer holds 8 MiB of new
#   files and a deletion (layer diff, compression, unpack into the store);
#   pause + unpause of a running container (freezer round trip).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need runc podman conmon
ROOTFS_TAR=${BERTH_ROOTFS_TAR:-$REPO/bin/busybox-rootfs.tar}
[ -f "$ROOTFS_TAR" ] || "$REPO/scripts/mkrootfs.sh" "$ROOTFS_TAR"

work=$(mktemp -d /tmp/berth-bench-commit.XXXXXX)
B="$BERTH --root $work/root --runroot $work/run"
IMG=berth-bench-busybox:latest
PODMAN_IMG=localhost/berth-bench-busybox:latest
PODMAN="podman --runtime runc"
PODMAN_RUN="$PODMAN run --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
cleanup() {
	$B rm -f bench-src bench-live >/dev/null 2>&1 || true
	$PODMAN rm -f berth-bench-src berth-bench-live >/dev/null 2>&1 || true
	$PODMAN images -q --filter reference='localhost/berth-bench-commit*' | xargs -r $PODMAN rmi -f >/dev/null 2>&1 || true
	$PODMAN rmi -f "$PODMAN_IMG" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

$B import "$ROOTFS_TAR" "$IMG" >/dev/null
$PODMAN import -q "$ROOTFS_TAR" "$PODMAN_IMG" >/dev/null
changes='mkdir /data && for i in 1 2 3 4 5 6 7 8; do head -c 1048576 /dev/urandom > /data/f$i; done && rm /bin/vi'
$B run --name bench-src --network none "$IMG" sh -c "$changes"
$PODMAN_RUN --name berth-bench-src "$PODMAN_IMG" sh -c "$changes"

bench_alternate -title "commit (8 MiB of changes, stopped container)" \
	berth="$B commit bench-src berth-bench-commit:latest" \
	podman="$PODMAN commit -q berth-bench-src localhost/berth-bench-commit:latest"

$B run -d --name bench-live --network none "$IMG" sleep 600 >/dev/null
$PODMAN_RUN -d --name berth-bench-live "$PODMAN_IMG" sleep 600 >/dev/null
bench_alternate -title "pause + unpause (running container)" \
	berth="sh -c '$B pause bench-live >/dev/null && $B unpause bench-live >/dev/null'" \
	podman="sh -c '$PODMAN pause berth-bench-live >/dev/null && $PODMAN unpause berth-bench-live >/dev/null'"
