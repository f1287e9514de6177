#!/usr/bin/env bash
# Encrypted vs --encryption none (Docs/benchmarks.md, "Segments sealed at rest"): the same
# plate-key secret (so query-bench draws the same queries from both), one release binary,
# three alternating runs. Needs /tmp/alpr10m.csv (sightline-bench generate --rows 10000000 -o
# /tmp/alpr10m.csv) and a release build (swift build -c release).
set -u
cd "$(dirname "$0")/.."
B="$PWD/.build/release"
export SIGHTLINE_KEYRING=/tmp/mring2
export SIGHTLINE_SECRET=00112233445566778899aabbccddeeff
for run in 1 2 3; do
  for mode in aes-256-gcm none; do
    st=/tmp/st2-$mode
      rm -rf $st
    $B/sightline init $st --require none --encryption $mode >/dev/null
    /usr/bin/time -f "ingest $mode run $run: %e s wall, %U+%S s cpu" $B/sightline ingest $st /tmp/alpr10m.csv > /dev/null 2>/tmp/ingest2-$mode-$run.err
    grep "ingest" /tmp/ingest2-$mode-$run.err | tail -1
  done
done
for run in 1 2 3; do
  for mode in aes-256-gcm none; do
    $B/sightline-bench query-bench /tmp/st2-$mode --queries 300 --unaudited --purpose bench 2>&1 | grep -E "history, all|area 1 km², 24|area 1 km², 30|count 1 km|heat map" | sed "s/^/query $mode run $run: /"
  done
done
