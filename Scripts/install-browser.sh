#!/usr/bin/env bash
# Installs what the map page's browser test needs when it is missing: Debian's chromium and
# chromium-driver, and selenium from PyPI. Nothing is fetched at test time.
set -euo pipefail
missing=()
for pkg in chromium chromium-driver; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
python3 -c "import selenium" 2>/dev/null || python3 -m pip install -q selenium
