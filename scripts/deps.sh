#!/usr/bin/env bash
# deps.sh — install what berth's build, tests and demo need on a fresh Debian
# machine. Idempotent, and quick when everything is already there.
#
# Debian packages are listed in scripts/deps.d/*.txt (one file per area, one
# package per line, # comments). Go tools are listed in scripts/deps.d/go-tools.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/usr/local/go/bin:${GOPATH:-$HOME/go}/bin:$PATH"

# 1. The Go toolchain, at least the version go.mod names.
if ! command -v go >/dev/null; then
	echo "deps: no Go toolchain on PATH; install Go $(awk '/^go /{print $2}' go.mod) or newer at /usr/local/go" >&2
	exit 1
fi
want=$(awk '/^go /{print $2}' go.mod)
have=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" != "$want" ]; then
	echo "deps: Go $have is older than the $want that go.mod needs" >&2
	exit 1
fi

# 2. Debian packages.
mapfile -t pkgs < <(sed 's/#.*//' scripts/deps.d/*.txt | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages: ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 3. Go tools (name@version per line), installed into GOPATH/bin when absent.
if [ -f scripts/deps.d/go-tools ]; then
	while read -r mod; do
		mod=${mod%%#*}; mod=$(echo "$mod" | xargs)
		[ -n "$mod" ] || continue
		bin=$(basename "${mod%@*}")
		command -v "$bin" >/dev/null || { echo "deps: go install $mod"; go install "$mod"; }
	done < scripts/deps.d/go-tools
fi
echo "deps: ok"
