#!/usr/bin/env bash
# Installs what the benchmark compares roomgate with, and its load generators:
# wrk, nginx and haproxy from Debian's packages; bench/openloop/openloop.c
# (the open-loop client of http-latency) compiled to bench/peers/openloop; http-proxy, socket.io and
# socket.io-client from npm into bench/peers (its own package.json, so the
# project's lockfile never changes). wrk is required; a peer that cannot be
# installed is written to bench/peers/missing.txt and reported as missing by
# the scenarios, never silently dropped.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing="$here/peers/missing.txt"
mkdir -p "$here/peers"
: > "$missing"

SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || (command -v sudo >/dev/null && echo sudo || echo none))
updated=0
apt_install() { # command package
  command -v "$1" >/dev/null && return 0
  if [ "$SUDO" = none ]; then return 1; fi
  if [ "$updated" -eq 0 ]; then $SUDO apt-get update -qq >/dev/null 2>&1; updated=1; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1
  # Debian starts the services it installs: the benchmark runs its own.
  $SUDO systemctl stop "$2" >/dev/null 2>&1 || true
  command -v "$1" >/dev/null
}

if ! apt_install wrk wrk; then
  echo "bench/setup.sh: wrk is missing and could not be installed (apt-get install wrk)" >&2
  exit 1
fi
if ! apt_install gcc gcc; then
  echo "bench/setup.sh: gcc is missing and could not be installed (apt-get install gcc): it builds bench/openloop" >&2
  exit 1
fi
if [ ! -x "$here/peers/openloop" ] || [ "$here/openloop/openloop.c" -nt "$here/peers/openloop" ]; then
  gcc -O2 -Wall -o "$here/peers/openloop" "$here/openloop/openloop.c" || { echo "bench/setup.sh: bench/openloop/openloop.c did not compile" >&2; exit 1; }
fi
for peer in nginx haproxy; do
  apt_install "$peer" "$peer" || { echo "$peer" >> "$missing"; echo "bench/setup.sh: $peer could not be installed; reported as missing" >&2; }
done

if [ ! -f "$here/peers/package.json" ]; then
  printf '{ "name": "roomgate-bench-peers", "private": true }\n' > "$here/peers/package.json"
fi
if ! (cd "$here/peers" && [ -d node_modules/http-proxy ] && [ -d node_modules/socket.io ] && [ -d node_modules/socket.io-client ]); then
  if ! (cd "$here/peers" && npm install --no-audit --no-fund --silent http-proxy@1 socket.io@4 socket.io-client@4 >/dev/null 2>&1); then
    for p in http-proxy socket.io; do [ -d "$here/peers/node_modules/$p" ] || echo "$p" >> "$missing"; done
    echo "bench/setup.sh: some npm peers could not be installed; see $missing" >&2
  fi
fi
exit 0
