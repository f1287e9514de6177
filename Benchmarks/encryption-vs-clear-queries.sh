#!/usr/bin/env bash
# The query half of encryption-vs-clear.sh, more alternating rounds on the two stores it
# made (Docs/benchmarks.md, "Segments sealed at rest"): run it after that script.
cd "$(dirname "$0")/.."
B="$PWD/.build/release"
export SIGHTLINE_KEYRING=/tmp/mring2
export SIGHTLINE_SECRET=00112233445566778899aabbccddeeff
for run in 4 5 6 7; do
  for mode in none aes-256-gcm; do
    $B/sightline-bench query-bench /tmp/st2-$mode --queries 300 --unaudited --purpose bench 2>&1 | grep -E "history, all|area 1 km², 24|area 1 km², 30|count 1 km|heat map" | sed "s/^/query $mode run $run: /"
  done
done
