#!/usr/bin/env bash
# The main job on the built-in sample: installs what is missing, builds release, generates
# ALPR-like sightings, writes and verifies segments, looks up a plate, and measures the codec.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/install-deps.sh
swift build -c release --product sightline
bin=.build/release/sightline
rows=${ROWS:-2000000}
"$bin" sample --rows "$rows" --directory "${DIRECTORY:-.build/sample-store}"
echo
"$bin" measure --workload alpr --rows "$rows"
echo
"$bin" measure --workload tracks --rows "$rows"
