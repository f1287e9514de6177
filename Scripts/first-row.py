#!/usr/bin/env python3
"""Times a streaming CLI query: process start to the header, to the first row, and to
the end; counts rows; reports the peak RSS of the child. Usage: first-row.py CMD ARGS..."""
import os, resource, subprocess, sys, time
start = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
header = p.stdout.readline(); t_header = time.monotonic()
first = p.stdout.readline(); t_first = time.monotonic()
rows = 1 if first else 0
for _ in p.stdout: rows += 1
err = p.stderr.read().decode()
p.wait(); end = time.monotonic()
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"header {1e3*(t_header-start):.1f} ms, first row {1e3*(t_first-start):.1f} ms, end {1e3*(end-start):.0f} ms, "
      f"{rows} rows, peak RSS {rss/1024:.0f} MiB")
sys.stderr.write(err)
