"""The face pipeline: tracker, cropper, detector on real faces, FacePipeline
and `edgeaffect run` on images and video."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2", reason="the face pipeline needs OpenCV (pip install '.[vision]')")

from conftest import OUTSIDE_SOURCE, data_path  # noqa: E402
from edgeaffect.faces.crop import crop_face  # noqa: E402
from edgeaffect.faces.detector import FaceBox  # noqa: E402
from edgeaffect.faces.tracker import FaceTracker, iou  # noqa: E402

needs_haar = pytest.mark.skipif(not hasattr(cv2, "CascadeClassifier"),
                                reason="OpenCV 5 has no Haar cascades: pip install 'opencv-python-headless<5'")


def test_iou():
    assert iou(FaceBox(0, 0, 10, 10), FaceBox(0, 0, 10, 10)) == 1.0
    assert iou(FaceBox(0, 0, 10, 10), FaceBox(5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou(FaceBox(0, 0, 10, 10), FaceBox(20, 20, 5, 5)) == 0.0


def test_tracker_keeps_ids_smooths_and_expires():
    tracker = FaceTracker(alpha=0.5, max_missed=1)
    a, b = FaceBox(0, 0, 50, 50), FaceBox(200, 0, 50, 50)
    first = tracker.update([a, b], np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert [t.track_id for t in first] == [1, 2]
    # both faces moved a little and were listed in the other order
    moved = tracker.update([FaceBox(205, 2, 50, 50), FaceBox(4, 3, 50, 50)], np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert [t.track_id for t in moved] == [2, 1]
    np.testing.assert_allclose(moved[1].probabilities, [0.5, 0.5])  # 0.5 * [1, 0] + 0.5 * [0, 1]
    tracker.update([], np.zeros((0, 2)))
    tracker.update([], np.zeros((0, 2)))  # missed twice > max_missed: both tracks end
    again = tracker.update([a], np.array([[1.0, 0.0]]))
    assert again[0].track_id == 3


def test_crop_levels_the_eyes():
    image = np.zeros((200, 200), np.uint8)
    right_eye, left_eye = (80.0, 90.0), (120.0, 110.0)  # tilted by atan(20 / 40)
    for x, y in (right_eye, left_eye):
        cv2.circle(image, (int(x), int(y)), 4, 255, -1)
    crop = crop_face(image, FaceBox(50, 50, 100, 100, eyes=(right_eye, left_eye)), size=96, margin=0.0)
    ys, xs = np.nonzero(crop > 128)
    left_half, right_half = ys[xs < 48], ys[xs >= 48]
    assert abs(left_half.mean() - right_half.mean()) < 1.5  # the eyes now share a row
    plain = crop_face(image, FaceBox(50, 50, 100, 100), size=48)
    assert plain.shape == (48, 48) and plain.dtype == np.uint8


def test_crop_shrinks_by_area_like_the_training_images(rng):
    image = rng.integers(0, 256, (300, 300), dtype=np.uint8)  # worst case for aliasing: pixel noise
    crop = crop_face(image, FaceBox(50, 50, 200, 200), size=48, margin=0.0)
    expected = cv2.resize(image[50:250, 50:250], (48, 48), interpolation=cv2.INTER_AREA)
    assert np.abs(crop.astype(int) - expected).max() <= 1
    assert crop.std() < 25  # bilinear point sampling would keep most of the noise (std ~74)


def test_detector_rejects_bad_frames():
    from edgeaffect.faces.detector import _grey

    with pytest.raises(ValueError, match="uint8"):
        _grey(cv2, np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match="shape"):
        _grey(cv2, np.zeros((10, 10, 2), np.uint8))


def face_frames(n: int):
    """Frames of 320x240 with one real FER2013 validation face at 120 px."""
    from edgeaffect.fer.data import load_fer_folder

    x, y = load_fer_folder(data_path("fer2013", "val", "happy").parent, limit=3)
    frames = []
    for i in range(n):
        frame = np.full((240, 320, 3), 90, np.uint8)
        face = cv2.resize(x[i % len(x)], (120, 120), interpolation=cv2.INTER_LINEAR)
        frame[60:180, 100 + 2 * i:220 + 2 * i] = face[..., None]
        frames.append(frame)
    return frames


def find_detectable_frames(n: int = 12):
    from edgeaffect.faces import HaarFaceDetector

    detector = HaarFaceDetector()
    frames = [f for f in face_frames(n) if detector.detect(f)]
    if not frames:
        pytest.fail("the Haar detector found none of the real faces")
    return frames


def registered_fer():
    import edgeaffect

    if "fer" not in edgeaffect.list_models():
        pytest.skip("the fer model is not shipped in this build")


@needs_haar
@pytest.mark.data
def test_pipeline_image_and_video_modes():
    from edgeaffect.faces import FacePipeline

    registered_fer()
    frames = find_detectable_frames()
    with FacePipeline("fer", detector="haar", mode="image") as pipeline:
        result = pipeline.process(frames[0])
        assert len(result.faces) >= 1
        face = result.faces[0]
        assert face.track_id is None and face.label in face.probabilities
        assert abs(sum(face.probabilities.values()) - 1) < 1e-3
        decoded = json.loads(result.to_json())
        assert decoded["faces"][0]["box"] == face.box and set(decoded["latency_ms"]) == {"detect", "classify", "total"}
        empty = pipeline.process(np.full((240, 320, 3), 90, np.uint8))
        assert empty.faces == []
    with FacePipeline("fer", detector="haar", mode="video") as pipeline:
        ids = [pipeline.process(f, timestamp=i / 30).faces[0].track_id for i, f in enumerate(frames[:4])]
        assert ids == [ids[0]] * len(ids)  # one face moving slowly keeps its track


@needs_haar
@pytest.mark.data
@pytest.mark.slow
def test_run_cli_on_image_and_video(tmp_path):
    registered_fer()
    frames = find_detectable_frames()
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), frames[0])
    out = subprocess.run([sys.executable, "-m", "edgeaffect", "run", str(image), "--detector", "haar", "--out", str(tmp_path / "a.png")],
                         capture_output=True, text=True, cwd=OUTSIDE_SOURCE, timeout=300)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout.strip().splitlines()[0])
    assert record["faces"] and cv2.imread(str(tmp_path / "a.png")).shape == frames[0].shape
    mirrored = subprocess.run([sys.executable, "-m", "edgeaffect", "run", str(image), "--detector", "haar", "--mirror"],
                              capture_output=True, text=True, cwd=OUTSIDE_SOURCE, timeout=300)
    assert mirrored.returncode == 0, mirrored.stderr
    mirrored = json.loads(mirrored.stdout.strip().splitlines()[0])
    # the same faces, classified with their mirror images too: other probabilities
    assert [f["box"] for f in mirrored["faces"]] == [f["box"] for f in record["faces"]]
    assert [f["probabilities"] for f in mirrored["faces"]] != [f["probabilities"] for f in record["faces"]]
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for f in frames[:5]:
        writer.write(f)
    writer.release()
    out = subprocess.run([sys.executable, "-m", "edgeaffect", "run", str(video), "--detector", "haar", "--max-frames", "4"],
                         capture_output=True, text=True, cwd=OUTSIDE_SOURCE, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert [r["frame"] for r in lines] == [0, 1, 2, 3]
    missing = subprocess.run([sys.executable, "-m", "edgeaffect", "run", str(tmp_path / "nope.mp4")],
                             capture_output=True, text=True, cwd=OUTSIDE_SOURCE, timeout=120)
    assert missing.returncode != 0 and "does not exist" in missing.stderr
