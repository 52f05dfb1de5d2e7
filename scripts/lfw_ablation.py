"""What each step of the face pipeline buys on LFW View 1, measured with the onnxruntime reference (reference.py).

Threshold chosen for best accuracy on pairsDevTrain, accuracy reported on pairsDevTest, for each variant:
face choice (largest box / most central box), test-time flip (off / on), descriptor normalisation (raw L2 / unit
vectors), and the embedder (shipped int8 weights / f32 original with --fp32).

    python3 scripts/lfw_ablation.py ../shared/data/lfw-view1 [--fp32]
"""
import argparse
import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402


def read_pairs(path):
    with open(path) as f:
        lines = [line.split() for line in f.read().splitlines()[1:] if line.strip()]
    pairs = []
    for fields in lines:
        if len(fields) == 3:
            pairs.append(((fields[0], int(fields[1])), (fields[0], int(fields[2])), True))
        else:
            pairs.append(((fields[0], int(fields[1])), (fields[2], int(fields[3])), False))
    return pairs


def best_threshold(distances, same):
    order = np.sort(np.unique(distances))
    candidates = np.concatenate([[order[0] - 1], (order[1:] + order[:-1]) / 2, [order[-1] + 1]])
    accuracies = [np.mean((distances < t) == same) for t in candidates]
    return candidates[int(np.argmax(accuracies))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lfw", help="folder with images/, pairsDevTrain.txt, pairsDevTest.txt")
    parser.add_argument("--fp32", action="store_true", help="use the f32 original embedder")
    args = parser.parse_args()
    models = reference.Models(fp32=args.fp32)
    train = read_pairs(os.path.join(args.lfw, "pairsDevTrain.txt"))
    test = read_pairs(os.path.join(args.lfw, "pairsDevTest.txt"))
    keys = sorted({k for a, b, _ in train + test for k in (a, b)})
    # descriptors[(choice, key)] = (raw descriptor, raw descriptor of the mirror), or None without a face.
    descriptors = {}
    for n, (name, number) in enumerate(keys):
        image = reference.decode(os.path.join(args.lfw, "images", name, f"{name}_{number:04d}.jpg"))
        detections = reference.detect(models, image)
        for choice in ("largest", "central"):
            face = reference.choose_face(detections, choice, image.shape[1], image.shape[0])
            if face is None:
                descriptors[(choice, (name, number))] = None
                continue
            crop = reference.align(image, detections[face]["landmarks"])
            descriptors[(choice, (name, number))] = tuple(
                models.run("embedder", reference.to_nchw(view, bgr=False))[0][0].astype(np.float64)
                for view in (crop, crop[:, ::-1]))
        if (n + 1) % 200 == 0:
            print(f"{n + 1}/{len(keys)} images", file=sys.stderr)

    def embedding(choice, key, flip, unit):
        d = descriptors[(choice, key)]
        if d is None:
            return None
        v = d[0] + d[1] if flip else d[0]
        return v / np.linalg.norm(v) if unit else v

    print("| face choice | flip | unit vectors | View 1 accuracy |")
    print("|---|---|---|---|")
    for choice, flip, unit in itertools.product(("largest", "central"), (False, True), (False, True)):
        def distances(pairs):
            out = []
            for a, b, _ in pairs:
                ea, eb = embedding(choice, a, flip, unit), embedding(choice, b, flip, unit)
                out.append(np.inf if ea is None or eb is None else np.linalg.norm(ea - eb))
            return np.array(out)
        threshold = best_threshold(distances(train), np.array([s for _, _, s in train]))
        accuracy = np.mean((distances(test) < threshold) == np.array([s for _, _, s in test]))
        print(f"| {choice} | {'yes' if flip else 'no'} | {'yes' if unit else 'no'} | {100 * accuracy:.1f} % |")


if __name__ == "__main__":
    main()
