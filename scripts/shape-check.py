#!/usr/bin/env python3
"""The shape targets of issue 29, checked on every CI run.

In the instrumentation crates (every crate but the viewer):
  * no function longer than 60 lines (signature to closing brace, test modules excluded);
  * no file longer than 500 lines, not counting its `#[cfg(test)]` module;
  * no import cycle between the modules of one crate (`use crate::…`/`super::…` edges).

    python3 scripts/shape-check.py            # exit 1 and a list when a target is missed
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MAX_FN, MAX_FILE = 60, 500
EXCLUDED = {"vystak-otel-viewer", "vystak-otel-testkit"}

FN_RE = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\"[^\"]*\"\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)")


def strip_test_module(lines):
    """Lines up to the file's `#[cfg(test)] mod … {` block (kept: everything outside it)."""
    out, skip_depth, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if skip_depth is None and line.strip() == "#[cfg(test)]" and i + 1 < len(lines) \
                and re.match(r"\s*(pub\s+)?mod\s+\w+\s*\{", lines[i + 1]):
            depth = 0
            j = i + 1
            while j < len(lines):
                depth += code(lines[j]).count("{") - code(lines[j]).count("}")
                if depth <= 0 and "{" in "".join(code(l) for l in lines[i + 1:j + 1]):
                    break
                j += 1
            i = j + 1
            continue
        out.append(line)
        i += 1
    return out


def code(line):
    """The line without string literals and `//` comments (good enough for brace counting)."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//", 1)[0]


def long_functions(lines):
    found = []
    for i, line in enumerate(lines):
        m = FN_RE.match(line)
        if not m or code(line).rstrip().endswith(";"):
            continue
        depth, opened = 0, False
        for j in range(i, len(lines)):
            c = code(lines[j])
            if not opened and ";" in c and "{" not in c and depth == 0 and j > i and c.strip().endswith(";"):
                break  # a declaration without a body (trait method)
            depth += c.count("{") - c.count("}")
            opened = opened or "{" in c
            if opened and depth <= 0:
                if j - i + 1 > MAX_FN:
                    found.append((m.group(2), i + 1, j - i + 1))
                break
    return found


def module_of(crate_src, path):
    rel = os.path.relpath(path, crate_src)[:-3].split(os.sep)
    if rel[-1] in ("lib", "main", "mod"):
        rel = rel[:-1]
    return "::".join(rel)


def imports(module, lines):
    edges = set()
    parent = module.rsplit("::", 1)[0] if "::" in module else ""
    for line in lines:
        for m in re.finditer(r"\b(crate|super)::([a-z_][a-z0-9_]*)", code(line)):
            base, name = m.groups()
            target = name if base == "crate" else (parent + "::" + name if parent else name)
            top = target.split("::")[0] if base == "crate" else target
            edges.add(top)
    return edges


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = counter[0]; counter[0] += 1
        stack.append(root); on.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]; counter[0] += 1
                    stack.append(nxt); on.add(nxt)
                    work.append((nxt, iter(graph.get(nxt, ()))))
                    advanced = True
                    break
                if nxt in on:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop(); on.discard(w); comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def main():
    problems = []
    crates_dir = os.path.join(ROOT, "crates")
    for crate in sorted(os.listdir(crates_dir)):
        if crate in EXCLUDED:
            continue
        src = os.path.join(crates_dir, crate, "src")
        graph = {}
        for dirpath, _, files in os.walk(src):
            for f in sorted(files):
                if not f.endswith(".rs"):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, ROOT)
                lines = strip_test_module(open(path, encoding="utf-8").read().split("\n"))
                if len(lines) > MAX_FILE:
                    problems.append(f"{rel}: {len(lines)} lines outside its tests (max {MAX_FILE})")
                for name, line, length in long_functions(lines):
                    problems.append(f"{rel}:{line}: fn {name} is {length} lines (max {MAX_FN})")
                module = module_of(src, path)
                top = module.split("::")[0]
                if top:
                    graph.setdefault(top, set()).update(e for e in imports(module, lines) if e != top)
        for comp in cycles(graph):
            problems.append(f"crates/{crate}: import cycle between modules {' ↔ '.join(comp)}")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} shape target(s) missed (issue 29)", file=sys.stderr)
        return 1
    print("shape targets met: functions ≤ 60 lines, files ≤ 500, no import cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
