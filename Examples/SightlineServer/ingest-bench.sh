#!/usr/bin/env bash
# HTTP ingest rate of a sightline-server build, with bodies prepared before timing: two
# writers (curl) POST twenty 100,000-row NDJSON bodies (2 M ALPR-like rows) over loopback to a
# server on a new store; prints rows/s and the server's CPU seconds per million rows.
#   bash ingest-bench.sh SERVER_BINARY [SIGHTLINE_BENCH_BINARY] [WORK_DIR]
set -euo pipefail
server=$1
bench=${2:-$(dirname "$0")/../../.build/release/sightline-bench}
work=${3:-/tmp/sightline-http-bench}
mkdir -p "$work/bodies"
if [ ! -f "$work/bodies/p19" ]; then
  "$bench" generate --rows 2000000 --seed 11 --format ndjson -o "$work/all.ndjson" 2>/dev/null
  split -l 100000 -d -a 2 "$work/all.ndjson" "$work/bodies/p"
fi
rm -rf "$work/store"
"$server" --store "$work/store" --port 0 > "$work/server.out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$work/server.out" && break; sleep 0.1; done
addr=$(grep -o "listening on [0-9.:]*" "$work/server.out" | head -1 | awk '{print $3}')
post() {  # no "Expect: 100-continue": curl would wait a second for it on every large body
  for f in "$@"; do curl -s -H "Expect:" -o /dev/null -w "%{http_code}\n" -X POST --data-binary @"$f" \
    -H "Content-Type: application/x-ndjson" "http://$addr/sightings"; done
}
cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
t0=$(date +%s.%N)
post "$work"/bodies/p0[0-9] > "$work/w1.codes" & w1=$!
post "$work"/bodies/p1[0-9] > "$work/w2.codes" & w2=$!
wait $w1 $w2
t1=$(date +%s.%N)
cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
python3 - "$t0" "$t1" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" <<'PY'
import sys
t0, t1, c0, c1, tick = map(float, sys.argv[1:])
wall, cpu = t1 - t0, (c1 - c0) / tick
print(f"2,000,000 rows in {wall:.2f} s = {2e6 / wall:,.0f} rows/s; server CPU {cpu:.2f} s = {cpu / 2:.2f} s per million rows")
PY
echo "statuses: $(sort "$work/w1.codes" "$work/w2.codes" | uniq -c | tr -s ' ' | tr '\n' ';')"
