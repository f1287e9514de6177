#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, AddressSanitizer) of every decoder of untrusted bytes.
#
#   bash Scripts/fuzz.sh --list             the targets, one a line
#   bash Scripts/fuzz.sh TARGET SECONDS     fuzz one target; exit 0 when nothing was found
#   bash Scripts/fuzz.sh --all SECONDS      every target in turn, SECONDS each (CI)
#
# Builds Fuzz/ (its own package) with the flags on the command line, never in a
# Package.swift: -sanitize=fuzzer,address, -parse-as-library (libFuzzer supplies main) and
# SIGHTLINE_FUZZING, which makes every checksum 0 so mutated inputs reach the decoders
# behind the checksums. Seeds are real files written by that build (a store that went through
# every operation that writes a file); the corpus grows in .build-fuzz/corpus/TARGET.
# Every committed input in Fuzz/Regressions/TARGET/ (past findings) is replayed first.
# A finding is saved as .build-fuzz/findings/TARGET-crash-… (or leak-, timeout-, oom-).
# Limits: 1 s per input (a longer one is a hang), 2 GiB RSS, 512 MiB per allocation.
# Built in release mode (with -enable-testing for the targets' @testable imports).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS="segment sealed wal manifest deletion-log alert-log audit-log rules policy-files csv ndjson query-text control-request export-manifest parquet"

usage() { echo "usage: bash Scripts/fuzz.sh --list | TARGET SECONDS | --all SECONDS" >&2; exit 2; }
if [ "${1:-}" = "--list" ]; then
    for t in $TARGETS; do echo "$t"; done
    exit 0
fi
[ "$#" -eq 2 ] || usage
[[ "$2" =~ ^[0-9]+$ ]] || usage
if [ "$1" = "--all" ]; then
    for t in $TARGETS; do bash "$0" "$t" "$2" || exit 1; done
    exit 0
fi
TARGET="$1" SECONDS_PER_TARGET="$2"
case " $TARGETS " in *" $TARGET "*) ;; *) echo "fuzz.sh: no target '$TARGET' (bash Scripts/fuzz.sh --list)" >&2; exit 2;; esac

source Scripts/install-deps.sh >/dev/null
SCRATCH="$PWD/.build-fuzz"
FLAGS=(-c release --package-path Fuzz --scratch-path "$SCRATCH"
       -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing -Xswiftc -DSIGHTLINE_FUZZING)
mkdir -p "$SCRATCH"
# SwiftPM does not notice files added to or removed from a path dependency: when the list
# of sources changed since the last fuzz build, touch the manifests so it plans again.
SOURCES_NOW="$(find Sources Fuzz/Sources -name '*.swift' | sort | cksum)"
if [ "$(cat "$SCRATCH/sources.cksum" 2>/dev/null)" != "$SOURCES_NOW" ]; then
    touch Package.swift Fuzz/Package.swift
fi
if ! swift build "${FLAGS[@]}" >"$SCRATCH/build.log" 2>&1; then
    grep -E "error" -A3 "$SCRATCH/build.log" | head -30 >&2
    echo "fuzz.sh: the fuzz build failed (log: $SCRATCH/build.log)" >&2
    exit 1
fi
echo "$SOURCES_NOW" > "$SCRATCH/sources.cksum"
BIN="$(swift build "${FLAGS[@]}" --show-bin-path)/sightline-fuzz"
[ -x "$BIN" ] || { echo "fuzz.sh: build failed" >&2; exit 1; }

CORPUS="$SCRATCH/corpus/$TARGET" SEEDS="$SCRATCH/seeds" FINDINGS="$SCRATCH/findings"
mkdir -p "$CORPUS" "$FINDINGS"
if [ ! -d "$SEEDS/$TARGET" ]; then
    rm -rf "$SEEDS"
    ASAN_OPTIONS=detect_leaks=0 SIGHTLINE_FUZZ_SEEDS="$SEEDS" "$BIN" >/dev/null
fi
export SIGHTLINE_FUZZ_TARGET="$TARGET"
# Leak checking is off: the Swift runtime's lazily built metadata and the engine's
# process-wide caches look like leaks to LeakSanitizer; a real leak still fails the run
# through the RSS limit.
LIMITS=(-timeout=1 -rss_limit_mb=2048 -malloc_limit_mb=512 -detect_leaks=0)
if [ -d "Fuzz/Regressions/$TARGET" ] && [ -n "$(ls -A "Fuzz/Regressions/$TARGET")" ]; then
    if ! "$BIN" "${LIMITS[@]}" Fuzz/Regressions/"$TARGET"/* >"$SCRATCH/$TARGET.regressions.log" 2>&1; then
        echo "fuzz $TARGET: a past finding fails again (log: $SCRATCH/$TARGET.regressions.log)" >&2
        exit 1
    fi
fi
LOG="$SCRATCH/$TARGET.log"
status=0
"$BIN" "${LIMITS[@]}" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
    -artifact_prefix="$FINDINGS/$TARGET-" "$CORPUS" "$SEEDS/$TARGET" >"$LOG" 2>&1 || status=$?
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOG" | grep -o '[0-9]*$' || echo "?")
cov=$(grep -oE 'cov: [0-9]+' "$LOG" | tail -1 | grep -oE '[0-9]+' || echo "?")
if [ "$status" -ne 0 ]; then
    echo "fuzz $TARGET: FOUND after $runs runs (log: $LOG)" >&2
    grep -E "invariant broken|ERROR: |Fatal error|SUMMARY|Test unit written" "$LOG" | head -8 >&2
    exit 1
fi
echo "fuzz $TARGET: ${SECONDS_PER_TARGET}s, $runs runs, coverage $cov edges, corpus $(ls "$CORPUS" | wc -l) inputs, nothing found"
