#!/usr/bin/env bash
# Installs the C libraries Sightline links (zstd, lz4) and pkg-config when they are missing.
set -euo pipefail

# Installs those of Debian packages "$@" that are not installed yet.
apt_install_missing() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
  fi
}

apt_install_missing libzstd-dev liblz4-dev pkg-config
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
