# bench/lib.sh — sourced by every bench script. Provides:
#   bench_need PKG...      install Debian packages (the anchors) when absent
#   bench_alternate ARGS   run bench/alternate (NAME=CMD pairs; the last is the anchor)
# Scripts run as root from any directory; BERTH is the built binary.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
BERTH=${BERTH:-$REPO/bin/berth}
BENCH_N=${BENCH_N:-20}
BENCH_WARMUP=${BENCH_WARMUP:-3}

bench_need() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "bench: installing ${missing[*]}" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
	fi
}

_alternate_bin=""
bench_alternate() {
	if [ -z "$_alternate_bin" ]; then
		_alternate_bin=$(mktemp -d)/alternate
		(cd "$REPO" && go build -o "$_alternate_bin" ./bench/alternate)
	fi
	"$_alternate_bin" -n "$BENCH_N" -warmup "$BENCH_WARMUP" "$@"
}

[ -x "$BERTH" ] || (cd "$REPO" && make -s build)
