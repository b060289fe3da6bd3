#!/usr/bin/env bash
# mkrootfs.sh OUT.tar — make a tiny root filesystem tarball from Debian's
# busybox-static: /bin/busybox, a symlink for each applet (what
# `busybox --install -s` makes), /etc/passwd and /etc/group, and the usual
# empty mount points. The tarball is reproducible: same busybox, same bytes.
set -euo pipefail
out=${1:?usage: mkrootfs.sh OUT.tar}
bb=${BUSYBOX:-/bin/busybox}
if [ ! -x "$bb" ]; then
	echo "mkrootfs: $bb not found; install busybox-static (make deps)" >&2
	exit 1
fi
if ldd "$bb" >/dev/null 2>&1; then
	echo "mkrootfs: $bb is dynamically linked; install busybox-static (make deps)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
r=$tmp/rootfs
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home,var/tmp,run}
chmod 1777 "$r/tmp" "$r/var/tmp"
chmod 0700 "$r/root"
cp "$bb" "$r/bin/busybox"
chmod 0755 "$r/bin/busybox"
"$bb" --list-full | while read -r p; do
	[ -e "$r/$p" ] || [ -L "$r/$p" ] || ln -s /bin/busybox "$r/$p"
done
cat >"$r/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat >"$r/etc/group" <<'GR'
root:x:0:
daemon:x:1:
nogroup:x:65534:
GR
mkdir -p "$(dirname "$out")"
tar --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -C "$r" -cf "$out.tmp.$$" .
mv "$out.tmp.$$" "$out"
