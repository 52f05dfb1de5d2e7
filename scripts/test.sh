#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test of the workspace, in the one release profile that the
# CLI and the benchmarks also use (tract is compiled once). The JOSE interop tests need python3 with PyJWT.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -r scripts/interop/requirements.txt
cargo fmt --all -- --check
# No module imports one that imports it back (ARCHITECTURE.md).
python3 scripts/check-import-cycles.py crates/*/src
python3 scripts/check-translations.py
cargo clippy --release --workspace --all-targets -- -D warnings
cargo test --release --workspace
