"""Faces in images, video and camera frames: detection, cropping to the FER
models' input distribution, per-face tracks with smoothed probabilities.

Example:
    >>> from edgeaffect.faces import FacePipeline
    >>> with FacePipeline("fer") as pipeline:                  # doctest: +SKIP
    ...     result = pipeline.process(frame_bgr)
    ...     print(result.to_json())
"""

from .detector import BlazeFaceDetector, FaceBox, HaarFaceDetector, YuNetFaceDetector, make_detector
from .pipeline import FaceResult, FrameResult, FacePipeline
from .tracker import FaceTracker

__all__ = ["BlazeFaceDetector", "FaceBox", "HaarFaceDetector", "YuNetFaceDetector", "make_detector", "FaceResult", "FrameResult",
           "FacePipeline", "FaceTracker"]
