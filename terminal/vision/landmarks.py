"""Face mesh landmarks of one face, and what liveness reads from them.

mediapipe's face mesh model (468 points) runs on a square region around the face, turned so
the eyes are level, so a small face in a wide frame still fills the model's input; points are
mapped back to frame pixels. Two ways to run it:

* ``litert`` (the default without iris refinement): what mediapipe's static-image graph does,
  step by step, with the model files alone: the short-range face detector on the crop, the
  mesh model on that detection's box enlarged 1.5 times and turned so the eyes are level, a
  face presence of 0.5 at least. The points equal the graph's to under half a pixel (the
  tests compare them) in ~5 ms instead of ~9 ms on x86: the graph's calculators and the
  protobuf conversion of every point cost more than the two models;
* ``mediapipe``: the solution graph itself (with ``refine_landmarks``, 10 iris points more:
  the iris model needs a custom operator only mediapipe has).

From the points:

* eye aspect ratio (EAR) per eye, the classic six-point ratio of lid gap to eye width;
* head pose (yaw, pitch, roll in degrees) from the mesh's relative depth;
* a fixed set of rigid points (nose, eye corners, brows, cheeks, chin) whose motion
  between frames liveness compares with the motion of a flat picture.
"""
from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from terminal.vision.detection import FaceBox, FaceDetector
from terminal.vision.models import mediapipe_solutions, quiet_native_logs
from terminal.vision.tflite import FACE_LANDMARK, LiteModel

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
# mediapipe's face mesh graph: the mesh model's region is the detection's box, its longer side times this
ROI_SCALE = 1.5
PRESENCE_MIN = 0.5  # and the model's face presence (after the sigmoid) below which it saw no face
MeshBackend = Literal["litert", "mediapipe"]


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


Region = tuple[float, float, float, float]  # centre x, centre y, side, angle of the eye line (radians), in pixels


def _eye_angle(right: tuple[float, float], left: tuple[float, float]) -> float:
    return math.atan2(left[1] - right[1], left[0] - right[0])


def region_of(box: FaceBox) -> Region:
    """The face mesh model's region for a detected face, as mediapipe's graph draws it: the box's longer side
    times ROI_SCALE, turned by the line through the detector's eye keypoints (right eye, left eye: the person's)."""
    cx, cy = box.center
    angle = _eye_angle(box.keypoints[0], box.keypoints[1]) if len(box.keypoints) >= 2 else 0.0
    return cx, cy, ROI_SCALE * max(box.w, box.h), angle


class FaceMesh:
    """Landmarks of the face in a given box. Not thread-safe: one per stream.

    ``refine``: 10 iris points more (mediapipe's graph only); ``backend`` defaults to LiteRT without
    refinement and to mediapipe's graph with it.
    """

    def __init__(self, refine: bool = True, backend: MeshBackend | None = None):
        self.backend: MeshBackend = backend or ("mediapipe" if refine else "litert")
        if refine and self.backend == "litert":
            raise ValueError("iris refinement needs the mediapipe backend")
        self._graph = None
        self._first_face = True
        self._model: LiteModel | None = None
        self._finder: FaceDetector | None = None
        if self.backend == "litert":
            self._model = LiteModel(FACE_LANDMARK)
            self._finder = FaceDetector("short")  # the graph's own detector, on the crop
            return
        with quiet_native_logs():
            self._graph = mediapipe_solutions().face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=refine, min_detection_confidence=0.5)
            self._graph.process(np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8))

    def landmarks(self, image: np.ndarray, box: FaceBox) -> MeshLandmarks | None:
        """The face's points in ``image`` (BGR), or None when no face is seen in the crop around ``box``."""
        if self._model is not None and self._finder is not None:
            return self._litert_landmarks(self._model, self._finder, image, box)
        if self._graph is None:
            raise RuntimeError("face mesh is closed")
        crop, matrix = face_crop(image, box)
        # the graph's first face prints a warning of mediapipe's own on stderr (a NORM_RECT projection without image
        # dimensions: the crop is square, so it does not apply); the warm-up above saw no face
        with quiet_native_logs() if self._first_face else contextlib.nullcontext():
            result = self._graph.process(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        self._first_face = self._first_face and not result.multi_face_landmarks
        if not result.multi_face_landmarks:
            return None
        raw = np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], np.float32) * CROP_SIZE
        scale = float(matrix[0, 0])
        points = np.empty_like(raw)
        points[:, 0] = (raw[:, 0] - matrix[0, 2]) / scale
        points[:, 1] = (raw[:, 1] - matrix[1, 2]) / scale
        points[:, 2] = raw[:, 2] / scale
        return MeshLandmarks(points)

    @classmethod
    def _litert_landmarks(cls, model: LiteModel, finder: FaceDetector, image: np.ndarray,
                          box: FaceBox) -> MeshLandmarks | None:
        crop, matrix = face_crop(image, box)
        found = finder.detect(crop)
        if not found:
            return None
        face = max(found, key=lambda b: b.score)  # the graph keeps its best detection (max_num_faces=1)
        # the crop is the frame scaled and shifted: the region in frame pixels, the model run on the frame itself
        scale, dx, dy = float(matrix[0, 0]), float(matrix[0, 2]), float(matrix[1, 2])
        return cls._litert(model, image, region_of(face.shifted(-dx, -dy).scaled(1 / scale)))

    @staticmethod
    def _litert(model: LiteModel, image: np.ndarray, region: Region) -> MeshLandmarks | None:
        size = model.size[0]
        cx, cy, side, angle = region
        if not side > 1.0 or not all(math.isfinite(v) for v in region):
            return None
        # region -> model input: turn the eye line level, scale the region's side to the input's
        cos, sin = math.cos(angle), math.sin(angle)
        k = size / side
        matrix = np.array([[k * cos, k * sin, size / 2 - k * (cos * cx + sin * cy)],
                           [-k * sin, k * cos, size / 2 - k * (-sin * cx + cos * cy)]], np.float32)
        crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
        tensor = crop.astype(np.float32)[None] * np.float32(1 / 255)
        outputs = model.run(tensor)
        raw = next(o for o in outputs if o.size > 1).reshape(-1, 3)
        presence_logit = float(next(o for o in outputs if o.size == 1).reshape(()))
        if 1.0 / (1.0 + math.exp(-max(min(presence_logit, 50.0), -50.0))) < PRESENCE_MIN:
            return None
        # model input -> frame: the inverse of the matrix above; depth in the same scale as x
        u = raw[:, 0] - size / 2
        v = raw[:, 1] - size / 2
        points = np.empty_like(raw)
        points[:, 0] = cx + (cos * u - sin * v) / k
        points[:, 1] = cy + (sin * u + cos * v) / k
        points[:, 2] = raw[:, 2] / k
        return MeshLandmarks(points)

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()
            self._graph = None
        if self._finder is not None:
            self._finder.close()
            self._finder = None
        self._model = None

    def __enter__(self) -> FaceMesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
