#!/usr/bin/env python3
"""Refresh `sha256` and `bytes` of every entry in models/manifest.json from the files in models/.

All other fields are kept as they are, in their order; a missing `sha256`/`bytes` pair is inserted right after
`file`. The manifest is rewritten with 2-space indentation and a trailing newline, so rerunning on unchanged model
files leaves it byte-identical. Run it after regenerating any model file.

Usage: python3 scripts/make_manifest.py [--models DIR]
"""

import argparse
import hashlib
import json
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


def refreshed(entry, models_dir):
    data = (models_dir / entry["file"]).read_bytes()
    digest = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    out = {}
    for key, value in entry.items():
        if key in digest:
            continue
        out[key] = value
        if key == "file":
            out.update(digest)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=MODELS_DIR, help="directory holding manifest.json")
    args = parser.parse_args(argv)

    path = args.models / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["models"] = {name: refreshed(entry, args.models) for name, entry in manifest["models"].items()}
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, entry in manifest["models"].items():
        print(f"{name:14s} {entry['file']:40s} {entry['bytes']:>9d}  {entry['sha256']}")


if __name__ == "__main__":
    main()
