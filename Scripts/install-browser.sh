#!/usr/bin/env bash
# Installs what the map page's browser test needs when it is missing: Debian's chromium and
# chromium-driver, and selenium from PyPI. Nothing is fetched at test time.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/install-deps.sh"
apt_install_missing chromium chromium-driver
python3 -c "import selenium" 2>/dev/null || python3 -m pip install -q selenium
