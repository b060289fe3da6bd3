#!/usr/bin/env bash
# demo.sh — the README's main job, end to end on this machine with no registry
# on the internet: make the offline busybox base image, build the example app
# from its Dockerfile, run it published on a host port, and ask it for a page.
# DEMO_PORT picks the host port (default 8080).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BERTH=$PWD/bin/berth
PORT=${DEMO_PORT:-8080}
NAME=berth-demo-hello
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
trap '"$BERTH" rm -f "$NAME" >/dev/null 2>&1 || true' EXIT

step "berth version"
"$BERTH" version

step "berth import bin/busybox-rootfs.tar busybox:latest   (offline base image from Debian's busybox-static)"
# Imported once: importing again would make a new image ID (a new creation time).
"$BERTH" image inspect busybox:latest >/dev/null 2>&1 || "$BERTH" import bin/busybox-rootfs.tar busybox:latest
"$BERTH" images

step "berth build -t hello:latest examples/hello"
"$BERTH" build -t hello:latest examples/hello

step "berth run -d --name $NAME -p $PORT:8080 hello:latest"
"$BERTH" rm -f "$NAME" >/dev/null 2>&1 || true
"$BERTH" run -d --name "$NAME" -p "$PORT:8080" hello:latest
"$BERTH" ps

step "curl http://127.0.0.1:$PORT/"
deadline=$((SECONDS + 15))
until curl -fsS "http://127.0.0.1:$PORT/"; do
	if [ $SECONDS -ge $deadline ]; then
		echo "demo: the app did not answer on port $PORT within 15 s" >&2
		"$BERTH" logs "$NAME" >&2 || true
		exit 1
	fi
	sleep 0.2
done

step "berth logs $NAME"
"$BERTH" logs "$NAME"

step "berth exec $NAME id"
"$BERTH" exec "$NAME" id

step "berth stop $NAME && berth rm $NAME"
"$BERTH" stop "$NAME"
"$BERTH" rm "$NAME"
echo "demo: done"
