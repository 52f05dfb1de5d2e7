#!/usr/bin/env python3
"""Facecheck against onnxruntime, side by side: the same photos, models and check-in stages, in turn, one thread each.

Run through scripts/bench-vs-onnxruntime.sh (which builds the `facecheck` binary and installs the pinned packages).

    python3 scripts/bench_vs_onnxruntime.py --facecheck BIN --data DIR [--pairs 100] [--json OUT] [--markdown OUT]
    python3 scripts/bench_vs_onnxruntime.py --one-checkin IMG      (one check-in, for the peak-RSS measurement)

The photos: the first N same-person and the first N different-person pairs of LFW View 1 `pairsDevTest.txt`
(DIR/lfw-view1), each distinct photo once (330 photos for N = 100).

The stages of a check-in, on each photo: decode (EXIF orientation), detect (letterbox, YuNet, decoding and NMS),
quality (the gates: framing, pose, and light and sharpness on the aligned crop), liveness (both MiniFASNet context
crops and models), align (the 150x150 crop), embed (the crop and its mirror, two runs of dlib ResNet-29), match (the
distance to a template) and sign (an Ed25519 JWS of the attestation's claims). Facecheck times them inside
`facecheck bench stages` (a child process fed the paths on stdin); onnxruntime's side is this script: reference.py's
decoding of YuNet's outputs, NMS, similarity and liveness geometry, Pillow's C resamplers for the letterbox and the
crops (bilinear: what a straightforward onnxruntime app would use; reference.py's own resampler is numpy in f64 and
would make onnxruntime look slower than it is), and the f32 originals of the models (../shared/models) with all of
onnxruntime's graph optimisations: the obvious alternative at its best. Every stage runs on every photo with a face,
whatever the gates decide. The order alternates (onnxruntime first on even photos, Facecheck first on odd ones), so
the machine's noise falls on both; the first few photos are a warm-up, not counted.

Also: Facecheck end to end as its check-in runs it, with the liveness models beside the alignment and embedding on
two threads (`two_threads_ms` of `facecheck bench stages`), against onnxruntime's one thread: the issue's "all
cores" figure on this 2-core machine. Also measured: loading and optimising the whole bundle (median of 3), the peak RSS of one check-in as a process
(`facecheck checkin` on a vault enrolled from the fixtures; this script's --one-checkin for onnxruntime, with the
interpreter it needs), and the size of the model files each one loads.
"""

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
import liveness_reference as lref  # noqa: E402
import reference as ref  # noqa: E402

REPO = ref.REPO
FIXTURES = REPO / "crates/facecheck/tests/fixtures"
STAGES = ("decode", "detect", "quality", "liveness", "align", "embed", "match", "sign")
# The stages a check-in runs on two threads once the face is found (`Engine::liveness_and_embedding`).
PARALLEL = ("liveness", "align", "embed")
WARM_UP = 6


# ----------------------------------------------------------------------------------------------------------------
# The onnxruntime pipeline


class OrtModels(ref.Models):
    """reference.py's Models with the f32 originals and all graph optimisations, one thread."""

    def __init__(self, models_dir=ref.MODELS_DIR, originals_dir=ref.ORIGINALS_DIR):
        manifest = json.loads((models_dir / "manifest.json").read_text(encoding="utf-8"))
        self.entries = manifest["models"]
        self.liveness_rule = manifest.get("liveness", {}).get("liveness_threshold", {}).get("rule")
        self.files = {name: originals_dir / e["file"].replace("_int8w", "") for name, e in self.entries.items()}
        self.sessions = {}
        for name, path in self.files.items():
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self.sessions[name] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def decode(path):
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def letterbox(image):
    width, height = image.size
    s = min(ref.DET_SIZE / width, ref.DET_SIZE / height)
    scaled = image.resize((max(1, round(width * s)), max(1, round(height * s))), Image.BILINEAR)
    canvas = Image.new("RGB", (ref.DET_SIZE, ref.DET_SIZE))
    canvas.paste(scaled, (0, 0))
    return np.asarray(canvas), s


def detect(models, image):
    letterboxed, s = letterbox(image)
    return ref.scale_detections(ref.detect_320(models, letterboxed), s)


def align(image, landmarks):
    inverse = ref.invert_affine(ref.similarity(landmarks))
    side = ref.ALIGN_SIZE
    return np.asarray(image.transform((side, side), Image.AFFINE, tuple(inverse.ravel()), Image.BILINEAR))


def photometry(crop):
    """Mean luma, fraction >= 250 and the re-blur sharpness over the crop's central region (quality.rs)."""
    luma = crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    blurred = np.zeros_like(luma)
    blurred[1:-1, 1:-1] = sum(luma[1 + dy:luma.shape[0] - 1 + dy, 1 + dx:luma.shape[1] - 1 + dx]
                              for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9.0

    def energy(v):
        gx = v[35:115, 36:116] - v[35:115, 34:114]
        gy = v[36:116, 35:115] - v[34:114, 35:115]
        return float((gx.astype(np.float64) ** 2 + gy.astype(np.float64) ** 2).sum())

    region = luma[35:115, 35:115]
    e = energy(luma)
    return float(region.mean()), float((region >= 250).mean()), (1 - energy(blurred) / e) if e > 0 else 0.0


def quality(image, detections):
    """The gates' measures (quality.rs): the largest face, framing, pose, and photometry on its aligned crop."""
    width, height = image.size
    index = ref.choose_face(detections, "largest", width, height)
    if index is None:
        return None
    face = detections[index]
    x1, y1, x2, y2 = face["box"]
    area = (x2 - x1) * (y2 - y1)
    second = max((ref.box_area(d) for i, d in enumerate(detections) if i != index), default=0.0)
    inside = max(0.0, min(x2, width) - max(x1, 0.0)) * max(0.0, min(y2, height) - max(y1, 0.0))
    p = np.asarray(face["landmarks"]).reshape(5, 2)
    d = p[1] - p[0]
    roll = np.arctan2(d[1], d[0])
    rot = np.array([[np.cos(roll), np.sin(roll)], [-np.sin(roll), np.cos(roll)]])
    upright = (p - (p[0] + p[1]) / 2) @ rot.T
    mouth = (upright[3] + upright[4]) / 2
    eye_distance = float(np.hypot(*d))
    measures = {
        "second": second / area, "outside": 1 - inside / area, "width": x2 - x1,
        "extent": max((x2 - x1) / width, (y2 - y1) / height),
        "yaw": (upright[2][0] - mouth[0] / 2) / eye_distance, "roll": float(np.degrees(roll)),
        "pitch": upright[2][1] / mouth[1] if mouth[1] > 0 else float("nan"),
    }
    measures["luma"], measures["bright"], measures["sharpness"] = photometry(align(image, face["landmarks"]))
    return face, measures


def liveness(models, image, box):
    width, height = image.size
    real = {}
    for name in ref.LIVENESS_MODELS:
        x1, y1, x2, y2 = lref.context_region(width, height, box, models.entries[name]["crop_scale"])
        region = (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
        side = ref.LIVENESS_SIZE
        crop = np.asarray(image.resize((side, side), Image.BILINEAR, box=region))
        real[name] = float(models.run(name, ref.to_nchw(crop, bgr=True))[0][0, ref.LIVENESS_REAL_CLASS])
    return real


def embed(models, crop):
    total = np.zeros(128)
    for view in (crop, crop[:, ::-1]):
        total += models.run("embedder", ref.to_nchw(view, bgr=False))[0][0].astype(np.float64)
    return total / np.linalg.norm(total)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class Signer:
    def __init__(self):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        self.key = Ed25519PrivateKey.generate()
        self.header = b64(json.dumps({"alg": "EdDSA", "typ": "facecheck-attestation+jwt", "kid": "k"},
                                     separators=(",", ":")).encode())

    def sign(self, claims):
        payload = self.header + b"." + b64(json.dumps(claims, separators=(",", ":")).encode())
        return (payload + b"." + b64(self.key.sign(payload))).decode()


def ort_stages(models, signer, path, template, counter):
    """(milliseconds per stage, embedding) on one photo, or (None, None) without a face."""
    ms = {}
    clock = time.perf_counter

    def timed(name, f):
        start = clock()
        value = f()
        ms[name] = (clock() - start) * 1e3
        return value

    image = timed("decode", lambda: decode(path))
    detections = timed("detect", lambda: detect(models, image))
    chosen = timed("quality", lambda: quality(image, detections))
    if chosen is None:
        return None, None
    face, _ = chosen
    live = timed("liveness", lambda: liveness(models, image, face["box"]))
    crop = timed("align", lambda: align(image, face["landmarks"]))
    embedding = timed("embed", lambda: embed(models, crop))
    reference = embedding if template is None else template
    outcome = timed("match", lambda: "match" if ref.distance(reference, embedding) < 0.5 else "no_match")
    timed("sign", lambda: signer.sign({
        "sub": "driver", "aud": "fleet", "blk": "block", "nonce": "nonce", "iat": 1800000000, "ctr": counter,
        "res": outcome, "live": min(live.values()) > 0.2, "lvm": "passive", "att": 1, "mdl": "0" * 64, "pol": "policy", "ver": "0.1.0"}))
    return ms, embedding


# ----------------------------------------------------------------------------------------------------------------
# The photos, the run, the report


def lfw_photos(data, pairs_per_kind):
    lines = (data / "lfw-view1/pairsDevTest.txt").read_text().split("\n")
    count = int(lines[0])
    same = [line.split("\t") for line in lines[1:1 + count]][:pairs_per_kind]
    different = [line.split("\t") for line in lines[1 + count:1 + 2 * count]][:pairs_per_kind]
    image = lambda name, n: data / "lfw-view1/images" / name / f"{name}_{int(n):04d}.jpg"
    pairs = [(image(n, a), image(n, b), True) for n, a, b in same]
    pairs += [(image(n1, a), image(n2, b), False) for n1, a, n2, b in different]
    photos = list(dict.fromkeys(p for a, b, _ in pairs for p in (a, b)))
    return photos, pairs


def median(values):
    return statistics.median(values) if values else float("nan")


def peak_rss_mb(argv, **kwargs):
    """Runs argv to completion under GNU time; its peak resident set size in MB.

    Not this process's wait4(): on Linux a child's ru_maxrss starts at its parent's resident size at fork (the
    forked copy's high-water mark survives exec), which would give every child this script's size."""
    with tempfile.NamedTemporaryFile("r") as report:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *argv], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
        return int(report.read().split()[-1]) / 1024


def facecheck_checkin_rss(binary, selfie):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = lambda *args: subprocess.run([binary, *args], check=True, capture_output=True, cwd=tmp)
        run("keygen", "--out", "kek")
        run("enroll", "--vault", "v", "--key-file", "kek", "--driver", "D", "--fleet", "F",
            *(str(FIXTURES / n) for n in ("obama.jpg", "obama1.jpg", "obama2.jpg")))
        return peak_rss_mb([binary, "checkin", "--vault", "v", "--key-file", "kek", "--nonce", "N", "--block", "B",
                            str(selfie)], cwd=tmp)


def one_checkin(path):
    models = OrtModels()
    ms, _ = ort_stages(models, Signer(), path, None, 1)
    print(json.dumps(ms))


def run(args):
    photos, pairs = lfw_photos(args.data, args.pairs)
    print(f"{len(photos)} photos from {len(pairs)} LFW View 1 DevTest pairs; warm-up {WARM_UP} photos",
          file=sys.stderr)
    fc = subprocess.Popen([args.facecheck, "bench", "stages", "--loads", "3"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, bufsize=1)
    fc_load = json.loads(fc.stdout.readline())["load_ms"]
    ort_load = []
    for _ in range(3):
        start = time.perf_counter()
        models = OrtModels()
        ort_load.append((time.perf_counter() - start) * 1e3)
    signer = Signer()

    def facecheck(path):
        fc.stdin.write(f"{path}\n")
        fc.stdin.flush()
        line = json.loads(fc.stdout.readline())
        if line.get("no_face"):
            return None
        return {**line["ms"], **line["two_threads_ms"]}

    times = {"facecheck": [], "onnxruntime": []}
    embeddings = {}
    template = None
    no_face = {"facecheck": 0, "onnxruntime": 0}
    sequence = photos[:WARM_UP] + photos
    for i, path in enumerate(sequence):
        counted = i >= WARM_UP
        for side in (("onnxruntime", "facecheck") if i % 2 == 0 else ("facecheck", "onnxruntime")):
            if side == "facecheck":
                ms = facecheck(path)
            else:
                ms, embedding = ort_stages(models, signer, path, template, i + 1)
                if embedding is not None:
                    embeddings[path] = embedding
                    template = embedding if template is None else template
            if counted:
                if ms is None:
                    no_face[side] += 1
                else:
                    times[side].append(ms)
        if counted and (i - WARM_UP + 1) % 50 == 0:
            print(f"  {i - WARM_UP + 1}/{len(photos)}", file=sys.stderr)
    fc.stdin.close()
    fc.wait()

    def stage_medians(side):
        rows = times[side]
        out = {stage: median([r[stage] for r in rows]) for stage in STAGES}
        out["total"] = median([sum(r[stage] for stage in STAGES) for r in rows])
        return out

    fc_ms, ort_ms = stage_medians("facecheck"), stage_medians("onnxruntime")
    # Facecheck as a check-in runs it: the liveness models beside the alignment and embedding, on two threads.
    fc_two_threads = median([sum(r[stage] for stage in STAGES if stage not in PARALLEL) + r["liveness_align_embed"]
                             for r in times["facecheck"]])
    # A sanity check that the onnxruntime side does the real work: its accuracy on the pairs, at the manifest's
    # distance threshold.
    threshold = models.entries["embedder"]["match_threshold"]["distance"]
    judged = [(ref.distance(embeddings[a], embeddings[b]) < threshold) == same
              for a, b, same in pairs if a in embeddings and b in embeddings]
    selfie = FIXTURES / "obama.jpg"
    report = {
        "photos": len(photos), "pairs": len(pairs), "timed": {k: len(v) for k, v in times.items()},
        "no_face": no_face,
        "median_ms": {"facecheck": fc_ms, "onnxruntime": ort_ms},
        "ratio": {k: fc_ms[k] / ort_ms[k] if ort_ms[k] > 0 else float("nan") for k in fc_ms},
        "two_threads": {"facecheck_total_ms": fc_two_threads, "ratio_to_onnxruntime_one_thread":
                        fc_two_threads / ort_ms["total"], "cores": os.cpu_count()},
        "load_ms": {"facecheck": fc_load, "onnxruntime": ort_load},
        "peak_rss_mb": {
            "facecheck": facecheck_checkin_rss(args.facecheck, selfie),
            "onnxruntime": peak_rss_mb([sys.executable, __file__, "--one-checkin", str(selfie)]),
        },
        "bundle_bytes": {
            "facecheck": sum((ref.MODELS_DIR / e["file"]).stat().st_size for e in models.entries.values()),
            "onnxruntime": sum(p.stat().st_size for p in models.files.values()),
        },
        "onnxruntime_pair_accuracy": {"correct": sum(judged), "of": len(judged), "threshold": threshold},
        "versions": {"onnxruntime": ort.__version__, "python": sys.version.split()[0]},
    }
    return report


def markdown(r):
    fc, ox = r["median_ms"]["facecheck"], r["median_ms"]["onnxruntime"]
    lines = ["| stage | Facecheck (tract) ms | onnxruntime ms | Facecheck / onnxruntime |", "|---|---|---|---|"]
    for stage in STAGES + ("total",):
        name = "**end to end**" if stage == "total" else stage
        lines.append(f"| {name} | {fc[stage]:.2f} | {ox[stage]:.2f} | {r['ratio'][stage]:.2f}x |")
    two = r["two_threads"]
    lines.append(f"| **end to end, two threads** (liveness beside align + embed; onnxruntime one thread) | "
                 f"{two['facecheck_total_ms']:.2f} | {ox['total']:.2f} | {two['ratio_to_onnxruntime_one_thread']:.2f}x |")
    load = {k: median(v) for k, v in r["load_ms"].items()}
    rss, size = r["peak_rss_mb"], r["bundle_bytes"]
    lines.append(f"| load + optimise (whole bundle, median of 3) | {load['facecheck']:.0f} | "
                 f"{load['onnxruntime']:.0f} | {load['facecheck'] / load['onnxruntime']:.2f}x |")
    lines.append(f"| peak RSS of one check-in (process), MB | {rss['facecheck']:.0f} | {rss['onnxruntime']:.0f} | "
                 f"{rss['facecheck'] / rss['onnxruntime']:.2f}x |")
    lines.append(f"| model files, MB | {size['facecheck'] / 1e6:.2f} | {size['onnxruntime'] / 1e6:.2f} | "
                 f"{size['facecheck'] / size['onnxruntime']:.2f}x |")
    acc = r["onnxruntime_pair_accuracy"]
    lines.append("")
    lines.append(f"Medians over {r['timed']['facecheck']} photos with a face (Facecheck) and "
                 f"{r['timed']['onnxruntime']} (onnxruntime) of {r['photos']}; end to end is the median of each "
                 f"photo's sum of stages. onnxruntime {r['versions']['onnxruntime']} (f32 originals, all graph "
                 f"optimisations); its pipeline judged {acc['correct']}/{acc['of']} pairs right at distance "
                 f"{acc['threshold']}.")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--facecheck", help="the facecheck binary")
    parser.add_argument("--data", type=Path, help="folder holding lfw-view1/ (../shared/data)")
    parser.add_argument("--pairs", type=int, default=100, help="same and different pairs each (default 100)")
    parser.add_argument("--json", type=Path, help="write the report as JSON")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown")
    parser.add_argument("--one-checkin", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_checkin:
        one_checkin(args.one_checkin)
        return
    if not args.facecheck or not args.data:
        parser.error("--facecheck and --data are required")
    report = run(args)
    table = markdown(report)
    print(table)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(table)


if __name__ == "__main__":
    main()
