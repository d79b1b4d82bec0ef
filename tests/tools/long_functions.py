#!/usr/bin/env python3
"""Lists functions in src/ longer than a limit (default 60 lines), counted from the `fn` line to
the closing brace at the same indentation; test modules (`mod tests`, files under tests) are
skipped. Exit status 1 when any is found. Usage: long_functions.py [LIMIT]"""
import pathlib
import re
import sys

LIMIT = int(sys.argv[1]) if len(sys.argv) > 1 else 60
FN = re.compile(r"^(\s*)(pub(\([a-z]+\))? )?(async )?(const )?fn (\w+)")
found = []
for path in sorted(pathlib.Path("src").rglob("*.rs")):
    if path.name in ("contract.rs", "flow_tests.rs"):
        continue
    lines = path.read_text().splitlines()
    in_tests = None
    for i, line in enumerate(lines):
        if re.match(r"^\s*mod tests\b", line):
            in_tests = True
        if in_tests:
            continue
        m = FN.match(line)
        if not m:
            continue
        indent = m.group(1)
        for j in range(i, len(lines)):
            if lines[j] == indent + "}" or (j > i and lines[j].startswith(indent + "}")
                                              and len(lines[j].strip()) == 1):
                break
            if j == i and lines[j].rstrip().endswith(";"):
                break
        length = j - i + 1
        if length > LIMIT:
            found.append((length, f"{path}:{i + 1}", m.group(6)))
for length, where, name in sorted(found, reverse=True):
    print(f"{length:4} {where} {name}")
sys.exit(1 if found else 0)
