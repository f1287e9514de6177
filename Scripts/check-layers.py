#!/usr/bin/env python3
"""Checks that the folders of Sources/Sightline depend one way: a folder may use only the
types and functions of folders below it in LAYERS (Docs/architecture.md draws the stack).
One Swift module does not enforce this; this check does, on every test run. Exit 1 and
print each upward use when it finds one."""
import glob, os, re, sys

LAYERS = ["Support", "Model", "Codec", "IO", "Index", "Segment", "Ingest", "Access", "Query", "Maintenance", "Alerting", "Policy", "Store", "Loading", "Embedding", "Backup", "Lake"]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "Sightline")
# Every declared type, top-level or nested, internal or wider, and every top-level function:
# `private`/`fileprivate` declarations are left out (no other file can use them). A name
# declared in two folders cannot be attributed to one and is not checked.
modifiers = r"((?:@_spi\(\w+\)\s*)?(?:(?:public|package|internal|private|fileprivate|final|indirect)\s+)*)"
types = re.compile(r"^[ \t]*" + modifiers + r"(?:struct|enum|class|protocol|actor|typealias)\s+([A-Z]\w*)", re.M)
functions = re.compile(r"^" + modifiers + r"func\s+(\w+)", re.M)
declared, ambiguous, privately = {}, set(), {}
for path in glob.glob(os.path.join(root, "**", "*.swift"), recursive=True):
    folder = os.path.relpath(path, root).split(os.sep)[0]
    text = open(path, encoding="utf-8").read()
    for words, name in types.findall(text) + functions.findall(text):
        if {"private", "fileprivate"} & set(words.split()):
            privately.setdefault(name, set()).add(folder)  # another type's own `State`, say
            continue
        if declared.setdefault(name, folder) != folder:
            ambiguous.add(name)
ambiguous |= {name for name, folders in privately.items() if name in declared and folders - {declared[name]}}
for name in ambiguous:
    declared.pop(name, None)
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
