#!/usr/bin/env bash
# Installs the system packages the tests and local mode run for real: a Redis server
# (Debian's redis-server; the tests start their own on a free loopback port) and
# Node.js/npm for the pinned Copilot CLI. Does nothing when they are already there.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "error: need ${missing[*]} and cannot install them without root (or sudo)." >&2
    exit 1
  fi
else
  SUDO=
fi
echo "installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
