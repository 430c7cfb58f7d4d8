#!/usr/bin/env bash
# Installs what the test suite needs from Debian's packages when it is missing:
# redis-server (integration tests start their own on a free port), chromium
# (the dashboard test drives it headless with playwright-core) and gcc (the
# open-loop benchmark client's test compiles it).
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v gcc >/dev/null || need+=(gcc)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  echo "install-test-tools: missing ${need[*]} and cannot install without root" >&2
  exit 1
fi
SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
# The redis package may start a system instance; the tests start their own.
