#!/usr/bin/env python3
"""Reports import cycles between the modules of Rust crates (issue 12: no module may import one that imports it back).

    scripts/check-import-cycles.py crates/facecheck/src crates/facecheck-attest/src ...

Each file is a module (`lib.rs` the crate root, `a/mod.rs` or `a.rs` the module `a`). An edge A -> B is any path in
A's code (comments and strings stripped) that names B or an item inside B: `crate::b::...`, `super::...`,
`self::...`, or a child module named at the start of a `use` path. `mod x;` declarations and `pub use` re-exports of
a module's own descendants are not edges (that is how a folder is built); every other use of a child is, so a parent
and a child that use each other form a cycle. Exits 1 and prints each cycle when there is one.
"""
import re
import sys
from pathlib import Path


def strip(code):
    code = re.sub(r"//[^\n]*", "", code)
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    code = re.sub(r'r#*"(?:.|\n)*?"#*', '""', code)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', code)


def inline_modules_as_self(code):
    """In an inline `mod name { ... }` (a file's tests), `super` is the file's module: rewrite it as `self`."""
    out, i = [], 0
    for m in re.finditer(r"\bmod\s+\w+\s*\{", code):
        if m.start() < i:
            continue
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
        out += [code[i : m.end()], re.sub(r"\bsuper::", "self::", code[m.end() : j])]
        i = j
    return "".join(out) + code[i:]


def module_of(src, path):
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return tuple(parts)


def expand_use(tree):
    """Flattens a use tree `a::{b, c::{d, e}}` into paths."""
    tree = tree.strip()
    m = re.match(r"^([\w:]*?)::\{(.*)\}$", tree, re.S)
    if not m:
        return [tree.split(" as ")[0].strip()]
    prefix, body = m.group(1), m.group(2)
    items, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    items.append(cur)
    return [f"{prefix}::{p}" for item in items if item.strip() for p in expand_use(item)]


def resolve(path, here, modules):
    segs = [s for s in path.split("::") if s]
    if not segs:
        return None
    if segs[0] == "crate":
        base, rest = (), segs[1:]
    elif segs[0] in ("super", "self"):
        base = here
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
        rest = segs
    elif here + (segs[0],) in modules:
        base, rest = here, segs
    else:
        return None  # another crate
    target = base
    for seg in rest:
        if target + (seg,) in modules:
            target = target + (seg,)
        else:
            break
    return target


def edges_of(src):
    files = {module_of(src, p): p for p in sorted(src.rglob("*.rs"))}
    modules = set(files)
    graph = {m: set() for m in modules}
    for here, path in files.items():
        code = inline_modules_as_self(strip(path.read_text()))
        paths = []  # (path, is a re-export)
        for m in re.finditer(r"(\bpub(?:\([\w:]+\))?\s+)?\buse\s+([^;]+);", code):
            paths += [(p, m.group(1) is not None) for p in expand_use(m.group(2))]
        code_only = re.sub(r"\buse\s+[^;]+;", "", code)
        paths += [(p, False) for p in re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", code_only)]
        for p, reexport in paths:
            target = resolve(p, here, modules)
            if target is None or target == here:
                continue
            if reexport and target[: len(here)] == here:
                continue  # a folder re-exporting its own children
            graph[here].add(target)
    return graph


def cycles(graph):
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def main(argv):
    bad = 0
    for src in map(Path, argv[1:]):
        graph = edges_of(src)
        found = cycles(graph)
        name = lambda m: "::".join(("crate",) + m)
        for cycle in found:
            print(f"{src}: import cycle: " + " -> ".join(map(name, cycle)))
        bad += len(found)
        print(f"{src}: {len(graph)} modules, {sum(map(len, graph.values()))} imports, {len(found)} cycles")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
