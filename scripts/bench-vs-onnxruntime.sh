#!/usr/bin/env bash
# Facecheck against onnxruntime on this machine, side by side, one thread each (issue 15):
#
#   scripts/bench-vs-onnxruntime.sh DATA_DIR [--pairs N]      DATA_DIR holds lfw-view1/ (e.g. ../shared/data)
#
# The photos of the first N (100) same and N different pairs of LFW View 1 pairsDevTest.txt go, in turn, through
# `facecheck bench stages` and through the same stages on onnxruntime (scripts/bench_vs_onnxruntime.py: its
# docstring says what each side runs). Prints a Markdown table: per-stage and end-to-end medians and the ratio
# Facecheck / onnxruntime, load + optimise time, peak RSS of one check-in, model files. Writes the report to
# $BENCH_OUT (default target-bench/) as vs-onnxruntime.json and .md. Installs scripts/bench-requirements.txt with pip
# when a package is missing. A timing benchmark: run it on a quiet machine; nothing asserts on its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:?usage: scripts/bench-vs-onnxruntime.sh DATA_DIR [--pairs N]}"
shift
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/facecheck-target}"
out="${BENCH_OUT:-target-bench}"
mkdir -p "$out"

source android/toolchain.sh
ensure_debs time # GNU time: the peak RSS of one check-in
if ! python3 -c 'import numpy, onnxruntime, PIL, cryptography' 2>/dev/null; then
  python3 -m pip install -q -r scripts/bench-requirements.txt
fi
# The test suite's feature set: tract is not compiled again.
cargo build --release --workspace --lib --bins --tests
# One thread each: tract runs on the calling thread; onnxruntime is told so in its session options, and these keep
# numpy's BLAS (unused in the timed stages) from spinning threads.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
python3 scripts/bench_vs_onnxruntime.py --facecheck "$CARGO_TARGET_DIR/release/facecheck" --data "$data" \
  --json "$out/vs-onnxruntime.json" --markdown "$out/vs-onnxruntime.md" "$@"
