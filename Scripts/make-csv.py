#!/usr/bin/env python3
"""Writes the CSV used for the ingest figures in Docs/benchmarks.md (deterministic, seed 1).

Usage: python3 Scripts/make-csv.py ROWS PATH   (the figures used 1000000 rows, 57 MB)
"""
import random
import sys

rows, path = int(sys.argv[1]), sys.argv[2]
random.seed(1)
with open(path, "w") as f:
    f.write("plate,time,lat,lon,camera,confidence,region\n")
    t = 1717200000000
    for _ in range(rows):
        t += random.randint(0, 3000)
        f.write("%s%04d,%d,%.7f,%.7f,%d,%d,%s\n" % (
            random.choice(["ABC", "XYZ", "KLM", "7QR"]), random.randint(0, 9999), t,
            37.5 + random.random() * 0.3, -122.3 + random.random() * 0.4,
            random.randint(10000, 12000), random.randint(60, 99),
            "CA" if random.random() < 0.6 else ""))
