#!/usr/bin/env bash
# One-shot `sightline history --count` reads from another process while `sightline ingest`
# loads 10 M rows: the elapsed time of each read, then percentiles.
# usage: oneshot-during-ingest.sh SIGHTLINE_BINARY CSV [STORE] [PLATE]
L=$1; CSV=$2; STORE=${3:-/tmp/oneshot-store}; PLATE=${4:-$(sed -n 2p "$CSV" | cut -d, -f1)}
rm -rf "$STORE"
"$L" ingest "$STORE" "$CSV" > /dev/null 2>&1 &
pid=$!
sleep 0.5
: > "$STORE.times"
while kill -0 $pid 2>/dev/null; do
  s=$(date +%s%N); "$L" history "$STORE" "$PLATE" --count --purpose p > /dev/null 2>&1; e=$(date +%s%N)
  kill -0 $pid 2>/dev/null && echo $(( (e - s) / 1000000 )) >> "$STORE.times"
  sleep 0.1
done
python3 - "$STORE.times" <<'PY'
import sys
t = sorted(int(x) for x in open(sys.argv[1]))
p = lambda q: t[min(len(t) - 1, int(q * len(t)))]
print(f"{len(t)} reads during the ingest: p50 {p(.5)} ms, p90 {p(.9)} ms, max {t[-1]} ms")
PY
