#!/usr/bin/env bash
# HTTP ingest rate of a sightline-server build, with bodies prepared before timing: two
# writers (curl) POST twenty 100,000-row bodies (2 M ALPR-like rows, NDJSON or CSV) over
# loopback to a server on a new store, with a bearer token of role ingest; prints rows/s and
# the server's CPU seconds per million rows.
#   bash ingest-bench.sh SERVER_BINARY [ndjson|csv] [SIGHTLINE_BENCH_BINARY] [WORK_DIR]
set -euo pipefail
server=$1
format=${2:-ndjson}
bench=${3:-$(dirname "$0")/../../.build/release/sightline-bench}
work=${4:-/tmp/sightline-http-bench}
mkdir -p "$work/$format"
if [ ! -f "$work/$format/p19" ]; then
  "$bench" generate --rows 2000000 --seed 11 --format "$format" -o "$work/all.$format" 2>/dev/null
  if [ "$format" = csv ]; then
    header=$(head -1 "$work/all.csv")
    tail -n +2 "$work/all.csv" | split -l 100000 -d -a 2 - "$work/csv/body"
    for f in "$work"/csv/body*; do { echo "$header"; cat "$f"; } > "$work/csv/p${f##*body}"; rm "$f"; done
  else
    split -l 100000 -d -a 2 "$work/all.ndjson" "$work/ndjson/p"
  fi
fi
type=application/x-ndjson; [ "$format" = csv ] && type=text/csv
rm -rf "$work/store" "$work/keyring" "$work/tokens"
token=$("$server" token add --tokens "$work/tokens" --requester bench --agency BENCH --roles ingest)
"$server" serve --store "$work/store" --keyring "$work/keyring" --tokens "$work/tokens" --port 0 > "$work/server.out" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$work/server.out" && break; sleep 0.1; done
addr=$(grep -o "listening on [0-9.:]*" "$work/server.out" | head -1 | awk '{print $3}')
post() {  # no "Expect: 100-continue": curl would wait a second for it on every large body
  for f in "$@"; do curl -s -H "Expect:" -o /dev/null -w "%{http_code}\n" -X POST --data-binary @"$f" \
    -H "Authorization: Bearer $token" -H "Content-Type: $type" "http://$addr/v1/sightings"; done
}
cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
t0=$(date +%s.%N)
post "$work/$format"/p0[0-9] > "$work/w1.codes" & w1=$!
post "$work/$format"/p1[0-9] > "$work/w2.codes" & w2=$!
wait $w1 $w2
t1=$(date +%s.%N)
cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
python3 - "$t0" "$t1" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" "$format" <<'PY'
import sys
t0, t1, c0, c1, tick = map(float, sys.argv[1:6])
wall, cpu = t1 - t0, (c1 - c0) / tick
print(f"{sys.argv[6]}: 2,000,000 rows in {wall:.2f} s = {2e6 / wall:,.0f} rows/s; server CPU {cpu:.2f} s = {cpu / 2:.2f} s per million rows")
PY
echo "statuses: $(sort "$work/w1.codes" "$work/w2.codes" | uniq -c | tr -s ' ' | tr '\n' ';')"
