"""Face crops in the distribution FER2013 was made from.

FER2013's faces are grey 48x48 crops, registered so that the face fills most
of the image (roughly brows to chin; forehead and ears cut). A Haar box is
about that tight already, so we take a square around the box centre of side
(1 + margin) * max(w, h), margin 0.1 by default, convert to grey and resize
with area interpolation (as the training images were). With eye keypoints
(BlazeFace, YuNet), the square is first rotated about the box centre so
that the eyes are level, as in FER2013. Regions outside the frame are
filled by replicating the border.
"""

from __future__ import annotations

import math

import numpy as np

from .detector import FaceBox, _cv2, _grey


def crop_face(image: np.ndarray, box: FaceBox, size: int = 48, margin: float = 0.1) -> np.ndarray:
    """(size, size) uint8 grey crop of one face.

    Example:
        >>> import numpy as np
        >>> from edgeaffect.faces.detector import FaceBox
        >>> crop_face(np.zeros((100, 120), np.uint8), FaceBox(10, 20, 50, 50)).shape
        (48, 48)
    """
    cv2 = _cv2()
    grey = _grey(cv2, image)
    side = (1 + margin) * max(box.w, box.h)
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    angle = 0.0
    if box.eyes is not None:
        (rx, ry), (lx, ly) = box.eyes
        angle = math.degrees(math.atan2(ly - ry, lx - rx))
    # Cut the (rotated) square at the frame's own resolution, then shrink it
    # by area averaging: warpAffine has no area interpolation, and bilinear
    # shrinking of a 100-250 px face to 48 px aliases.
    side_px = max(1, int(round(side)))
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    matrix[0, 2] += side_px / 2 - cx
    matrix[1, 2] += side_px / 2 - cy
    square = cv2.warpAffine(grey, matrix, (side_px, side_px), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    interpolation = cv2.INTER_AREA if side_px > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)
