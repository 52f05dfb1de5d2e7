#!/usr/bin/env python3
"""Reference of the liveness step in numpy + onnxruntime, and the golden fixtures of its Rust port.

The Rust core (crates/facecheck/src/pipeline/liveness.rs) and this script follow the same text (docs/liveness.md):
  - start from YuNet's box of the largest face (scripts/reference.py: decode, letterbox, detect, choose);
  - turn it into the box of the detector the MiniFASNet models were trained with: same centre, width / 0.86,
    height / 1.17 (../shared/models/SOURCES.md: YuNet boxes are ~0.86x as wide and ~1.17x as tall);
  - scale that box by the model's crop_scale (models/manifest.json: 2.7 and 4.0) around its centre, the scale
    lowered to min(crop_scale, W / w, H / h) so that the region fits, then shift it into the image;
  - resample the region to 80x80 without keeping the aspect ratio with PIPELINE.md's sample_affine;
  - BGR, 0..255, NCHW; softmax over 3 classes, class 1 = real; the manifest's rule decides on the two
    real-probabilities (`mean`: their mean against one threshold; `both`: each against its own threshold).
`--box yunet` skips the second step (the crop on YuNet's own box), for comparison.

The sessions are scripts/reference.py's, with onnxruntime's basic graph optimisations only: its extended level
fuses the DequantizeLinear -> MatMul of the classifier head into MatMulNBits, which quantises that MatMul's
activations too (the file asks for weight-only int8) and moves the real-probability by up to 3e-4 on image_F1.

Commands:
    python3 scripts/liveness_reference.py golden
        writes crates/facecheck/tests/golden_liveness/<stem>/ for the three Silent-Face samples:
        decoded.png (the decoded fixture, so Rust crops the same pixels), crop_liveness_v2.png,
        crop_liveness_v1se.png (80x80 RGB) and golden.json (see the README there).
    python3 scripts/liveness_reference.py score IMG [IMG ...]
        prints both real-probabilities and their mean for the largest face of each image.
    python3 scripts/liveness_reference.py eval --live DIR --spoof DIR [--box training|yunet] [--crop-scale S]
        scores every image under both folders and prints the ROC AUC (of the mean real-probability), APCER and
        BPCER with the manifest's rule, and the lowest live / highest attack means; --crop-scale replaces both
        models' context scale (1.0: a tight crop of the box).
"""

import argparse
import json
import re
from pathlib import Path

import numpy as np

import reference as ref

TESTS = Path(__file__).resolve().parent.parent / "crates/facecheck/tests"
SAMPLES = ("image_F1.jpg", "image_F2.jpg", "image_T1.jpg")
YUNET_WIDTH_TO_TRAINING = 0.86
YUNET_HEIGHT_TO_TRAINING = 1.17
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def training_box(box):
    """YuNet box -> the box of the liveness models' training detector: same centre, width / 0.86, height / 1.17."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w = (x2 - x1) / YUNET_WIDTH_TO_TRAINING / 2
    half_h = (y2 - y1) / YUNET_HEIGHT_TO_TRAINING / 2
    return [cx - half_w, cy - half_h, cx + half_w, cy + half_h]


def context_region(width, height, box, crop_scale, adapt=True):
    """[x1, y1, x2, y2] the model sees: the (training) box scaled around its centre, fitted and shifted inside."""
    x1, y1, x2, y2 = training_box(box) if adapt else box
    bw, bh = x2 - x1, y2 - y1
    scale = min(crop_scale, width / bw, height / bh)
    rw, rh = bw * scale, bh * scale
    left = min(max((x1 + x2) / 2 - rw / 2, 0.0), width - rw)
    top = min(max((y1 + y2) / 2 - rh / 2, 0.0), height - rh)
    return [left, top, left + rw, top + rh]


def context_crop(image, region):
    """80x80 RGB crop of `region`, aspect ratio not kept."""
    left, top, right, bottom = region
    side = ref.LIVENESS_SIZE
    return ref.sample_affine(image, [[(right - left) / side, 0, left], [0, (bottom - top) / side, top]], side, side)


def probabilities(models, name, crop):
    """The three class probabilities of liveness model `name` on an 80x80 RGB crop (class 1 = real)."""
    return models.run(name, ref.to_nchw(crop, bgr=True))[0][0].astype(np.float64)


def score(models, image, adapt=True, crop_scale=None):
    """Largest face -> {model: {region, crop, probabilities}}, or None when no face is found. `crop_scale`, when
    given, replaces the manifest's scale of both models."""
    height, width = image.shape[:2]
    detections = ref.detect(models, image)
    face = ref.choose_face(detections, "largest", width, height)
    if face is None:
        return None
    box = detections[face]["box"]
    out = {"box": box}
    for name in ref.LIVENESS_MODELS:
        region = context_region(width, height, box, crop_scale or models.entries[name]["crop_scale"], adapt)
        crop = context_crop(image, region)
        out[name] = {"region": region, "crop": crop, "probabilities": probabilities(models, name, crop)}
    out["mean"] = float(np.mean([out[n]["probabilities"][ref.LIVENESS_REAL_CLASS] for n in ref.LIVENESS_MODELS]))
    return out


def rounded(values):
    return [float(f"{v:.6g}") for v in values]


def to_json(value):
    """2-space indented JSON with every list of numbers on one line."""
    text = json.dumps(value, indent=2)
    return re.sub(r"\[([-+0-9.eE,\s]+)\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
                  text) + "\n"


def golden(models, tests):
    for name in SAMPLES:
        fixture = tests / "fixtures" / name
        out_dir = tests / "golden_liveness" / fixture.stem
        out_dir.mkdir(parents=True, exist_ok=True)
        image = ref.save_png(ref.decode(fixture), out_dir / "decoded.png")
        result = score(models, image)
        if result is None:
            raise RuntimeError(f"{name}: no face")
        data = {"fixture": name, "image_size": [image.shape[1], image.shape[0]], "box": result["box"]}
        for model in ref.LIVENESS_MODELS:
            crop = ref.save_png(result[model]["crop"], out_dir / f"crop_{model}.png")
            data[model] = {
                "crop_scale": models.entries[model]["crop_scale"],
                "region": result[model]["region"],
                "probabilities_of_crop_png": rounded(probabilities(models, model, crop)),
            }
        data["mean_real_probability"] = float(f"{result['mean']:.6g}")
        (out_dir / "golden.json").write_text(to_json(data))
        print(f"{fixture.stem}: v2 {data['liveness_v2']['probabilities_of_crop_png'][1]:.4f} "
              f"v1se {data['liveness_v1se']['probabilities_of_crop_png'][1]:.4f} mean {result['mean']:.4f}")


def images_under(folder):
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def is_live(rule, v2, v1se):
    """The manifest's liveness rule (crates/facecheck/src/pipeline/liveness_rule.rs) on the two real-probabilities."""
    if "mean" in rule:
        return (v2 + v1se) / 2 >= rule["mean"]["real_probability"]
    return v2 >= rule["both"]["minifasnet_v2"] and v1se >= rule["both"]["minifasnet_v1se"]


def evaluate(models, live_dir, spoof_dir, adapt, crop_scale, rule):
    scores = {True: [], False: []}
    decided_live = {True: [], False: []}
    no_face = {True: 0, False: 0}
    for is_live_set, folder in ((True, live_dir), (False, spoof_dir)):
        for path in images_under(folder):
            result = score(models, ref.decode(path), adapt, crop_scale)
            if result is None:
                no_face[is_live_set] += 1
            else:
                scores[is_live_set].append(result["mean"])
                v2, v1se = (result[n]["probabilities"][ref.LIVENESS_REAL_CLASS] for n in ref.LIVENESS_MODELS)
                decided_live[is_live_set].append(is_live(rule, v2, v1se))
    live, spoof = np.array(scores[True]), np.array(scores[False])
    auc = ((live[:, None] > spoof[None, :]).mean() + 0.5 * (live[:, None] == spoof[None, :]).mean())
    print(f"box {'training' if adapt else 'yunet'}: {len(live)} live, {len(spoof)} attacks scored; "
          f"no face: {no_face[True]} live, {no_face[False]} attacks")
    print(f"ROC AUC {auc:.6f}")
    print(f"with the manifest's rule {json.dumps(rule)}: APCER {np.mean(decided_live[False]):.4f}, "
          f"BPCER {1 - np.mean(decided_live[True]):.4f}")
    print("lowest live scores  " + " ".join(f"{v:.4f}" for v in np.sort(live)[:5]))
    print("highest attack scores " + " ".join(f"{v:.4f}" for v in np.sort(spoof)[::-1][:5]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    g = commands.add_parser("golden", help="write tests/golden_liveness/")
    g.add_argument("--tests", type=Path, default=TESTS, help="directory holding fixtures/ and golden_liveness/")
    s = commands.add_parser("score", help="score images")
    s.add_argument("images", nargs="+", type=Path)
    s.add_argument("--box", choices=("training", "yunet"), default="training")
    e = commands.add_parser("eval", help="ROC AUC on live and attack folders")
    e.add_argument("--live", type=Path, required=True)
    e.add_argument("--spoof", type=Path, required=True)
    e.add_argument("--box", choices=("training", "yunet"), default="training")
    e.add_argument("--crop-scale", type=float, help="context scale for both models instead of the manifest's")
    args = parser.parse_args(argv)

    models = ref.Models()
    if args.command == "golden":
        golden(models, args.tests)
    elif args.command == "score":
        for path in args.images:
            result = score(models, ref.decode(path), args.box == "training")
            if result is None:
                print(f"{path}: no face")
                continue
            real = {n: result[n]["probabilities"][ref.LIVENESS_REAL_CLASS] for n in ref.LIVENESS_MODELS}
            print(f"{path}: " + " ".join(f"{n} {v:.4f}" for n, v in real.items()) + f" mean {result['mean']:.4f}")
    else:
        manifest = json.loads((ref.MODELS_DIR / "manifest.json").read_text(encoding="utf-8"))
        rule = manifest["liveness"]["liveness_threshold"]["rule"]
        evaluate(models, args.live, args.spoof, args.box == "training", args.crop_scale, rule)


if __name__ == "__main__":
    main()
