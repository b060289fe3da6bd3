#!/usr/bin/env bash
# The whole `docker run` path, image to exit with clean-up included:
#   berth run --rm --network none IMAGE true
# against runc run of an equivalent bundle (no image store, no monitor, no
# clean-up of a writable layer) and podman run --rm --network none of the same
# image (podman needs runc and clamped ulimits on this hybrid-cgroup host).
# Then the resident memory of the per-container keeper: berth's monitor
# against podman's conmon, each holding one running container.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need runc podman conmon
ROOTFS_TAR=${BERTH_ROOTFS_TAR:-$REPO/bin/busybox-rootfs.tar}
[ -f "$ROOTFS_TAR" ] || "$REPO/scripts/mkrootfs.sh" "$ROOTFS_TAR"

work=$(mktemp -d /tmp/berth-bench-run.XXXXXX)
ROOT=$work/root RUNROOT=$work/run
B="$BERTH --root $ROOT --runroot $RUNROOT"
IMG=berth-bench-busybox:latest
PODMAN_IMG=localhost/berth-bench-busybox:latest
PODMAN="podman --runtime runc"
cleanup() {
	$B rm -f bench-keeper bench-keeper-always >/dev/null 2>&1 || true
	$PODMAN rm -f berth-bench-keeper >/dev/null 2>&1 || true
	$PODMAN rmi -f "$PODMAN_IMG" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

$B import "$ROOTFS_TAR" "$IMG" >/dev/null
$PODMAN import -q "$ROOTFS_TAR" "$PODMAN_IMG" >/dev/null
mkdir -p "$work/bundle/rootfs"
tar -C "$work/bundle/rootfs" -xf "$ROOTFS_TAR"
(cd "$work/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' config.json)

bench_alternate -title "run --rm IMAGE true (network none)" \
	berth="$B run --rm --network none $IMG true" \
	podman="$PODMAN run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 $PODMAN_IMG true" \
	runc="sh -c 'runc --root $work/runc run --bundle $work/bundle bench-\$\$'"

# Resident memory of the keeper process of one running container.
$B run -d --name bench-keeper --network none "$IMG" sleep 600 >/dev/null
$PODMAN run -d --name berth-bench-keeper --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$PODMAN_IMG" sleep 600 >/dev/null
mon=$($B inspect -f '{{.State.MonitorPid}}' bench-keeper)
# A container with a restart policy also has a watchdog (restarts it should
# its monitor be killed); it is a second, idle berth-monitor process.
always=$($B run -d --name bench-keeper-always --network none --restart always "$IMG" sleep 600)
watchdog=""
for _ in $(seq 100); do
	watchdog=$(pgrep -f -- "--watch $always" || true)
	[ -n "$watchdog" ] && break
	sleep 0.05
done
conmon=$(pgrep -n conmon)
rss() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
anon() { awk '/^RssAnon/{print $2}' "/proc/$1/status"; }
pss() { awk '/^Pss:/{print $2}' "/proc/$1/smaps_rollup"; }
# RSS counts the program's file pages, shared by every process of the same
# binary; RssAnon is what each further container really adds.
printf '\nkeeper memory per running container (KiB)\n'
printf '%-16s %8s %8s %8s\n' process RSS RssAnon PSS
printf '%-16s %8s %8s %8s\n' "berth monitor" "$(rss "$mon")" "$(anon "$mon")" "$(pss "$mon")"
[ -n "$watchdog" ] && printf '%-16s %8s %8s %8s\n' "berth watchdog" "$(rss "$watchdog")" "$(anon "$watchdog")" "$(pss "$watchdog")"
printf '%-16s %8s %8s %8s\n' conmon "$(rss "$conmon")" "$(anon "$conmon")" "$(pss "$conmon")"
