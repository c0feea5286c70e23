"""Face detector recall, false positives and time on real images.

Positives: FER2013 validation faces (real photographs, 48x48) enlarged to
96x96 and placed at a random position on a 240x180 frame filled with a
blurred other face-free texture (the real photos below), as a camera would
see one person at arm's length. Negatives: the face-free real photographs
that scikit-image ships (coffee, chelsea the cat, rocket, coins, ...) when
scikit-image's data folder is given with --photos.

MediaPipe's BlazeFace (short range, in the mediapipe <= 0.10.21 wheels) is
measured on the same frames when mediapipe is importable (its numpy < 2 pin
may need its own venv: pass --mediapipe-python /path/to/venv/bin/python; the
frames go there through a temporary .npz and benchmarks/blazeface_measure.py).

Usage: python benchmarks/bench_face_detector.py --data ../shared/data/fer2013 [--photos DIR] [--n 400]
       [--mediapipe-python PYTHON]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_facts, machine_slug, markdown_table, write_results  # noqa: E402

NEGATIVE_PHOTOS = ("coffee.png", "chelsea.png", "rocket.jpg", "coins.png", "horse.png", "brick.png", "grass.png",
                   "gravel.png", "motorcycle_left.png", "hubble_deep_field.jpg", "page.png", "moon.png", "retina.jpg")


def blazeface_in(python: str, frames: list, photos: list):
    """Runs benchmarks/blazeface_measure.py under another python; returns (boxes, times, negative boxes)."""
    import subprocess
    import tempfile

    from edgeaffect.faces.detector import FaceBox

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "frames.npz", Path(tmp) / "boxes.json"
        np.savez(src, frames=np.stack(frames), **{f"photo{i}": p for i, p in enumerate(photos)})
        subprocess.run([python, str(Path(__file__).with_name("blazeface_measure.py")), str(src), str(dst)], check=True)
        out = json.loads(dst.read_text())
    as_boxes = lambda lists: [[FaceBox(*b) for b in boxes] for boxes in lists]  # noqa: E731
    return as_boxes(out["frames"]), out["times"], as_boxes(out["photos"])


def main() -> int:
    import cv2

    from edgeaffect.faces import HaarFaceDetector
    from edgeaffect.faces.tracker import iou
    from edgeaffect.faces.detector import FaceBox
    from edgeaffect.fer.data import load_fer_folder

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--photos", type=Path, help="a folder with scikit-image's data photos (negatives, backgrounds)")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--mediapipe-python", help="a python with mediapipe <= 0.10.21 (measures BlazeFace too)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x, _ = load_fer_folder(args.data / "val")
    faces = x[rng.permutation(len(x))[: args.n]]
    photos = []
    for name in NEGATIVE_PHOTOS if args.photos else ():
        img = cv2.imread(str(args.photos / name), cv2.IMREAD_GRAYSCALE)
        if img is not None:
            photos.append(img)
    frames, truths = [], []
    for i, face in enumerate(faces):
        if photos:
            bg = cv2.resize(photos[i % len(photos)], (240, 180), interpolation=cv2.INTER_AREA)
        else:
            bg = rng.integers(60, 200, (180, 240), dtype=np.uint8)
        bg = cv2.GaussianBlur(bg, (9, 9), 0)
        fx, fy = int(rng.integers(0, 240 - 96)), int(rng.integers(0, 180 - 96))
        bg[fy:fy + 96, fx:fx + 96] = cv2.resize(face, (96, 96), interpolation=cv2.INTER_LINEAR)
        frames.append(bg)
        truths.append(FaceBox(fx, fy, 96, 96))
    haar = HaarFaceDetector()

    def timed_boxes(detect):
        boxes, times = [], []
        for frame in frames:
            start = time.perf_counter()
            boxes.append(detect(frame))
            times.append(time.perf_counter() - start)
        return boxes, times, [detect(p) for p in photos]

    results = {"haar (OpenCV frontalface_default)": timed_boxes(haar.detect)}
    if args.mediapipe_python:
        results["blazeface (mediapipe 0.10.21, short range)"] = blazeface_in(args.mediapipe_python, frames, photos)
    records, rows = [], []
    for name, (boxes, times, negatives) in results.items():
        matched = [[b for b in found if iou(b, truth) >= 0.3] for found, truth in zip(boxes, truths)]
        hits = sum(bool(m) for m in matched)
        false_pos = sum(len(found) - len(m[:1]) for found, m in zip(boxes, matched))
        neg_boxes = sum(len(n) for n in negatives)
        record = {"detector": name, "faces": len(frames), "recall": hits / len(frames),
                  "false_boxes_on_face_frames": false_pos, "negative_photos": len(photos),
                  "false_boxes_on_negative_photos": neg_boxes, "median_ms_240x180": float(np.median(times) * 1e3)}
        records.append(record)
        rows.append([name, f"{record['recall']:.3f}", f"{false_pos / len(frames):.3f}", f"{neg_boxes} / {len(photos)}",
                     f"{record['median_ms_240x180']:.2f}"])
    facts = machine_facts()
    slug = machine_slug(facts)
    md = (f"# Face detectors on real faces\n\nMachine: {facts['cpu']} ({slug}). {len(frames)} FER2013 val faces at 96 px "
          f"in 240x180 frames; negatives: {len(photos)} face-free real photos.\n\n" + markdown_table(
              ["detector", "recall (IoU >= 0.3)", "false boxes / face frame", "false boxes on face-free photos",
               "median ms (240x180)"], rows))
    print(md)
    write_results("face-detector", {"benchmark": "face-detector", "machine_slug": slug, "machine": facts,
                                    "results": records}, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
