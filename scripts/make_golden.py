#!/usr/bin/env python3
"""Write the golden outputs of scripts/reference.py for the face fixtures, for the Rust stage-by-stage tests.

For each face photo in crates/facecheck/tests/fixtures/, crates/facecheck/tests/golden/<stem>/ gets:

    letterbox.png   the 320x320 RGB letterbox of the decoded image (scale `letterbox_scale`, top-left, black pad)
    aligned.png     the 150x150 RGB crop aligned from letterbox.png with the landmarks of the Largest face of
                    `detections_320` (so it is a function of letterbox.png alone)
    golden.json     fixture         file name in fixtures/
                    image_size      [width, height] of the decoded (EXIF-rotated) image
                    letterbox_scale s = min(320 / W, 320 / H), full precision
                    face            index of the Largest face (the same in both detection lists)
                    detections_320  YuNet (onnxruntime) on letterbox.png after NMS, letterbox coordinates:
                                    [{score, box[4], landmarks[10]}], best score first
                    detections      the same from the original file through the whole reference pipeline, in image
                                    coordinates (detections_320 divided by letterbox_scale)
                    embedding_of_aligned_png  128 floats: shipped embedder on aligned.png and its mirror, normalised
                    embedding       128 floats: end to end from the original file, aligned at full resolution

Floats are rounded to 6 significant digits. Uses the shipped models in models/. Deterministic; rerun after changing
the pipeline, the models or the fixtures: python3 scripts/make_golden.py
"""

import argparse
import json
import re
from pathlib import Path

import numpy as np

import reference as ref

TESTS = Path(__file__).resolve().parent.parent / "crates/facecheck/tests"
FACE_FIXTURES = ("obama.jpg", "obama1.jpg", "obama2.jpg", "biden.jpg", "biden2.jpg",
                 "image_F1.jpg", "image_F2.jpg", "image_T1.jpg", "exif_orientation6.jpg", "gray.jpg")


def rounded(value):
    """Round every float in a JSON-able structure to 6 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


def to_json(value):
    """2-space indented JSON with every list of numbers kept on one line."""
    text = json.dumps(value, indent=2)
    return re.sub(r"\[([-+0-9.eE,\s]+)\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
                  text) + "\n"


def golden_for(models, fixture, out_dir):
    image = ref.decode(fixture)
    height, width = image.shape[:2]

    letterboxed, s = ref.letterbox(image)
    letterboxed = ref.save_png(letterboxed, out_dir / "letterbox.png")
    detections_320 = ref.detect_320(models, letterboxed)
    face = ref.choose_face(detections_320, "largest", ref.DET_SIZE, ref.DET_SIZE)
    if face is None:
        raise RuntimeError(f"{fixture}: no face in the letterbox")
    aligned = ref.save_png(ref.align(letterboxed, detections_320[face]["landmarks"]), out_dir / "aligned.png")

    embedding_of_aligned = ref.embed(models, aligned)

    result = ref.run_pipeline(models, image, "largest")
    if result["face"] != face:
        raise RuntimeError(f"{fixture}: the full pipeline chose another face")
    golden = {
        "fixture": fixture.name,
        "image_size": [width, height],
        "letterbox_scale": s,
        "face": face,
        "detections_320": rounded(detections_320),
        "detections": rounded(result["detections"]),
        "embedding_of_aligned_png": rounded(embedding_of_aligned.tolist()),
        "embedding": rounded(result["embedding"].tolist()),
    }
    (out_dir / "golden.json").write_text(to_json(golden))
    return result["embedding"], embedding_of_aligned


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=Path, default=TESTS, help="directory holding fixtures/ and golden/")
    args = parser.parse_args(argv)

    models = ref.Models()
    embeddings = {}
    for name in FACE_FIXTURES:
        fixture = args.tests / "fixtures" / name
        out_dir = args.tests / "golden" / fixture.stem
        out_dir.mkdir(parents=True, exist_ok=True)
        full, from_letterbox = golden_for(models, fixture, out_dir)
        embeddings[fixture.stem] = full
        print(f"{fixture.stem:18s} full-res vs letterbox-aligned embedding distance "
              f"{ref.distance(full, from_letterbox):.4f}")

    print("distances between end-to-end embeddings:")
    stems = list(embeddings)
    print(" " * 18 + "".join(f"{s[:8]:>9s}" for s in stems))
    for p in stems:
        print(f"{p:18s}" + "".join(f"{ref.distance(embeddings[p], embeddings[q]):9.3f}" for q in stems))


if __name__ == "__main__":
    main()
