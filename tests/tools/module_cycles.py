#!/usr/bin/env python3
"""Lists the import cycles between the top-level modules of src/ (what `crate::x` each module's
non-test code names), and every edge inside each cycle with the files that make it.

    python3 tests/tools/module_cycles.py [src]      # exit 1 when there is a cycle
"""
import os
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "src"
edges = {}
for root, _, files in os.walk(src):
    for name in files:
        if not name.endswith(".rs"):
            continue
        path = os.path.join(root, name)
        module = os.path.relpath(path, src).split(os.sep)[0].removesuffix(".rs")
        if module in ("main", "lib"):
            continue
        text = open(path, encoding="utf-8").read().split("#[cfg(test)]")[0]
        text = re.sub(r"//.*", "", text)
        for other in re.findall(r"crate::([a-z_]+)", text):
            if other != module:
                edges.setdefault(module, {}).setdefault(other, set()).add(path)

index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]


def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges.get(v, {}):
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        comps.append(comp)


sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        strong(v)
cycles = [sorted(c) for c in comps if len(c) > 1]
for c in cycles:
    print("cycle:", " ".join(c))
    for a in c:
        for b, files in sorted(edges.get(a, {}).items()):
            if b in c:
                print(f"  {a} -> {b}: {', '.join(sorted(files))}")
print("no cycles" if not cycles else f"{len(cycles)} cycle(s)")
sys.exit(1 if cycles else 0)
