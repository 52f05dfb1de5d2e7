#!/usr/bin/env python3
"""Reference implementation of scripts/PIPELINE.md in numpy + onnxruntime.

Independent of the Rust core; the golden tests compare the two stage by stage (scripts/make_golden.py). Every step
follows PIPELINE.md to the letter; the resampler works in f64 (the Rust side in f32), so crops agree within one
level. The liveness crop, which PIPELINE.md does not cover, follows models/README.md.

Module use:
    models = Models()                      # the shipped files of models/ (Models(fp32=True): the f32 originals)
    image = decode("face.jpg")             # HxWx3 uint8 RGB
    result = run_pipeline(models, image)   # detections, chosen face, aligned crop, embedding

CLI: python3 scripts/reference.py [--fp32] [--choice largest|central] [--liveness] IMG [IMG ...]
prints the detections and an embedding summary for every image, and the pairwise distances when given several.
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO / "models"
ORIGINALS_DIR = REPO.parent / "shared/models"

DET_SIZE = 320
STRIDES = (8, 16, 32)
ALIGN_SIZE = 150
TEMPLATE = np.array([[47.16, 44.77], [103.20, 44.91], [75.20, 78.15], [50.34, 103.25], [99.25, 103.39]])
LIVENESS_SIZE = 80
LIVENESS_REAL_CLASS = 1
LIVENESS_MODELS = ("liveness_v2", "liveness_v1se")


# ----------------------------------------------------------------------------------------------------------------
# Models


def _session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Only the graph rewrites that keep the arithmetic exact: onnxruntime's extended optimisations fuse
    # DequantizeLinear into integer kernels (quantising activations), which is not what the model file says
    # (and moves int8w embeddings by ~1e-3).
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class Models:
    """The four ONNX sessions plus their manifest entries (thresholds, crop scales).

    By default the shipped files listed in models/manifest.json; with fp32=True the f32 originals of the same models
    in ../shared/models (the shipped name without the `_int8w` suffix).
    """

    def __init__(self, fp32=False, threads=1, models_dir=MODELS_DIR, originals_dir=ORIGINALS_DIR):
        manifest = json.loads((models_dir / "manifest.json").read_text(encoding="utf-8"))
        self.entries = manifest["models"]
        self.sessions = {}
        for name, entry in self.entries.items():
            path = originals_dir / entry["file"].replace("_int8w", "") if fp32 else models_dir / entry["file"]
            self.sessions[name] = _session(path, threads)

    @property
    def score_threshold(self):
        return self.entries["detector"]["score_threshold"]

    @property
    def nms_iou(self):
        return self.entries["detector"]["nms_iou"]

    def run(self, name, tensor):
        session = self.sessions[name]
        return session.run(None, {session.get_inputs()[0].name: tensor})


# ----------------------------------------------------------------------------------------------------------------
# Decode and resampling


def decode(path):
    """JPEG/PNG -> HxWx3 uint8 RGB, EXIF orientation applied, alpha dropped, gray replicated."""
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def supersampling(M):
    k = math.sqrt(abs(M[0, 0] * M[1, 1] - M[0, 1] * M[1, 0]))
    return min(8, max(1, math.ceil(k - 1e-3)))


def sample_affine(src, M, out_w, out_h):
    """PIPELINE.md's resampler. `M` (2x3) maps output continuous coordinates to source continuous coordinates."""
    M = np.asarray(M, dtype=np.float64)
    height, width = src.shape[:2]
    img = src.astype(np.float64)
    n = supersampling(M)
    acc = np.zeros((out_h, out_w, src.shape[2]))
    u = np.arange(out_w, dtype=np.float64)[None, :]
    v = np.arange(out_h, dtype=np.float64)[:, None]
    for b in range(n):
        oy = v + (b + 0.5) / n
        for a in range(n):
            ox = u + (a + 0.5) / n
            x = M[0, 0] * ox + M[0, 1] * oy + M[0, 2]
            y = M[1, 0] * ox + M[1, 1] * oy + M[1, 2]
            inside = (x >= 0) & (x <= width) & (y >= 0) & (y <= height)
            x0 = np.floor(x - 0.5)
            y0 = np.floor(y - 0.5)
            fx = ((x - 0.5) - x0)[..., None]
            fy = ((y - 0.5) - y0)[..., None]
            xa = np.clip(x0, 0, width - 1).astype(np.intp)
            xb = np.clip(x0 + 1, 0, width - 1).astype(np.intp)
            ya = np.clip(y0, 0, height - 1).astype(np.intp)
            yb = np.clip(y0 + 1, 0, height - 1).astype(np.intp)
            value = ((1 - fx) * (1 - fy) * img[ya, xa] + fx * (1 - fy) * img[ya, xb]
                     + (1 - fx) * fy * img[yb, xa] + fx * fy * img[yb, xb])
            acc += np.where(inside[..., None], value, 0.0)
    return np.clip(np.floor(acc / (n * n) + 0.5), 0, 255).astype(np.uint8)


def to_nchw(image, bgr):
    """HxWx3 uint8 RGB -> 1x3xHxW f32 with values 0..255, channels in BGR order if `bgr`."""
    chw = image.transpose(2, 0, 1)
    if bgr:
        chw = chw[::-1]
    return np.ascontiguousarray(chw[None], dtype=np.float32)


# ----------------------------------------------------------------------------------------------------------------
# Detector


def letterbox(image):
    """Returns (320x320x3 uint8 letterbox, scale s): the image scaled by s into the top-left, black elsewhere."""
    height, width = image.shape[:2]
    s = min(DET_SIZE / width, DET_SIZE / height)
    M = [[1 / s, 0, 0], [0, 1 / s, 0]]
    return sample_affine(image, M, DET_SIZE, DET_SIZE), s


def detect_320(models, letterboxed):
    """YuNet on a 320x320 RGB letterbox: detections in letterbox coordinates after NMS, best score first.

    A detection is {"score": float, "box": [x1, y1, x2, y2], "landmarks": [x0, y0, ..., x4, y4]}.
    """
    outputs = dict(zip((o.name for o in models.sessions["detector"].get_outputs()),
                       models.run("detector", to_nchw(letterboxed, bgr=True))))
    scores, boxes, landmarks = [], [], []
    for stride in STRIDES:
        cols = DET_SIZE // stride
        cls = np.clip(outputs[f"cls_{stride}"][0, :, 0].astype(np.float64), 0, 1)
        obj = np.clip(outputs[f"obj_{stride}"][0, :, 0].astype(np.float64), 0, 1)
        bbox = outputs[f"bbox_{stride}"][0].astype(np.float64)
        kps = outputs[f"kps_{stride}"][0].astype(np.float64)
        score = np.sqrt(cls * obj)
        keep = np.flatnonzero(score >= models.score_threshold)
        r, c = np.divmod(keep, cols)
        cx = (c + bbox[keep, 0]) * stride
        cy = (r + bbox[keep, 1]) * stride
        w = np.exp(bbox[keep, 2]) * stride
        h = np.exp(bbox[keep, 3]) * stride
        scores.append(score[keep])
        boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
        lm = np.empty((len(keep), 10))
        lm[:, 0::2] = (c[:, None] + kps[keep, 0::2]) * stride
        lm[:, 1::2] = (r[:, None] + kps[keep, 1::2]) * stride
        landmarks.append(lm)
    scores, boxes, landmarks = np.concatenate(scores), np.concatenate(boxes), np.concatenate(landmarks)
    kept = nms(scores, boxes, models.nms_iou)
    return [{"score": float(scores[i]), "box": boxes[i].tolist(), "landmarks": landmarks[i].tolist()} for i in kept]


def iou(p, q):
    iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
    ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
    inter = iw * ih
    union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(scores, boxes, threshold):
    """Indices kept by greedy NMS over a stable descending sort of the scores."""
    kept = []
    for i in np.argsort(-scores, kind="stable"):
        if all(iou(boxes[i], boxes[j]) <= threshold for j in kept):
            kept.append(int(i))
    return kept


def scale_detections(detections, s):
    """Letterbox coordinates -> image coordinates (every coordinate divided by s)."""
    return [{"score": d["score"], "box": [c / s for c in d["box"]], "landmarks": [c / s for c in d["landmarks"]]}
            for d in detections]


def detect(models, image):
    """Detections in image coordinates, best score first."""
    letterboxed, s = letterbox(image)
    return scale_detections(detect_320(models, letterboxed), s)


def box_area(d):
    x1, y1, x2, y2 = d["box"]
    return (x2 - x1) * (y2 - y1)


def choose_face(detections, choice, width, height):
    """Index of the chosen face, or None: `largest` box area, or `central` (box centre nearest the image centre).
    Ties go to the earlier detection (higher score)."""
    if not detections:
        return None
    if choice == "largest":
        return max(range(len(detections)), key=lambda i: (box_area(detections[i]), -i))
    if choice == "central":
        def distance(i):
            x1, y1, x2, y2 = detections[i]["box"]
            return math.hypot((x1 + x2) / 2 - width / 2, (y1 + y2) / 2 - height / 2)
        return min(range(len(detections)), key=lambda i: (distance(i), i))
    raise ValueError(f"unknown face choice {choice!r}")


# ----------------------------------------------------------------------------------------------------------------
# Alignment and embedding


def similarity(landmarks):
    """Least-squares similarity q ~ [[a, -b], [b, a]] p + t from the 5 landmarks p onto TEMPLATE; returns 2x3."""
    p = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    pc, qc = p - p.mean(axis=0), TEMPLATE - TEMPLATE.mean(axis=0)
    norm = (pc ** 2).sum()
    a = (pc[:, 0] * qc[:, 0] + pc[:, 1] * qc[:, 1]).sum() / norm
    b = (pc[:, 0] * qc[:, 1] - pc[:, 1] * qc[:, 0]).sum() / norm
    R = np.array([[a, -b], [b, a]])
    t = TEMPLATE.mean(axis=0) - R @ p.mean(axis=0)
    return np.hstack([R, t[:, None]])


def invert_affine(A):
    R_inv = np.linalg.inv(A[:, :2])
    return np.hstack([R_inv, (-R_inv @ A[:, 2])[:, None]])


def align(image, landmarks):
    """The 150x150 RGB crop: sample_affine with the inverse of the landmark -> template similarity."""
    return sample_affine(image, invert_affine(similarity(landmarks)), ALIGN_SIZE, ALIGN_SIZE)


def embed(models, crop):
    """Unit 128-d embedding: L2-normalised sum of the raw descriptors of the crop and of its horizontal mirror."""
    total = np.zeros(128)
    for view in (crop, crop[:, ::-1]):
        total += models.run("embedder", to_nchw(view, bgr=False))[0][0].astype(np.float64)
    return total / np.linalg.norm(total)


def distance(e1, e2):
    return float(np.linalg.norm(np.asarray(e1) - np.asarray(e2)))


# ----------------------------------------------------------------------------------------------------------------
# Liveness (models/README.md; not part of PIPELINE.md)


def liveness_crop(image, box, crop_scale):
    """80x80 RGB crop: the box scaled by crop_scale around its centre (crop_scale shrunk so that the scaled box fits
    the image), shifted into the image, resized without keeping the aspect ratio by sample_affine."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    scale = min(crop_scale, width / bw, height / bh)
    nw, nh = bw * scale, bh * scale
    left = min(max((x1 + x2) / 2 - nw / 2, 0.0), width - nw)
    top = min(max((y1 + y2) / 2 - nh / 2, 0.0), height - nh)
    M = [[nw / LIVENESS_SIZE, 0, left], [0, nh / LIVENESS_SIZE, top]]
    return sample_affine(image, M, LIVENESS_SIZE, LIVENESS_SIZE)


def liveness(models, name, crop):
    """Real-class probability of liveness model `name` (liveness_v2 or liveness_v1se) on its 80x80 RGB crop."""
    return float(models.run(name, to_nchw(crop, bgr=True))[0][0, LIVENESS_REAL_CLASS])


def liveness_scores(models, image, box):
    """Real probability of both liveness models and their mean."""
    scores = {name: liveness(models, name, liveness_crop(image, box, models.entries[name]["crop_scale"]))
              for name in LIVENESS_MODELS}
    scores["mean"] = sum(scores[n] for n in LIVENESS_MODELS) / len(LIVENESS_MODELS)
    return scores


# ----------------------------------------------------------------------------------------------------------------
# Whole pipeline


def run_pipeline(models, image, choice="largest"):
    """Detect, choose a face, align at full resolution, embed. Returns a dict (face/crop/embedding None if no face)."""
    height, width = image.shape[:2]
    detections = detect(models, image)
    face = choose_face(detections, choice, width, height)
    result = {"detections": detections, "face": face, "crop": None, "embedding": None}
    if face is not None:
        result["crop"] = align(image, detections[face]["landmarks"])
        result["embedding"] = embed(models, result["crop"])
    return result


def save_png(array, path):
    """Write an RGB array losslessly, check the file reads back to the same pixels, and return them."""
    Image.fromarray(array).save(path, optimize=True)
    with Image.open(path) as im:
        back = np.asarray(im.convert("RGB"))
    assert np.array_equal(back, array), f"{path} does not read back identically"
    return back


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the reference pipeline on images.")
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--fp32", action="store_true", help="use the f32 originals in ../shared/models")
    parser.add_argument("--choice", choices=("largest", "central"), default="largest")
    parser.add_argument("--liveness", action="store_true", help="also print both liveness scores of the chosen face")
    args = parser.parse_args(argv)

    models = Models(fp32=args.fp32)
    embeddings = {}
    for path in args.images:
        image = decode(path)
        result = run_pipeline(models, image, args.choice)
        print(f"{path}: {image.shape[1]}x{image.shape[0]}, {len(result['detections'])} face(s)")
        for i, d in enumerate(result["detections"]):
            mark = "*" if i == result["face"] else " "
            box = " ".join(f"{c:7.1f}" for c in d["box"])
            lms = " ".join(f"({x:.1f},{y:.1f})" for x, y in zip(d["landmarks"][0::2], d["landmarks"][1::2]))
            print(f" {mark} score {d['score']:.4f} box [{box}] landmarks {lms}")
        if result["embedding"] is None:
            continue
        embeddings[path] = result["embedding"]
        head = " ".join(f"{v:+.4f}" for v in result["embedding"][:6])
        print(f"   embedding [{head} ...] norm {np.linalg.norm(result['embedding']):.6f}")
        if args.liveness:
            box = result["detections"][result["face"]]["box"]
            print("   liveness " + " ".join(f"{k} {v:.4f}" for k, v in liveness_scores(models, image, box).items()))
    names = list(embeddings)
    for i, p in enumerate(names):
        for q in names[i + 1:]:
            print(f"distance {p.name} {q.name}: {distance(embeddings[p], embeddings[q]):.4f}")


if __name__ == "__main__":
    main()
