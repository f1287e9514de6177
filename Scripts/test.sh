#!/usr/bin/env bash
# The test command: installs what is missing, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/install-deps.sh
# The engine's folders depend one way (Docs/architecture.md); python3 ships with Debian.
if command -v python3 >/dev/null 2>&1; then python3 Scripts/check-layers.py; else echo "python3 missing: layering not checked"; fi
# The README's Swift samples are the ones ReadmeSampleTests compiles and runs.
python3 Scripts/check-readme-samples.py
# Every public symbol documented, DocC without warnings (swift-docc-plugin).
bash Scripts/check-docs.sh
swift test "$@"
# The example service (its own package, Hummingbird 2): integration test against the CLI
# just built. Its first build from a clean clone takes several minutes.
if [ "$#" -eq 0 ]; then
    export SIGHTLINE_CLI="$PWD/.build/debug/sightline"
    (cd Examples/SightlineServer && swift test)
    # Its map page in a real browser: Debian's chromium and chromium-driver, selenium from PyPI.
    source Scripts/install-browser.sh
    python3 Examples/SightlineServer/Tests/browser/map_test.py Examples/SightlineServer/.build/debug/sightline-server
    # Every fuzz target for a short while (libFuzzer + AddressSanitizer; its own release
    # build), then a short chaos soak. Long runs: Docs/reliability.md.
    bash Scripts/fuzz.sh --all "${SIGHTLINE_FUZZ_SECONDS:-15}"
    bash Scripts/soak.sh "${SIGHTLINE_SOAK_MINUTES:-2}"
fi
