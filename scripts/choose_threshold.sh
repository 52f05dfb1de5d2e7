#!/usr/bin/env bash
# Chooses the embedder's decision threshold and records it in models/manifest.json:
# the distance whose false-match rate on LFW View 1 pairsDevTrain is at most TARGET_FMR (default 1e-3), with the
# rates it gives on pairsDevTest. Usage: scripts/choose_threshold.sh LFW_VIEW1_DIR [TARGET_FMR]
# Rebuild afterwards: the core compiles the manifest in.
set -euo pipefail
cd "$(dirname "$0")/.."
lfw="${1:?usage: scripts/choose_threshold.sh LFW_VIEW1_DIR [TARGET_FMR]}"
target="${2:-1e-3}"
cargo build --release -p facecheck-cli
"${CARGO_TARGET_DIR:-target}/release/facecheck" eval lfw --images "$lfw/images" --pairs "$lfw/pairsDevTest.txt" \
  --train-pairs "$lfw/pairsDevTrain.txt" --target-fmr "$target" --json > /tmp/facecheck-threshold.json
python3 - /tmp/facecheck-threshold.json <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))["at_target_fmr"]
path = "models/manifest.json"
manifest = json.load(open(path))
test_pairs = 500
manifest["models"]["embedder"]["match_threshold"] = {
    "distance": round(report["distance"], 4),
    "chosen_for_fmr": report["target_fmr"],
    "chosen_on": "LFW View 1 pairsDevTrain (1,100 different-person pairs); scripts/choose_threshold.sh",
    "fnmr": report["fnmr"],
    "measured_on": f"LFW View 1 pairsDevTest at this threshold: FMR {100 * report['fmr']:.1f} % "
                   f"({round(report['fmr'] * test_pairs)} of {test_pairs}), FNMR {100 * report['fnmr']:.1f} % "
                   f"({round(report['fnmr'] * test_pairs)} of {test_pairs})",
}
with open(path, "w") as f:
    f.write(json.dumps(manifest, indent=2) + "\n")
print(json.dumps(manifest["models"]["embedder"]["match_threshold"], indent=2))
PY
