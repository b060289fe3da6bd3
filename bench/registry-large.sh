#!/usr/bin/env bash
# Large blobs: crane push and pull of a 256 MB image (one uncompressed random
# layer, so compression does not dominate) to and from berth's registry and
# the reference registry (Debian docker-registry). Each push goes to a new
# repository, so every round uploads every byte.
source "$(dirname "${BASH_SOURCE[0]}")/registry-lib.bash"
BENCH_N=${BENCH_N:-5}
BENCH_WARMUP=${BENCH_WARMUP:-1}
CRANE=$(command -v crane || echo "${GOPATH:-$HOME/go}/bin/crane")
[ -x "$CRANE" ] || (cd "$REPO" && go install github.com/google/go-containerregistry/cmd/crane@v0.22.1)
SIZE=${REG_IMAGE_BYTES:-268435456}
"$LOAD" layout -size "$SIZE" "$REG_WORK/layout"
"$CRANE" push --insecure "$REG_WORK/layout" "$BERTH_ADDR/bench/large:v1" >/dev/null
"$CRANE" push --insecure "$REG_WORK/layout" "$REF_ADDR/bench/large:v1" >/dev/null
# sync before each timed run, so neither pays for the other's pending writeback.
bench_alternate -title "crane push of a $((SIZE >> 20)) MiB image" -before "sync" \
	berth="$CRANE push --insecure $REG_WORK/layout $BERTH_ADDR/bench/p\$(date +%s%N):v1" \
	docker-registry="$CRANE push --insecure $REG_WORK/layout $REF_ADDR/bench/p\$(date +%s%N):v1"
bench_alternate -title "crane pull of a $((SIZE >> 20)) MiB image" -before "rm -rf $REG_WORK/pull; sync" \
	berth="$CRANE pull --insecure --format oci $BERTH_ADDR/bench/large:v1 $REG_WORK/pull" \
	docker-registry="$CRANE pull --insecure --format oci $REF_ADDR/bench/large:v1 $REG_WORK/pull"
