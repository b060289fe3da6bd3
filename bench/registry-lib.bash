# bench/registry-lib.bash — sourced by bench/registry-*.sh: starts berth's
# registry and the reference registry (Debian docker-registry) side by side on
# loopback, each with a fresh root, and stops them on exit. Both log every
# request (their default) to a file.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need docker-registry curl

REG_WORK=$(mktemp -d /tmp/berth-bench-registry.XXXXXX)
REG_PIDS=()
reg_cleanup() {
	for p in "${REG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$REG_WORK"
}
trap reg_cleanup EXIT

LOAD="$REG_WORK/registry-load"
(cd "$REPO" && go build -o "$LOAD" ./bench/registry-load)

reg_wait() {
	for _ in $(seq 100); do
		curl -fs "http://$1/v2/" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bench: registry at $1 did not come up" >&2
	return 1
}

BERTH_ADDR=127.0.0.1:$("$LOAD" freeport)
"$BERTH" registry serve --addr "$BERTH_ADDR" --root "$REG_WORK/berth" >"$REG_WORK/berth.log" 2>&1 &
REG_PIDS+=($!)
REF_ADDR=127.0.0.1:$("$LOAD" freeport)
cat >"$REG_WORK/ref.yml" <<YAML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $REG_WORK/ref
  delete:
    enabled: true
http:
  addr: $REF_ADDR
YAML
docker-registry serve "$REG_WORK/ref.yml" >"$REG_WORK/ref.log" 2>&1 &
REG_PIDS+=($!)
reg_wait "$BERTH_ADDR"
reg_wait "$REF_ADDR"
