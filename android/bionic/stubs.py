#!/usr/bin/env python3
"""Stub sources for bionic's public libraries at one API level, from bionic's symbol maps (`*.map.txt`).

    stubs.py MAPS_DIR API OUT_DIR

For each of libc, libm, libdl and liblog it writes, in OUT_DIR:
- `LIB.S`: one empty function or one zeroed word per exported symbol (the stub library's code: never run, only
  linked against, like the NDK's sysroot stubs);
- `LIB.ver`: the linker version script that gives each symbol its bionic version (`LIBC`, `LIBC_N`, ...);
- `LIB.symbols`: `name version kind` per line, sorted (kind `func` or `var`; version `-` when unversioned), which
  `scripts/check-android-so.sh` compares the library's undefined symbols with.

Which symbols a level exports follows the NDK's stub generator (ndkstubgen/symbolfile) for arm64:
- a version node is skipped when it is private or platform-only (`*_PRIVATE`, `*_PLATFORM`, `*_DEPRECATED`, tag
  `platform-only`), meant for other partitions (`apex`, `llndk`, `systemapi`), not yet released (`future`), for other
  architectures only, or introduced after API;
- a symbol is skipped for the same tags, and when it is `introduced=N` (or `introduced-arm64=N`, which wins) with N
  above API;
- `versioned=N` leaves a symbol unversioned below API N; `var` makes it data, `weak` weak.
"""

import re
import sys
from pathlib import Path

ARCH = "arm64"
ARCHES = {"arm", "arm64", "x86", "x86_64", "riscv64"}
SKIP_TAGS = {"platform-only", "apex", "llndk", "systemapi", "future"}
LIBRARIES = ["libc", "libm", "libdl", "liblog"]

HEADER = re.compile(r"^\s*([A-Za-z0-9_]+)\s*\{\s*(?:#(.*))?$")
FOOTER = re.compile(r"^\s*\}\s*([A-Za-z0-9_]+)?\s*;\s*(?:#.*)?$")
SYMBOL = re.compile(r"^\s*([A-Za-z0-9_$.]+)\s*;\s*(?:#(.*))?$")


def tags(comment):
    return set((comment or "").split())


def introduced(tag_set):
    """The API level a tag set introduces its symbol at for arm64 (the arch-specific tag wins), or None."""
    level = None
    for tag in tag_set:
        if tag.startswith(f"introduced-{ARCH}="):
            return int(tag.split("=", 1)[1])
        if tag.startswith("introduced="):
            level = int(tag.split("=", 1)[1])
    return level


def versioned_from(tag_set):
    for tag in tag_set:
        if tag.startswith("versioned="):
            return int(tag.split("=", 1)[1])
    return None


def omitted(tag_set, api):
    if tag_set & SKIP_TAGS:
        return True
    arches = tag_set & ARCHES
    if arches and ARCH not in arches:
        return True
    level = introduced(tag_set)
    return level is not None and level > api


def parse(path):
    """[(version name, tags, base or None, [(symbol, tags)])] in file order."""
    versions = []
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and current is None):
            continue
        if current is None:
            match = HEADER.match(line)
            if not match:
                raise SystemExit(f"{path}: unexpected line outside a version node: {raw!r}")
            current = (match.group(1), tags(match.group(2)), [])
            continue
        footer = FOOTER.match(line)
        if footer:
            versions.append((current[0], current[1], footer.group(1), current[2]))
            current = None
            continue
        if re.match(r"^(global|local):\s*(#.*)?$", line) or line.startswith("#") or line == "*;":
            continue
        match = SYMBOL.match(line)
        if not match:
            raise SystemExit(f"{path}: unexpected line: {raw!r}")
        current[2].append((match.group(1), tags(match.group(2))))
    if current is not None:
        raise SystemExit(f"{path}: version node {current[0]} is not closed")
    return versions


def generate(maps, api, out, library):
    versions = parse(maps / f"{library}.map.txt")
    emitted_versions = set()
    script = []
    symbols = {}  # name -> (version or "-", kind, weak)
    for name, version_tags, base, entries in versions:
        if name.endswith(("_PRIVATE", "_PLATFORM", "_DEPRECATED")) or omitted(version_tags, api):
            continue
        node_versioned = (versioned_from(version_tags) or 0) <= api
        listed = []
        for symbol, symbol_tags in entries:
            if omitted(symbol_tags, api):
                continue
            versioned = node_versioned and (versioned_from(symbol_tags) or 0) <= api
            kind = "var" if "var" in symbol_tags else "func"
            if symbol in symbols:
                continue  # listed by an earlier node already (first version wins, as in the real library)
            symbols[symbol] = (name if versioned else "-", kind, "weak" in symbol_tags)
            if versioned:
                listed.append(symbol)
        if listed:
            parent = f" {base}" if base and base in emitted_versions else ""
            script.append(f"{name} {{\n  global:\n" + "".join(f"    {s};\n" for s in listed) + f"}}{parent};\n")
            emitted_versions.add(name)
    if not symbols:
        raise SystemExit(f"{library}: no symbol at API {api}")

    asm = [f"/* {library} stubs for API {api}, generated by android/bionic/stubs.py from {library}.map.txt */\n"]
    for symbol in sorted(symbols):
        _, kind, weak = symbols[symbol]
        binding = ".weak" if weak else ".globl"
        if kind == "var":
            asm.append(f".data\n.balign 8\n{binding} {symbol}\n.type {symbol}, %object\n.size {symbol}, 8\n"
                       f"{symbol}:\n.quad 0\n")
        else:
            asm.append(f".text\n.balign 4\n{binding} {symbol}\n.type {symbol}, %function\n{symbol}:\nret\n")
    asm.append('.section .note.GNU-stack,"",%progbits\n')
    (out / f"{library}.S").write_text("".join(asm))
    (out / f"{library}.ver").write_text("".join(script) if script else "{ global: *; };\n")
    (out / f"{library}.symbols").write_text(
        "".join(f"{s} {symbols[s][0]} {symbols[s][1]}\n" for s in sorted(symbols)))
    return len(symbols)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    maps, api, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    counts = {library: generate(maps, api, out, library) for library in LIBRARIES}
    print(" ".join(f"{library}: {n}" for library, n in counts.items()))


if __name__ == "__main__":
    main()
