"""BlazeFace (mediapipe <= 0.10.21, short-range model in its wheel) on the
frames that bench_face_detector.py saved: writes boxes and times as JSON.
Runs in whatever python has mediapipe (it pins numpy < 2).

Usage: python blazeface_measure.py FRAMES.npz OUT.json
"""

import json
import sys
import time

import numpy as np


def main() -> int:
    import cv2
    import mediapipe as mp

    data = np.load(sys.argv[1])
    detector = mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5)

    def detect(grey):
        rgb = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
        h, w = grey.shape
        found = detector.process(rgb).detections or []
        boxes = []
        for d in found:
            r = d.location_data.relative_bounding_box
            boxes.append([r.xmin * w, r.ymin * h, r.width * w, r.height * h, float(d.score[0])])
        return boxes

    frames, times = [], []
    for frame in data["frames"]:
        start = time.perf_counter()
        frames.append(detect(frame))
        times.append(time.perf_counter() - start)
    photos = [detect(data[k]) for k in sorted(data.files) if k.startswith("photo")]
    with open(sys.argv[2], "w") as f:
        json.dump({"frames": frames, "times": times, "photos": photos}, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
