#!/usr/bin/env bash
# Pull of a 4-layer, 256 MB image of incompressible layers from a local
# distribution registry (Debian's docker-registry), into a ready-to-run
# store: `berth pull` (blobs verified and kept, layers unpacked) against
# `podman pull` (containers-storage, overlay) and against `skopeo copy` into
# an OCI directory (download only, nothing unpacked). Every round starts
# from an empty store. Then one instrumented berth pull says where the time
# goes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need docker-registry podman skopeo
command -v crane >/dev/null || go install github.com/google/go-containerregistry/cmd/crane@v0.22.1

work=$(mktemp -d /var/tmp/berth-bench-pull.XXXXXX)
regpid=""
cleanup() {
	[ -n "$regpid" ] && { kill "$regpid" 2>/dev/null; wait "$regpid" 2>/dev/null || true; }
	podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay rmi -af >/dev/null 2>&1 || true
	umount -R "$work/podman" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# A registry of our own on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host=127.0.0.1:$port
cat >"$work/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $host
YML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
regpid=$!
for _ in $(seq 100); do curl -fs "http://$host/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

# 4 layers of 64 MiB random bytes each.
layers=()
for i in 1 2 3 4; do
	mkdir -p "$work/l$i/data"
	head -c $((64 << 20)) /dev/urandom >"$work/l$i/data/blob$i"
	tar -C "$work/l$i" -cf "$work/l$i.tar" data
	layers+=(-f "$work/l$i.tar")
done
ref=$host/bench/pull:1
crane append --insecure "${layers[@]}" -t "$ref" >/dev/null
rm -rf "$work"/l?

P="podman --root $work/podman --runroot $work/podman-run --storage-driver overlay"
before="rm -rf $work/berth $work/oci; $P rmi -af >/dev/null 2>&1 || true; sync; echo 3 >/proc/sys/vm/drop_caches"

bench_alternate -title "pull 4 x 64 MB incompressible layers: berth vs podman" -before "$before" \
	berth="$BERTH --root $work/berth pull -q $ref" \
	podman="$P pull -q --tls-verify=false $ref"
bench_alternate -title "pull 4 x 64 MB incompressible layers: berth vs skopeo copy to an OCI dir" -before "$before" \
	berth="$BERTH --root $work/berth pull -q $ref" \
	skopeo="skopeo copy -q --src-tls-verify=false docker://$ref oci:$work/oci:bench"

# Where berth's time goes: one pull with berth's phase timings (debug
# log), and the floor under it: fetching the same blobs to /dev/null.
sh -c "$before"
echo "berth pull phases:"
"$BERTH" --root "$work/berth" --log-level debug pull -q "$ref" 2>&1 >/dev/null | grep -E 'msg="pull' | sed 's/^/  /'
# CPU time (user + system) of one berth pull and one skopeo copy.
cputime() {
	sh -c "$before"
	local TIMEFORMAT="%U %S"
	{ time "$@" >/dev/null 2>&1; } 2>&1 | awk '{printf "%.2fs (user %.2f, sys %.2f)", $1 + $2, $1, $2}'
}
echo "CPU time of one pull: berth $(cputime "$BERTH" --root "$work/berth" pull -q "$ref"), skopeo copy $(cputime skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$work/oci:bench")"
sh -c "$before"
start=$(date +%s.%N)
pids=()
for d in $(crane manifest --insecure "$ref" | python3 -c 'import json,sys; print(" ".join(l["digest"] for l in json.load(sys.stdin)["layers"]))'); do
	curl -fsS -o /dev/null "http://$host/v2/bench/pull/blobs/$d" &
	pids+=($!)
done
wait "${pids[@]}"
echo "floor: curl the 4 layer blobs in parallel to /dev/null: $(python3 -c "print(round($(date +%s.%N) - $start, 3))")s"
