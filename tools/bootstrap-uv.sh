#!/usr/bin/env bash
# Puts uv (pinned) into .tools/ when it is not on PATH. A fresh Debian may lack
# python3-venv and pip; install them from Debian's packages when we are allowed to.
set -euo pipefail
version="$1"
target=".tools"
python="${PYTHON:-python3}"

if ! "$python" -m venv "$target" >/dev/null 2>&1; then
  rm -rf "$target"
  if [ "$(id -u)" -eq 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else
    echo "error: '$python -m venv' does not work and apt-get needs root; install python3-venv" >&2
    exit 1
  fi
  echo "installing python3-venv from Debian's packages"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv python3-pip >/dev/null
  "$python" -m venv "$target"
fi
"$target/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$version"
