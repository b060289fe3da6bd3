#!/usr/bin/env bash
# demo.sh — the README's main job: shows what berth can do on this machine,
# end to end, with the offline busybox base. It grows with each capability.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BERTH=$PWD/bin/berth
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "berth version"
"$BERTH" version

step "offline base rootfs (Debian busybox-static)"
ls -l bin/busybox-rootfs.tar
echo "$(tar -tf bin/busybox-rootfs.tar | wc -l) entries, sha256 $(sha256sum bin/busybox-rootfs.tar | cut -c1-16)…"
