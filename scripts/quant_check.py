#!/usr/bin/env python3
"""Agreement of the shipped int8-weight models with their f32 originals, on real faces. Prints; writes nothing.

Embedder: every image referenced by LFW's pairsDevTest.txt (../shared/data/lfw-view1), detected with the shipped
YuNet, face choice Central, aligned by the reference pipeline, embedded (with flip) by the shipped
dlib_resnet29_128d_int8w.onnx and by the f32 dlib_resnet29_128d.onnx: median and minimum cosine of the two unit
embeddings.

Liveness: NUAA train-subset frames (../shared/data/pad-dev/nuaa-train-subset), evenly spaced over the sorted live
and spoof lists (50 + 50 by default), face choice Largest, each model's own crop (models/README.md): maximum and
median absolute difference of the real-class probability between the int8w and the f32 model, for each model and
for the mean of the two (the product's liveness score).

Usage: python3 scripts/quant_check.py [--nuaa-per-class N]   (single-threaded onnxruntime; a few minutes)
"""

import argparse

import numpy as np

import reference as ref

DATA = ref.REPO.parent / "shared/data"
LFW = DATA / "lfw-view1"
NUAA = DATA / "pad-dev/nuaa-train-subset"
PROGRESS_EVERY = 100


def lfw_pair_images(pairs_file):
    """Sorted unique image paths referenced by an LFW pairs file."""
    lines = pairs_file.read_text().splitlines()[1:]
    names = set()
    for line in lines:
        fields = line.split()
        if len(fields) == 3:
            names |= {(fields[0], int(fields[1])), (fields[0], int(fields[2]))}
        else:
            names |= {(fields[0], int(fields[1])), (fields[2], int(fields[3]))}
    return [LFW / "images" / name / f"{name}_{i:04d}.jpg" for name, i in sorted(names)]


def evenly_spaced(items, count):
    if count >= len(items):
        return items
    return [items[i * len(items) // count] for i in range(count)]


def progress(done, total):
    if done % PROGRESS_EVERY == 0 or done == total:
        print(f"  {done}/{total}", flush=True)


def check_embedder(shipped, original):
    paths = lfw_pair_images(LFW / "pairsDevTest.txt")
    print(f"embedder: {len(paths)} LFW pairsDevTest images")
    cosines, missed = [], 0
    for done, path in enumerate(paths, 1):
        image = ref.decode(path)
        detections = ref.detect(shipped, image)
        face = ref.choose_face(detections, "central", image.shape[1], image.shape[0])
        if face is None:
            missed += 1
        else:
            crop = ref.align(image, detections[face]["landmarks"])
            cosines.append(float(ref.embed(shipped, crop) @ ref.embed(original, crop)))
        progress(done, len(paths))
    cosines = np.array(cosines)
    worst = int(np.argmin(cosines))
    print(f"embedder int8w vs f32: {len(cosines)} faces ({missed} images without a face): cosine median "
          f"{np.median(cosines):.6f}, minimum {cosines[worst]:.6f}, 1st percentile {np.percentile(cosines, 1):.6f}")


def check_liveness(shipped, original, per_class):
    paths = [p for kind in ("live", "spoof") for p in evenly_spaced(sorted((NUAA / kind).rglob("*.jpg")), per_class)]
    print(f"liveness: {len(paths)} NUAA frames")
    diffs = {name: [] for name in ref.LIVENESS_MODELS + ("mean",)}
    missed = 0
    for done, path in enumerate(paths, 1):
        image = ref.decode(path)
        detections = ref.detect(shipped, image)
        face = ref.choose_face(detections, "largest", image.shape[1], image.shape[0])
        if face is None:
            missed += 1
        else:
            box = detections[face]["box"]
            a, b = ref.liveness_scores(shipped, image, box), ref.liveness_scores(original, image, box)
            for name in diffs:
                diffs[name].append(abs(a[name] - b[name]))
        progress(done, len(paths))
    print(f"liveness int8w vs f32 on {len(paths) - missed} faces ({missed} frames without a face), "
          f"|real probability difference|:")
    for name, d in diffs.items():
        label = shipped.entries[name]["file"] if name in shipped.entries else "mean of the two models"
        print(f"  {name:14s} ({label}): max {max(d):.6f}, median {np.median(d):.6f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nuaa-per-class", type=int, default=50, help="NUAA frames per class (live, spoof)")
    args = parser.parse_args(argv)

    shipped, original = ref.Models(), ref.Models(fp32=True)
    check_embedder(shipped, original)
    check_liveness(shipped, original, args.nuaa_per_class)


if __name__ == "__main__":
    main()
