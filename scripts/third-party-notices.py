#!/usr/bin/env python3
"""Writes the third-party notices of what the APK ships: every Rust crate linked into libfacecheck_jni.so for
aarch64-linux-android (from `cargo metadata`, normal dependencies of facecheck-jni; build scripts and proc macros
do not ship), each with its licence expression and the licence and notice texts its package carries; the Kotlin
standard library dexed into the app; and the models with their licence texts (models/licenses).

    scripts/third-party-notices.py OUT.txt      # build-apk.sh puts OUT.txt in the APK's assets

Each distinct text is written once and the crates point to it. A crate whose package carries no licence file is
given the Apache License 2.0 text if it offers Apache-2.0, else the MIT licence with its authors as the copyright
holders if it offers MIT; anything else without a file (or without a licence) is an error: the notices would be
incomplete. Cargo downloads any package it has not yet (from the registry, as a build would).
"""

import json
import os
import re
import subprocess
import sys

TARGET = "aarch64-linux-android"
ROOT = "facecheck-jni"
# Files a package keeps its licence or notice texts in (the first path component, case-insensitively).
LICENCE_FILE = re.compile(r"^(licen[cs]e|copying|notice|unlicense|copyright)", re.IGNORECASE)
# The MIT licence, for a crate that offers it and ships no licence file ({holders}: its authors).
MIT = """Copyright (c) {holders}

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation the
rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit
persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of the
Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE."""


def cargo_metadata(repo):
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--filter-platform", TARGET, "--locked"],
        cwd=repo, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def shipped_packages(metadata):
    """The packages linked into the library: facecheck-jni's normal dependencies, transitively, without proc macros
    and without the workspace's own crates."""
    packages = {p["id"]: p for p in metadata["packages"]}
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    root = next(p["id"] for p in metadata["packages"] if p["name"] == ROOT)
    seen, stack = set(), [root]
    while stack:
        node = nodes[stack.pop()]
        for dep in node["deps"]:
            if not any(k["kind"] is None for k in dep["dep_kinds"]):
                continue  # dev or build dependency only
            package = packages[dep["pkg"]]
            if any("proc-macro" in t["kind"] for t in package["targets"]):
                continue
            if dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])
    workspace = set(metadata["workspace_members"])
    return sorted((packages[i] for i in seen if i not in workspace), key=lambda p: (p["name"], p["version"]))


def licence_texts(package):
    directory = os.path.dirname(package["manifest_path"])
    texts = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if LICENCE_FILE.match(name) and os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                texts.append((name, f.read().strip()))
    if package.get("license_file"):
        path = os.path.join(directory, package["license_file"])
        if os.path.isfile(path) and all(n != os.path.basename(path) for n, _ in texts):
            with open(path, encoding="utf-8", errors="replace") as f:
                texts.append((package["license_file"], f.read().strip()))
    return texts


def licences_of(expression):
    return set(filter(None, re.split(r"\s+(?:OR|AND|WITH)\s+|[()/\s]", expression)))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    packages = shipped_packages(cargo_metadata(repo))
    with open(os.path.join(repo, "models", "licenses", "Apache-2.0.txt"), encoding="utf-8") as f:
        apache = f.read().strip()
    problems = []
    texts_by_body = {}  # text -> its number
    entries = []
    for p in packages:
        licence = p.get("license") or ""
        texts = licence_texts(p)
        if not texts and "Apache-2.0" in licences_of(licence):
            texts = [("Apache-2.0 (offered by the crate; its package carries no licence file)", apache)]
        elif not texts and "MIT" in licences_of(licence):
            holders = ", ".join(re.sub(r"\s*<[^>]*>", "", a) for a in p.get("authors") or []) or f"the {p['name']} authors"
            texts = [("MIT (offered by the crate; its package carries no licence file)", MIT.format(holders=holders))]
        elif not texts:
            problems.append(f"{p['name']} {p['version']}: {licence or 'no licence stated'}, and no licence file")
        refs = []
        for name, body in texts:
            number = texts_by_body.setdefault(body, len(texts_by_body) + 1)
            refs.append(f"{name}: text {number}")
        head = f"{p['name']} {p['version']} - {licence or 'see its texts'}"
        if p.get("repository"):
            head += f" - {p['repository']}"
        entries.append((head, refs))
    for name in sorted(os.listdir(os.path.join(repo, "models", "licenses"))):
        with open(os.path.join(repo, "models", "licenses", name), encoding="utf-8") as f:
            texts_by_body.setdefault(f.read().strip(), len(texts_by_body) + 1)
    apache_number = texts_by_body[apache]
    dlib = next(n for body, n in texts_by_body.items() if "dlib" in body and "face-api" in body)
    out = ["THIRD-PARTY NOTICES - Facecheck for Android",
           "",
           "This app contains the software and models below, each used under the licence named with it. The licence",
           "and notice texts follow the list, each distinct text once, as the authors distributed them.",
           "",
           f"Rust crates linked into libfacecheck_jni.so ({len(packages)}):"]
    for head, refs in entries:
        out.append("  " + head)
        out += ["      " + r for r in refs]
    out += ["",
            f"Kotlin standard library (kotlin-stdlib) - Apache-2.0: text {apache_number} - https://kotlinlang.org",
            "",
            "Models:",
            f"  YuNet face detector (Copyright 2018-2023 OpenMMLab; Copyright 2022 Shiqi Yu) - Apache-2.0: text {apache_number}",
            f"  MiniFASNetV2 and MiniFASNetV1SE (Copyright 2020 Minivision) - Apache-2.0: text {apache_number}",
            f"  dlib ResNet-29 face embedder - public domain; the face-api weight port it was rebuilt from - MIT: text {dlib}"]
    for body, number in texts_by_body.items():
        out += ["", "=" * 100, f"text {number}", "=" * 100, "", body]
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"third-party-notices: {len(packages)} crates, kotlin-stdlib and the models; {len(texts_by_body)} distinct "
          f"texts -> {sys.argv[1]} ({os.path.getsize(sys.argv[1]) // 1024} KB)")
    if problems:
        print("third-party-notices: incomplete:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
