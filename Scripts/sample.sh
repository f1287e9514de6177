#!/usr/bin/env bash
# The main job on the built-in sample: installs what is missing, builds release, generates
# ALPR-like sightings and ingests them into a store (streaming), runs the query mix with
# latency percentiles, shows a plate's history, an area, a heat map and a query plan, and
# measures the codec on ALPR-like and dense-track data.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/install-deps.sh
swift build -c release --product sightline
swift build -c release --product sightline-bench
bin=.build/release/sightline
bench=.build/release/sightline-bench
rows=${ROWS:-2000000}
store=${DIRECTORY:-.build/sample-store}
rm -rf "$store"
# A store made the ordinary way: owner-only, its key in the per-user keyring
# (~/.local/share/sightline/keyring, or SIGHTLINE_KEYRING), and every read states a purpose.
why=(--purpose "sample walkthrough")
"$bench" bench "$store" --rows "$rows" --queries 100 --json .build/sample-bench.json
echo
plate=$("$bin" area "$store" --circle 37.55,-122.10,2000 --limit 1 "${why[@]}" | tail -1 | cut -d, -f1)
echo "history of $plate (first 5 rows):"
"$bin" history "$store" "$plate" --format table --limit 5 --stats "${why[@]}"
echo
echo "sightings within 300 m of 37.55,-122.10 during the first day:"
"$bin" area "$store" --circle 37.55,-122.10,300 --from 2024-06-01T00:00:00Z --to 2024-06-02T00:00:00Z --count --stats "${why[@]}"
echo
echo "per hour of day, 2 km around the centre:"
"$bin" heatmap "$store" --circle 37.55,-122.10,2000 --by hour "${why[@]}" | head -8
echo
"$bin" explain --analyze "$store" area --bbox 37.54,-122.11,37.56,-122.09 --from 2024-06-01T00:00:00Z --to 2024-06-02T00:00:00Z "${why[@]}"
echo
"$bin" stats "$store"
"$bin" verify "$store"
echo
"$bench" measure --workload alpr --rows "$rows"
echo
"$bench" measure --workload tracks --rows "$rows"
