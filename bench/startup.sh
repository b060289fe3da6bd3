#!/usr/bin/env bash
# Process start-up cost of the runtime binary: `berth-runtime --version`
# against `runc --version`. Every runtime verb pays this before doing any work,
# so it bounds how fast `create`/`start`/`exec` can be.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need runc
bench_alternate -title "runtime binary start-up (--version)" \
	berth="$REPO/bin/berth-runtime --version" \
	runc="runc --version"
