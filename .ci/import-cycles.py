#!/usr/bin/env python3
"""Import circles inside each crate of the workspace.

Modules are files (`a/b.rs` or `a/b/mod.rs` is `a::b`). For every folder
(the crate root included), its direct submodules must import one another
without a circle: an edge X -> Y when code in X (or below it) names
`crate::...::Y` (a `use`, or a path in code; `super::` resolved; names the
crate root re-exports followed to where they are defined). A module and its
own parent are not compared: a parent declares its children and they use
its shared types. Unit-test modules (`tests.rs`, `mod tests`) are left out.

  .ci/import-cycles.py            every crate; exit 1 if any circle
  .ci/import-cycles.py --edges    also print why each edge of a circle exists
"""
import pathlib, re, sys
from collections import defaultdict

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRATES = {"mdcore": "src/lib.rs", "mdcluster": "src/lib.rs", "mdserver": "src/main.rs",
          "ffi": "src/lib.rs", "benches": "src/lib.rs"}

def modules(src):
    """module path (tuple) -> file, for every .rs file under src."""
    out = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src).with_suffix("").parts
        if rel in (("lib",), ("main",)):
            out[()] = f
        elif rel and rel[0] == "bin":
            continue
        elif rel[-1] == "mod":
            out[rel[:-1]] = f
        else:
            out[rel] = f
    return out

def strip(text):
    """Code without strings, comments and inline unit tests."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i) if text.find("\n", i) >= 0 else n
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "r" and re.match(r'r(#*)"', text[i:]) and (i == 0 or not (text[i-1].isalnum() or text[i-1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            j = text.find('"' + hashes, i + 2 + len(hashes))
            out.append('""')
            i = n if j < 0 else j + 1 + len(hashes)
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i+4]):
            m = re.match(r"'(\\.|[^\\'])'", text[i:i+4])
            out.append("' '")
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    text = "".join(out)
    # leave out inline unit tests
    m = re.search(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)
    return text[:m.start()] if m else text

def use_paths(text):
    """Every path named by `use` trees and by `crate::`/`super::` in code."""
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        paths.extend(expand(m.group(1).replace(" ", "").replace("\n", "")))
    for m in re.finditer(r"\b((?:crate|super)(?:::\w+)+)", text):
        paths.append(m.group(1).split("::"))
    return paths

def expand(tree):
    """`a::{b, c::{d}}` -> [[a,b],[a,c,d]]."""
    i = tree.find("{")
    if i < 0:
        return [tree.split(" as ")[0].split("as")[0].split("::")] if tree else []
    prefix = tree[:i].rstrip(":").split("::") if tree[:i] else []
    depth, start, parts = 0, i + 1, []
    for j in range(i + 1, len(tree)):
        c = tree[j]
        if c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                parts.append(tree[start:j])
                break
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(tree[start:j])
            start = j + 1
    out = []
    for p in parts:
        for sub in expand(p.strip()):
            out.append(prefix + sub if sub != ["self"] else prefix)
    return out

def resolve(path, here, mods, reexports):
    """The module a path names, as far as modules go."""
    if not path:
        return None
    if path[0] == "crate":
        base, rest = (), path[1:]
    elif path[0] == "super":
        base, rest = here, path
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    elif path[0] == "self":
        base, rest = here, path[1:]
    else:
        return None
    mod = base
    for seg in rest:
        if mod + (seg,) in mods:
            mod = mod + (seg,)
        else:
            if mod == () and seg in reexports:
                return reexports[seg]
            break
    return mod

def crate_graph(name, root_file):
    src = (ROOT / name / root_file).parent
    mods = modules(src)
    reexports = {}
    root_text = strip(mods[()].read_text())
    for m in re.finditer(r"\bpub\s+use\s+([^;]+);", root_text):
        for p in expand(m.group(1).replace(" ", "").replace("\n", "")):
            target = resolve(p[:-1] + ["__item__"], (), mods, {})
            if p and target is not None:
                reexports[p[-1]] = target
    refs = []  # (from module, to module, file)
    for mod, f in mods.items():
        if mod and mod[-1] == "tests":
            continue
        for p in use_paths(strip(f.read_text())):
            to = resolve(p, mod, mods, reexports)
            if to is not None and to != mod:
                refs.append((mod, to, f))
    return mods, refs

def cycles(mods, refs):
    """Circles among the direct submodules of every folder."""
    found = []
    for parent in sorted({m[:-1] for m in mods if m}):
        kids = {m for m in mods if m[:-1] == parent}
        edges, why = defaultdict(set), defaultdict(set)
        for a, b, f in refs:
            if len(a) <= len(parent) or len(b) <= len(parent):
                continue
            if a[:len(parent)] != parent or b[:len(parent)] != parent:
                continue
            x, y = a[:len(parent) + 1], b[:len(parent) + 1]
            if x != y and x in kids and y in kids:
                edges[x].add(y)
                why[(x, y)].add(f.relative_to(ROOT).as_posix())
        for comp in sccs(kids, edges):
            if len(comp) > 1:
                found.append((parent, comp, edges, why))
    return found

def sccs(nodes, edges):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1
        stack.append(v); on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out

def main():
    show = "--edges" in sys.argv
    bad = 0
    for name, root_file in CRATES.items():
        mods, refs = crate_graph(name, root_file)
        for parent, comp, edges, why in cycles(mods, refs):
            bad += 1
            label = lambda m: "::".join(m) or "crate"
            print(f"{name}: circle in {label(parent)}: " + ", ".join(label(c) for c in comp))
            if show:
                for a in comp:
                    for b in sorted(edges[a]):
                        if b in comp:
                            print(f"    {label(a)} -> {label(b)}: {', '.join(sorted(why[(a, b)]))}")
    print(f"{bad} import circle(s)" if bad else "no import circle inside a crate")
    sys.exit(1 if bad else 0)

main()
