#!/usr/bin/env bash
# stress-runtime-validation.sh — run runtime-tools validation programs again
# and again, in parallel and optionally under load, and count the crashes:
# the reproduction of the silent validation crashes of
# docs/runtime-conformance.md ("The silent crash").
#
#   scripts/stress-runtime-validation.sh [-n N] [-j J] [--load] [--big-env] RUNTIME PROGRAM...
#
#   -n N       iterations per job (default 20)
#   -j J       parallel jobs (default 2); each runs every PROGRAM N times
#              through scripts/runtime-validation.sh (its own output
#              directory and lock, so use programs without fixed cgroup
#              names: process_rlimits, process_user, default, mounts, ...)
#   --load     also keep the CPUs, memory and disk busy meanwhile
#              (stress-ng if installed, else busy shell loops and dd)
#   --big-env  give every container 1.7 MiB more environment (within the
#              2 MiB execve allows with the usual stack limit; a RUNTIME
#              wrapper edits config.json on create): the init then
#              allocates megabytes just before its exec, which made the
#              old crash of process_rlimits happen in most runs (4 of 6)
#              instead of a few percent under load
#
# Prints one line per crashed run (program, exit status, first line of the
# container's stderr) and a count per program and status, and leaves every
# run's output in the directory it names. Exit status: 0 when no run
# crashed, 1 when one did, 2 on bad usage. Must run as root.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() { echo "usage: $0 [-n N] [-j J] [--load] [--big-env] RUNTIME PROGRAM..." >&2; exit 2; }
n=20 j=2 load= bigenv=
while [ $# -gt 0 ]; do
	case $1 in
	-n) n=${2:?}; shift 2 ;;
	-j) j=${2:?}; shift 2 ;;
	--load) load=1; shift ;;
	--big-env) bigenv=1; shift ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -ge 2 ] || usage
[[ $n =~ ^[1-9][0-9]*$ && $j =~ ^[1-9][0-9]*$ ]] || usage
runtime=$1; shift
case $runtime in
*/*) runtime=$(cd "$(dirname "$runtime")" && pwd)/$(basename "$runtime") ;;
*) runtime=$(command -v "$runtime") || { echo "stress: $runtime not found" >&2; exit 2; } ;;
esac
[ "$(id -u)" = 0 ] || { echo "stress: must run as root" >&2; exit 2; }

out=$(mktemp -d /tmp/stress-runtime-validation.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -- "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# Build the suite first (once), so the jobs do not race to build it.
RTCONF_OUT=$out/build RTCONF_LOCK=$out/lock.build "$here/runtime-validation.sh" "$runtime" "$1" >/dev/null

rt=$runtime
if [ -n "$bigenv" ]; then
	envfile=$out/big-env.json
	big=$(head -c $((127 << 10)) /dev/zero | tr '\0' x)
	for i in $(seq -w 0 13); do printf '\t\t\t"BIG%s=%s",\n' "$i" "$big"; done >"$envfile"
	rt=$out/big-env-runtime
	cat >"$rt" <<EOF
#!/bin/sh
# On create, put 1.7 MiB more environment into the bundle's config.json
# (indented by the suite's generator: "env": [ on a line of its own).
if [ "\$1" = create ]; then
	bundle=.
	prev=
	for a; do [ "\$prev" = --bundle ] && bundle=\$a; prev=\$a; done
	sed -i '/^\t\t"env": \[\$/r $envfile' "\$bundle/config.json"
fi
exec "$runtime" "\$@"
EOF
	chmod +x "$rt"
fi

if [ -n "$load" ]; then
	if command -v stress-ng >/dev/null; then
		stress-ng --cpu 2 --io 1 --vm 1 --vm-bytes 512M >"$out/load.log" 2>&1 &
		pids+=($!)
	else
		for _ in 1 2; do (while :; do :; done) & pids+=($!); done
		(while :; do dd if=/dev/zero of="$out/load.dd" bs=1M count=256 conv=fsync 2>/dev/null; done) &
		pids+=($!)
	fi
fi

job() {
	local k=$1 i
	shift
	for i in $(seq "$n"); do
		RTCONF_OUT=$out/j$k.$i RTCONF_LOCK=$out/lock.$k "$here/runtime-validation.sh" "$rt" "$@" >"$out/j$k.$i.table" 2>&1 || true
	done
}
jobs=()
for k in $(seq "$j"); do
	job "$k" "$@" &
	jobs+=($!)
done
wait "${jobs[@]}"

: >"$out/counts"
crashes=0
for r in "$out"/j*.*/results.tsv; do
	d=$(dirname "$r")
	while IFS=$'\t' read -r p status _ _ _ rc _; do
		echo "$p $status" >>"$out/counts"
		if [ "$status" = crash ]; then
			crashes=$((crashes + 1))
			first=$(grep -v '^== container' "$d/$p.container-stderr" 2>/dev/null | head -1 || true)
			echo "crash: $p in $d (exit status $rc; container stderr: ${first:-none})"
		fi
	done <"$r"
done
echo "runs per program and status:"
sort "$out/counts" | uniq -c
echo "crashed runs: $crashes (runtime $runtime${bigenv:+, 1.7 MiB more environment}${load:+, under load}); output: $out"
[ "$crashes" = 0 ]
