#!/usr/bin/env bash
# Small requests, the hot loop of a registry: GET of a 1 KiB blob and HEAD of
# a manifest by tag, 32 concurrent keep-alive clients, against berth's
# registry and the reference registry (Debian docker-registry). Each round
# sends REG_REQUESTS requests; the ratio of times is the inverse ratio of
# requests per second.
source "$(dirname "${BASH_SOURCE[0]}")/registry-lib.bash"
BENCH_N=${BENCH_N:-10}
N=${REG_REQUESTS:-2000}
B_BLOB=$("$LOAD" setup -addr "$BERTH_ADDR" -repo bench/small)
R_BLOB=$("$LOAD" setup -addr "$REF_ADDR" -repo bench/small)
bench_alternate -title "GET 1 KiB blob, $N requests, 32 clients" \
	berth="$LOAD run -q -c 32 -n $N -method GET http://$BERTH_ADDR/v2/bench/small/blobs/$B_BLOB" \
	docker-registry="$LOAD run -q -c 32 -n $N -method GET http://$REF_ADDR/v2/bench/small/blobs/$R_BLOB"
bench_alternate -title "HEAD manifest by tag, $N requests, 32 clients" \
	berth="$LOAD run -q -c 32 -n $N -method HEAD http://$BERTH_ADDR/v2/bench/small/manifests/latest" \
	docker-registry="$LOAD run -q -c 32 -n $N -method HEAD http://$REF_ADDR/v2/bench/small/manifests/latest"
# One longer run each, for requests/s in absolute terms.
for what in "GET http://$BERTH_ADDR/v2/bench/small/blobs/$B_BLOB" "GET http://$REF_ADDR/v2/bench/small/blobs/$R_BLOB" \
	"HEAD http://$BERTH_ADDR/v2/bench/small/manifests/latest" "HEAD http://$REF_ADDR/v2/bench/small/manifests/latest"; do
	set -- $what
	"$LOAD" run -c 32 -n "$N" -method "$1" "$2"
done
