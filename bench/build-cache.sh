#!/usr/bin/env bash
# Build a multi-stage Dockerfile (pkg/build/testdata/bench) with berth and
# with `buildah bud --layers`, alternating: a cold build (no cache: every
# step runs) and a fully cached rebuild (every step is a cache hit). Both
# start from the same offline busybox base image, run RUN steps with runc
# and have no network. Targets: cold no slower than buildah, cached at most
# a fifth of buildah's time.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need buildah runc
[ -f "$REPO/bin/busybox-rootfs.tar" ] || (cd "$REPO" && make -s rootfs)
CTX=$REPO/pkg/build/testdata/bench
W=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
BR=(--root "$W/berth" --runroot "$W/berth-run")
BH=(--root "$W/buildah" --runroot "$W/buildah-run" --storage-driver overlay)
cleanup() {
	buildah "${BH[@]}" rm --all >/dev/null 2>&1 || true
	buildah "${BH[@]}" rmi --all --force >/dev/null 2>&1 || true
	umount -R "$W/buildah" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

# The same base image in both stores.
"$BERTH" "${BR[@]}" import "$REPO/bin/busybox-rootfs.tar" busybox:latest >/dev/null
ctr=$(buildah "${BH[@]}" from scratch)
buildah "${BH[@]}" add "$ctr" "$REPO/bin/busybox-rootfs.tar" / >/dev/null
buildah "${BH[@]}" commit -q "$ctr" busybox:latest >/dev/null
buildah "${BH[@]}" rm "$ctr" >/dev/null

export BERTH_RUNTIME=${BERTH_RUNTIME:-runc}
berth_build="$BERTH ${BR[*]} build -q --network none -t bench:latest"
buildah_build="buildah ${BH[*]} bud -q --layers --runtime runc --network none --pull-never \
--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 -t bench:latest"

bench_alternate -title "cold build (no cache), multi-stage Dockerfile" \
	berth="$berth_build --no-cache $CTX" \
	buildah="$buildah_build --no-cache $CTX"

# Prime both caches, then time rebuilds that change nothing.
$berth_build "$CTX" >/dev/null
$buildah_build "$CTX" >/dev/null
bench_alternate -title "fully cached rebuild, multi-stage Dockerfile" \
	berth="$berth_build $CTX" \
	buildah="$buildah_build $CTX"
