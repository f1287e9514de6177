#!/usr/bin/env python3
"""Checks that the folders of Sources/Sightline depend one way: a folder may use only the
types and functions of folders below it in LAYERS (Docs/architecture.md draws the stack).
One Swift module does not enforce this; this check does, on every test run. Exit 1 and
print each upward use when it finds one."""
import glob, os, re, sys

LAYERS = ["Support", "Model", "Codec", "IO", "Index", "Segment", "Ingest", "Access", "Query", "Maintenance", "Alerting", "Policy", "Store", "Loading", "Embedding", "Lake"]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "Sightline")
declaration = re.compile(r"^(?:@_spi\(\w+\)\s*)?(?:public |package |private |fileprivate |final )*"
                         r"(?:struct|enum|class|protocol|actor|typealias|func)\s+(\w+)", re.M)
declared = {}
for path in glob.glob(os.path.join(root, "**", "*.swift"), recursive=True):
    folder = os.path.relpath(path, root).split(os.sep)[0]
    for name in declaration.findall(open(path, encoding="utf-8").read()):
        declared.setdefault(name, folder)
problems = []
for path in glob.glob(os.path.join(root, "**", "*.swift"), recursive=True):
    folder = os.path.relpath(path, root).split(os.sep)[0]
    if folder not in LAYERS:
        problems.append(f"{path}: folder {folder} is not in the layer list")
        continue
    text = re.sub(r"//.*", "", open(path, encoding="utf-8").read())
    words = set(re.findall(r"\b[A-Za-z_]\w*\b", text))
    for name in sorted(words):
        owner = declared.get(name)
        if owner in LAYERS and LAYERS.index(owner) > LAYERS.index(folder):
            problems.append(f"{os.path.relpath(path, root)}: uses {name} from {owner}/, a layer above {folder}/")
for p in problems:
    print("layering:", p)
sys.exit(1 if problems else 0)
