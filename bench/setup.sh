#!/usr/bin/env bash
# Installs the benchmark's load generator (wrk) from Debian's packages when it
# is missing. Fails loudly when it cannot: a benchmark without its load
# generator must not pretend to have run.
set -euo pipefail
command -v wrk >/dev/null && exit 0
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  echo "bench/setup.sh: wrk is missing and cannot be installed without root (apt-get install wrk)" >&2
  exit 1
fi
SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
