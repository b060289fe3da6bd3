#!/usr/bin/env bash
# runtime-validation.sh — run the OCI runtime-tools validation suite against an
# OCI runtime with runc's command line, and print a per-program table.
#
#   scripts/runtime-validation.sh RUNTIME [PROGRAM...]
#
# RUNTIME is a path or a name on PATH (bin/berth-runtime, runc, crun). With
# PROGRAM names (e.g. "state pidfile") only those validation programs run;
# otherwise every validation/<name> program runs. Must run as root.
#
# The suite comes from the Go module proxy (github.com/opencontainers/runtime-tools
# at RTCONF_VERSION), is copied into a writable cache directory and built there
# with -mod=mod (runtimetest with CGO_ENABLED=0). Each program runs with its cwd
# at that module root (it untars rootfs-amd64.tar.gz and copies ./runtimetest
# into each bundle), RUNTIME in its environment, in a private mount namespace
# (unshare -m; linux_ns_itype leaks mounts otherwise), and under a timeout.
#
# Environment:
#   RTCONF_VERSION  runtime-tools module version (default below)
#   RTCONF_CACHE    where the built suite lives (default ${XDG_CACHE_HOME:-~/.cache}/berth/runtime-tools)
#   RTCONF_TIMEOUT  seconds per program (default 120)
#   RTCONF_OUT      directory for the TAP output of each program and results.tsv
#                   (default: a new temporary directory, printed at the end)
#   RTCONF_WRAP     1 (default): run RUNTIME through a wrapper that keeps the
#                   container's stderr (see below); 0: call RUNTIME directly
#
# The programs that run runtimetest in a container hand the runtime two files
# of the bundle as the container's stdout and stderr, copy the stdout to their
# own and remove the bundle: what the container wrote to stderr is lost, and a
# container whose process never ran leaves an empty TAP and exit status 0. The
# wrapper (a shell script in RTCONF_OUT, exec'ing RUNTIME) saves, before each
# `delete`, the non-empty container stderr files of the bundle to
# PROGRAM.container-stderr; the table is followed by the exit status, stderr
# and container stderr of every crashed program.
#
# Output: one row per program — name, status, passed checks, failed checks,
# skipped checks — then totals. Status is
#   pass   every check passed (skips allowed)
#   fail   the program finished its TAP plan but at least one check failed
#   crash  the program did not finish its checks: no plan or a short one, no
#          checks at all (an error before the first), an error exit with no
#          failed check, or the timeout
# results.tsv in RTCONF_OUT has the same rows (program, status, passed,
# failed, skipped, exit status, seconds); fails.txt lists every failed
# check as "program<TAB>check". The exit status is 0 when the suite ran (even
# with failures) and non-zero only when it could not run.
set -euo pipefail
export PATH="/usr/local/go/bin:${GOPATH:-$HOME/go}/bin:$PATH"

usage() { echo "usage: $0 RUNTIME [PROGRAM...] | $0 --reclassify OUTDIR" >&2; exit 2; }
[ $# -ge 1 ] || usage
reclassify=
if [ "$1" = --reclassify ]; then
	# Re-read the TAP files of an earlier run (after a change to classify).
	[ $# = 2 ] && [ -f "$2/results.tsv" ] || usage
	from=$(cd "$2" && pwd)
	out=$(mktemp -d /tmp/runtime-validation.XXXXXX)
	mapfile -t progs < <(cut -f1 "$from/results.tsv")
	for p in "${progs[@]}"; do cp "$from/$p.tap" "$from/$p.stderr" "$out/" 2>/dev/null || true; done
	cp "$from/results.tsv" "$out/results.in.tsv"
	reclassify=$out/results.in.tsv
	shift 2
	set -- dummy
fi
runtime=$1; shift
if [ -n "$reclassify" ]; then
	:
elif [ "$(id -u)" != 0 ]; then
	echo "runtime-validation: must run as root" >&2
	exit 1
fi
if [ -z "$reclassify" ]; then
case $runtime in
*/*) runtime=$(cd "$(dirname "$runtime")" && pwd)/$(basename "$runtime") ;;
*) runtime=$(command -v "$runtime") || { echo "runtime-validation: $runtime not found on PATH" >&2; exit 1; } ;;
esac
[ -x "$runtime" ] || { echo "runtime-validation: $runtime is not executable" >&2; exit 1; }

version=${RTCONF_VERSION:-v0.9.1-0.20260316125833-8a4db579f5c8}
cache=${RTCONF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth/runtime-tools}
timeout_s=${RTCONF_TIMEOUT:-120}
out=${RTCONF_OUT:-$(mktemp -d /tmp/runtime-validation.XXXXXX)}
mkdir -p "$cache" "$out"
src=$cache/$version

# 1. Fetch and build the suite once per version.
if [ ! -f "$src/.built" ]; then
	echo "runtime-validation: fetching github.com/opencontainers/runtime-tools@$version" >&2
	json=$(cd "$cache" && GOFLAGS=-mod=mod GO111MODULE=on go mod download -json "github.com/opencontainers/runtime-tools@$version")
	dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
	[ -n "$dir" ] && [ -d "$dir" ] || { echo "runtime-validation: go mod download gave no Dir: $json" >&2; exit 1; }
	rm -rf "$src.tmp"
	cp -r "$dir" "$src.tmp"
	chmod -R u+w "$src.tmp"
	rm -rf "$src.tmp/vendor"
	echo "runtime-validation: building the suite in $src" >&2
	(
		cd "$src.tmp"
		CGO_ENABLED=0 go build -mod=mod -o runtimetest ./cmd/runtimetest
		mkdir -p validation-bin
		go build -mod=mod -o validation-bin/ ./validation/...
	)
	touch "$src.tmp/.built"
	rm -rf "$src"
	mv "$src.tmp" "$src"
fi

# 2. Which programs.
fi
if [ -n "$reclassify" ]; then
	:
elif [ $# -gt 0 ]; then
	progs=("$@")
else
	mapfile -t progs < <(cd "$src/validation-bin" && ls | sort)
fi

# 3. Run each one and classify its TAP output.
#
# classify PROGRAM TAP RC sets status, pass, fail, skip and appends the
# program's failed checks to fails.txt. Some programs report a problem only
# as a YAML diagnostic {"error": ...} with no check ("1..0"): that counts as
# one failed check, named "error: <first line>"; a bare "1..0" with exit 0
# is how those programs pass. The *_fail programs check
# that the runtime refuses a bad config: they print nothing and exit 0 when
# it does.
classify() {
	local p=$1 tap=$2 rc=$3 plan nerr
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$tap" | tail -1)
	skip=$(grep -E '^ok ' "$tap" | grep -ciE '# *skip' || true)
	pass=$(( $(grep -cE '^ok ' "$tap" || true) - skip ))
	fail=$(grep -cE '^not ok ' "$tap" || true)
	grep -E '^not ok ' "$tap" | sed "s/^/$p\t/" >>"$out/fails.txt" || true
	nerr=0
	if [ $((pass + fail + skip)) = 0 ]; then
		nerr=$(grep -cE '^ *"error": ' "$tap" || true)
		grep -E '^ *"error": ' "$tap" | sed -e 's/^ *"error": "//' -e 's/\\n.*//' -e 's/",*$//' |
			sed "s/^/$p\tnot ok - error: /" >>"$out/fails.txt" || true
		fail=$nerr
	fi
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		status=crash
	elif [ "$nerr" -gt 0 ]; then
		status=fail
	elif [ "$rc" != 0 ] && [ "$fail" = 0 ]; then
		status=crash
	elif [[ $p == *_fail ]] && [ "$rc" = 0 ] && [ $((pass + fail + skip)) = 0 ]; then
		status=pass
	elif [ "$plan" = 0 ] && [ "$rc" = 0 ]; then
		# The hook programs print only a plan when all went well.
		status=pass
	elif [ -z "$plan" ] || [ $((pass + fail + skip)) -lt "$plan" ] || [ $((pass + fail + skip)) = 0 ]; then
		status=crash
	elif [ "$fail" -gt 0 ]; then
		status=fail
	else
		status=pass
	fi
}

# The programs use fixed names (cgroup /cgrouptest, ...), so two runs on one
# machine would trip over each other: hold a machine-wide lock while a
# program runs.
lock=${RTCONF_LOCK:-/run/lock/berth-runtime-validation.lock}
mkdir -p "$(dirname "$lock")"
exec 9>"$lock"
: >"$out/results.tsv"
: >"$out/fails.txt"
wrapper=
if [ -z "$reclassify" ] && [ "${RTCONF_WRAP:-1}" = 1 ]; then
	wrapper=$out/runtime-wrapper
	cat >"$wrapper" <<'WRAP'
#!/bin/sh
# runtime-validation.sh's wrapper: before `delete ID`, keep the container's
# stderr files of ID's bundle (the suite removes the bundle), then run the
# runtime itself with the same arguments, as the same process.
if [ "$1" = delete ] && [ -n "$BERTH_RTCONF_SAVE" ]; then
	for id; do :; done
	bundle=$("$BERTH_RTCONF_RUNTIME" state "$id" 2>/dev/null | sed -n 's/^ *"bundle": *"\(.*\)",*$/\1/p')
	for f in "$bundle"/stderr-*; do
		[ -n "$bundle" ] && [ -s "$f" ] && { echo "== container $id ($f)"; cat "$f"; } >>"$BERTH_RTCONF_SAVE"
	done
fi
exec "$BERTH_RTCONF_RUNTIME" "$@"
WRAP
	chmod +x "$wrapper"
fi
printf '%-36s %-6s %6s %6s %6s %5s\n' PROGRAM STATUS PASS FAIL SKIP SECS
crashed=()
tp=0; tf=0; ts=0; npass=0; nfail=0; ncrash=0
for p in "${progs[@]}"; do
	tap=$out/$p.tap
	if [ -n "$reclassify" ]; then
		rc=$(awk -F'\t' -v p="$p" '$1 == p {print $6}' "$reclassify")
		secs=$(awk -F'\t' -v p="$p" '$1 == p {print $7}' "$reclassify")
	else
		bin=$src/validation-bin/$p
		if [ ! -x "$bin" ]; then
			echo "runtime-validation: no validation program $p" >&2
			exit 1
		fi
		rc=0
		flock 9
		t0=$(date +%s)
		rm -f "$out/$p.container-stderr"
		if [ -n "$wrapper" ]; then
			envs=(RUNTIME="$wrapper" BERTH_RTCONF_RUNTIME="$runtime" BERTH_RTCONF_SAVE="$out/$p.container-stderr")
		else
			envs=(RUNTIME="$runtime")
		fi
		(cd "$src" && env "${envs[@]}" timeout -k 10 "$timeout_s" unshare -m --propagation private "$bin" >"$tap" 2>"$out/$p.stderr") || rc=$?
		secs=$(($(date +%s) - t0))
		flock -u 9
	fi
	classify "$p" "$tap" "$rc"
	case $status in pass) npass=$((npass + 1)) ;; fail) nfail=$((nfail + 1)) ;; crash) ncrash=$((ncrash + 1)); crashed+=("$p $rc") ;; esac
	tp=$((tp + pass)); tf=$((tf + fail)); ts=$((ts + skip))
	printf '%-36s %-6s %6d %6d %6d %5d\n' "$p" "$status" "$pass" "$fail" "$skip" "${secs:-0}"
	printf '%s\t%s\t%d\t%d\t%d\t%d\t%d\n' "$p" "$status" "$pass" "$fail" "$skip" "$rc" "${secs:-0}" >>"$out/results.tsv"
done
printf '%-36s %-6s %6d %6d %6d\n' TOTAL "" "$tp" "$tf" "$ts"
echo "programs: ${#progs[@]} (pass $npass, fail $nfail, crash $ncrash); checks: pass $tp, fail $tf, skip $ts"
for c in "${crashed[@]}"; do
	p=${c% *}
	rc=${c##* }
	if [ "$rc" = 124 ]; then
		why="timeout"
	elif [ "$rc" -gt 128 ]; then
		why="killed by signal $((rc - 128))"
	else
		why="exit status $rc"
	fi
	echo "crash: $p ($why; TAP $(wc -l <"$out/$p.tap" 2>/dev/null || echo 0) lines)"
	[ -s "$out/$p.stderr" ] && head -n 5 "$out/$p.stderr" | sed 's/^/  stderr: /'
	[ -s "$out/$p.container-stderr" ] && head -n 8 "$out/$p.container-stderr" | sed 's/^/  container stderr: /'
done
if [ -z "$reclassify" ]; then
	echo "runtime: $runtime ($("$runtime" --version 2>/dev/null | head -1 || true))"
fi
echo "output: $out"
