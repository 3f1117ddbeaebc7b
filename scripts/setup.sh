#!/usr/bin/env bash
# Sets up this checkout on a fresh Debian/Ubuntu machine: system packages (when run as root),
# a virtual environment in .venv with the pinned requirements, and the database schema.
# Usage: scripts/setup.sh [--dev]   (--dev adds the test and lint tools)
set -euo pipefail
cd "$(dirname "$0")/.."

# espeak-ng speaks the synthetic talking heads, the audio check and the trapping clips;
# chromium runs the browser tests. ffmpeg itself comes with the imageio-ffmpeg wheel.
packages=(espeak-ng)
[ "${1:-}" = "--dev" ] && packages+=(chromium)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q "${missing[@]}" >/dev/null
  else
    echo "Missing system packages: ${missing[*]} (install them with: sudo apt-get install -y ${missing[*]})" >&2
  fi
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
requirements=requirements.txt
[ "${1:-}" = "--dev" ] && requirements=requirements-dev.txt
.venv/bin/python -m pip install -q --disable-pip-version-check -r "$requirements"
