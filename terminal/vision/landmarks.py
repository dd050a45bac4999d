"""Face mesh landmarks of one face, and what liveness reads from them.

mediapipe's face mesh (468 points + 10 iris points with ``refine_landmarks``) runs on a
square crop around the detected face, so a small face in a wide frame still fills the
model's input; points are mapped back to frame pixels. From them:

* eye aspect ratio (EAR) per eye, the classic six-point ratio of lid gap to eye width;
* head pose (yaw, pitch, roll in degrees) from the mesh's relative depth;
* a fixed set of rigid points (nose, eye corners, brows, cheeks, chin) whose motion
  between frames liveness compares with the motion of a flat picture.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from terminal.vision.detection import FaceBox
from terminal.vision.models import mediapipe_solutions, quiet_native_logs

log = logging.getLogger(__name__)

# six-point eye contours (outer corner, two upper lid, inner corner, two lower lid)
RIGHT_EYE = (33, 160, 158, 133, 153, 144)
LEFT_EYE = (362, 385, 387, 263, 373, 380)
# points that move with the skull, spread in depth: nose ridge and tip, eye corners, brows,
# cheeks, jaw and chin (not lids, lips or iris, which move on their own)
RIGID_POINTS = (1, 4, 5, 6, 168, 197, 195, 98, 327, 33, 263, 133, 362, 70, 300, 105, 334, 10, 152,
                234, 454, 127, 356, 93, 323, 132, 361, 58, 288, 172, 397, 148, 377)
CROP_SIZE = 256
CROP_CONTEXT = 0.5  # crop side = face size x (1 + 2 x context)


@dataclass(frozen=True)
class MeshLandmarks:
    points: np.ndarray  # (N, 3) in frame pixels (z in the same scale as x, relative depth)

    def _ear(self, idx: tuple[int, ...]) -> float:
        p = self.points[list(idx), :2]
        width = np.linalg.norm(p[0] - p[3])
        if width < 1e-3:
            return 0.0
        return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2.0 * width))

    @property
    def ear_right(self) -> float:
        return self._ear(RIGHT_EYE)

    @property
    def ear_left(self) -> float:
        return self._ear(LEFT_EYE)

    @property
    def ear(self) -> float:
        return (self.ear_left + self.ear_right) / 2.0

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.points[33, :2] - self.points[263, :2]))

    @property
    def rigid(self) -> np.ndarray:
        return self.points[list(RIGID_POINTS), :2]

    @property
    def yaw(self) -> float:
        """Degrees, positive when the face turns towards the image's right (the person's own left)."""
        right, left = self.points[234], self.points[454]
        return float(math.degrees(math.atan2(left[2] - right[2], left[0] - right[0])))

    @property
    def pitch(self) -> float:
        """Degrees, positive when the chin comes towards the camera (looking up)."""
        top, chin = self.points[10], self.points[152]
        return float(math.degrees(math.atan2(top[2] - chin[2], chin[1] - top[1])))

    @property
    def roll(self) -> float:
        a, b = self.points[33], self.points[263]
        return float(math.degrees(math.atan2(b[1] - a[1], b[0] - a[0])))


def face_crop(image: np.ndarray, box: FaceBox, size: int = CROP_SIZE, context: float = CROP_CONTEXT) -> tuple[np.ndarray, np.ndarray]:
    """A square crop around the face, scaled to ``size``, and the 2x3 transform frame -> crop."""
    cx, cy = box.center
    side = max(box.w, box.h) * (1 + 2 * context)
    scale = size / side
    matrix = np.array([[scale, 0, size / 2 - cx * scale], [0, scale, size / 2 - cy * scale]], np.float32)
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop, matrix


class FaceMesh:
    """Landmarks of the face in a given box. Not thread-safe: one per stream."""

    def __init__(self, refine: bool = True):
        with quiet_native_logs():
            self._graph = mediapipe_solutions().face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=refine, min_detection_confidence=0.5)
            self._graph.process(np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8))

    def landmarks(self, image: np.ndarray, box: FaceBox) -> MeshLandmarks | None:
        crop, matrix = face_crop(image, box)
        result = self._graph.process(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        if not result.multi_face_landmarks:
            return None
        raw = np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], np.float32) * CROP_SIZE
        scale = float(matrix[0, 0])
        points = np.empty_like(raw)
        points[:, 0] = (raw[:, 0] - matrix[0, 2]) / scale
        points[:, 1] = (raw[:, 1] - matrix[1, 2]) / scale
        points[:, 2] = raw[:, 2] / scale
        return MeshLandmarks(points)

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
            self._graph = None

    def __enter__(self) -> FaceMesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
