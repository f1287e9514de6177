#!/usr/bin/env python3
"""The README's Swift samples are the code that Tests/SightlineTests/ReadmeSampleTests.swift
compiles and runs: each README block marked `<!-- sample N -->` must equal, line for line (after
removing the common indentation), the test file's region between `// README sample N begin`
and `// README sample N end`. Exit 1 naming the first sample that differs."""
import os, re, sys, textwrap

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
test = open(os.path.join(root, "Tests", "SightlineTests", "ReadmeSampleTests.swift"), encoding="utf-8").read()
blocks = dict(re.findall(r"<!-- sample (\d+) -->\n```swift\n(.*?)```", readme, re.S))
regions = dict(re.findall(r"// README sample (\d+) begin\n(.*?)\n[ \t]*// README sample \1 end", test, re.S))
problems = []
for n in sorted(set(blocks) | set(regions)):
    if n not in blocks: problems.append(f"README.md has no sample {n} (the test has one)"); continue
    if n not in regions: problems.append(f"the test has no sample {n} (README.md has one)"); continue
    body = blocks[n]
    # The README shows the imports the test file has at its top.
    body = "\n".join(l for l in body.splitlines() if not l.startswith("import "))
    a = textwrap.dedent(body).strip().splitlines()
    b = textwrap.dedent(regions[n]).strip().splitlines()
    if a != b:
        for i, (x, y) in enumerate(zip(a + [""] * len(b), b + [""] * len(a))):
            if x != y:
                problems.append(f"README sample {n} differs from ReadmeSampleTests.swift at its line {i + 1}:\n  README: {x}\n  test:   {y}")
                break
for p in problems: print("readme:", p)
print(f"readme: {len(blocks)} samples checked against the tests")
sys.exit(1 if problems else 0)
