#!/usr/bin/env bash
# `berth-runtime run` of /bin/true on a busybox bundle against `runc run` on
# the same bundle, alternating (bench/alternate). Each run creates the
# namespaces and cgroup, pivots into the rootfs, runs /bin/true and deletes
# the container, so this is the whole container lifecycle cost.
# The init (and anything else per container) lives only while the container
# does; the peak RSS column is the runtime process's own.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need runc
[ -f "$REPO/bin/busybox-rootfs.tar" ] || (cd "$REPO" && make -s rootfs)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/rootfs" "$work/berth-root" "$work/runc-root"
tar -C "$work/bundle/rootfs" -xf "$REPO/bin/busybox-rootfs.tar"
"$REPO/bin/berth-runtime" spec --bundle "$work/bundle"
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
s = json.load(open(p))
s["process"]["terminal"] = False
s["process"]["args"] = ["/bin/true"]
json.dump(s, open(p, "w"))
PY
id=bench-$$
# BENCH_GO_INIT=1 adds berth-runtime forced onto its Go init (the container
# set-up is otherwise done by the C init: docs/runtime.md).
extra=()
if [ -n "${BENCH_GO_INIT:-}" ]; then
	extra=(berth-goinit="env BERTH_GO_INIT=1 $REPO/bin/berth-runtime --root $work/berth-root run --bundle $work/bundle $id-goinit")
fi
bench_alternate -title "runtime run /bin/true (busybox bundle)" \
	berth="$REPO/bin/berth-runtime --root $work/berth-root run --bundle $work/bundle $id-berth" \
	"${extra[@]}" \
	runc="runc --root $work/runc-root run --bundle $work/bundle $id-runc"
