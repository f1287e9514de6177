#!/usr/bin/env bash
# The chaos soak: one store, a writer ingesting random batches (duplicates, late rows) that
# is SIGKILLed at random and restarted, purges and compactions between its batches,
# retention and compaction on a 1-second maintenance timer, hotlist alerts, an in-process
# reader and read-only CLI processes querying throughout — every answer checked against an
# oracle, a full check after every restart, the files checked at the end.
#
#   bash Scripts/soak.sh MINUTES [SEED]      exit 0 only when every check held
#   SANITIZE=thread bash Scripts/soak.sh ...  the same under ThreadSanitizer (own build dir)
#
# Debug build: the engine's debug-build assertions run too. On failure the store is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${1:?usage: bash Scripts/soak.sh MINUTES [SEED]}"
SEED="${2:-$(( (RANDOM << 15) | RANDOM ))}"
source Scripts/install-deps.sh >/dev/null
BUILD=()
if [ -n "${SANITIZE:-}" ]; then
  BUILD=(--sanitize="$SANITIZE" --scratch-path .build-"$SANITIZE")
  # A report fails the run: the soak's own threads, the writer and the CLI readers alike.
  export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}"
fi
swift build "${BUILD[@]}" --product sightline-soak >/dev/null
swift build "${BUILD[@]}" --product sightline >/dev/null
BIN="$(swift build "${BUILD[@]}" --show-bin-path)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sightline-soak.XXXXXX")"
status=0
"$BIN/sightline-soak" run "$WORK/store" "$MINUTES" "$SEED" "$BIN/sightline" || status=$?
if [ "$status" -eq 0 ]; then rm -rf "$WORK"; else echo "soak failed (seed $SEED); store kept in $WORK/store" >&2; fi
exit "$status"
