#!/usr/bin/env bash
# Builds the DocC documentation of the Sightline library (swift-docc-plugin) with warnings
# as errors, then checks that every public symbol has a doc comment (compiler-synthesized
# conformance members excepted). Exit 0 when both hold.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
log=$(mktemp)  # a clean clone has no .build yet
trap 'rm -f "$log"' EXIT
swift package generate-documentation --target Sightline --warnings-as-errors > "$log" 2>&1 || { cat "$log"; exit 1; }
graph=$(find .build -path '*extracted-symbols*' -name Sightline.symbols.json | head -n 1)
python3 - "$graph" <<'PY'
import json, sys
symbols = json.load(open(sys.argv[1]))["symbols"]
missing = sorted({".".join(s["pathComponents"]) + " (" + s.get("location", {}).get("uri", "").split("/")[-1] + ")"
                  for s in symbols
                  if s.get("accessLevel") in ("public", "open") and "docComment" not in s and "location" in s})
for m in missing: print("undocumented public symbol:", m)
print(f"docs: {len(symbols)} symbols, {len(missing)} public ones undocumented")
sys.exit(1 if missing else 0)
PY
