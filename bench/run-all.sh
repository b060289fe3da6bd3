#!/usr/bin/env bash
# Runs every bench script in turn; each prints its own table and ratio.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
for s in *.sh; do
	case "$s" in lib.sh|run-all.sh) continue ;; esac
	echo "== bench/$s"
	bash "$s"
	echo
done
