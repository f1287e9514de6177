#!/usr/bin/env bash
# A longer crash soak than the test suite's: SIGKILLs a write-ahead-log writer and a store
# writer KILLS times each (default 500), checking after every kill that every acknowledged
# row is present exactly once.   Usage: bash Scripts/crash-soak.sh [KILLS]
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/install-deps.sh
SIGHTLINE_SOAK_KILLS="${1:-500}" swift test --filter CrashTests
