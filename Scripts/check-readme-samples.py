#!/usr/bin/env python3
"""The README's Swift samples are the code that Tests/SightlineTests/ReadmeSampleTests.swift
compiles and runs: each README block marked `<!-- sample N -->` must equal, line for line (after
removing the common indentation), the test file's region between `// README sample N begin`
and `// README sample N end`. Exit 1 naming the first sample that differs."""
import glob, os, re, sys, textwrap

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
test = open(os.path.join(root, "Tests", "SightlineTests", "ReadmeSampleTests.swift"), encoding="utf-8").read()
blocks = dict(re.findall(r"<!-- sample (\d+) -->\n```swift\n(.*?)```", readme, re.S))
regions = dict(re.findall(r"// README sample (\d+) begin\n(.*?)\n[ \t]*// README sample \1 end", test, re.S))
# The DocC catalog's samples: `<!-- sample NAME -->` before a block in an article, and
# `// DocC sample NAME begin/end` in DocCSampleTests.swift. Every Swift block of the catalog
# but the package manifest line must be one.
docc = os.path.join(root, "Sources", "Sightline", "Sightline.docc")
docc_test = open(os.path.join(root, "Tests", "SightlineTests", "DocCSampleTests.swift"), encoding="utf-8").read()
unmarked = []
for article in sorted(glob.glob(os.path.join(docc, "*.md"))):
    text = open(article, encoding="utf-8").read()
    for name, body in re.findall(r"<!-- sample ([a-z-]+) -->\n```swift\n(.*?)```", text, re.S):
        blocks["docc " + name] = body
    for m in re.finditer(r"(<!-- sample [a-z-]+ -->\n)?```swift\n(.*?)```", text, re.S):
        if not m.group(1) and ".package(" not in m.group(2):
            unmarked.append(f"{os.path.basename(article)}: a Swift block with no `<!-- sample NAME -->` (no test compiles it)")
regions.update({"docc " + n: b for n, b in re.findall(r"// DocC sample ([a-z-]+) begin\n(.*?)\n[ \t]*// DocC sample \1 end", docc_test, re.S)})
problems = list(unmarked)
for n in sorted(set(blocks) | set(regions)):
    if n not in blocks: problems.append(f"the docs have no sample {n} (the tests have one)"); continue
    if n not in regions: problems.append(f"the tests have no sample {n} (the docs have one)"); continue
    body = blocks[n]
    # The README shows the imports the test file has at its top.
    body = "\n".join(l for l in body.splitlines() if not l.startswith("import "))
    a = textwrap.dedent(body).strip().splitlines()
    b = textwrap.dedent(regions[n]).strip().splitlines()
    if a != b:
        for i, (x, y) in enumerate(zip(a + [""] * len(b), b + [""] * len(a))):
            if x != y:
                problems.append(f"sample {n} differs from its test at its line {i + 1}:\n  docs: {x}\n  test: {y}")
                break
for p in problems: print("readme:", p)
print(f"readme: {len(blocks)} samples (README and DocC) checked against the tests")
sys.exit(1 if problems else 0)
