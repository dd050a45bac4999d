"""Counting the people in front of the terminal, for anti-tailgating.

Counting must not miss a second, smaller or turned face, so it uses two detectors
whose strengths differ: mediapipe's full-range detector (turned faces, any light) and
dlib's HOG detector on an enlarged copy (small frontal faces: its 80 px window finds
36 px faces in an image doubled in size). Their boxes are
merged into one per face.

A candidate then counts only when its eyes can be seen: the eye regions (from dlib's
5-point landmarks) must be neither much darker than the face nor flat. A head bowed so
far that hair or shadow hides the eyes is not counted (see docs/face-recognition.md:
this is also what someone hiding their eyes behind dark sunglasses looks like, a known
limit).

Measured on the shared group photos (PASCAL VOC faces with ground-truth boxes, 37-109
px): see ``benchmarks/faces.py`` and the tests, which assert >= 95 % of the boxes
found with at most one false face per image.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from terminal.vision.detection import FULL_FRAME, FaceBox, FaceDetector, in_zone, merge_boxes
from terminal.vision.images import fit_within
from terminal.vision.models import SharedModels, shared_models

log = logging.getLogger(__name__)

HOG_WINDOW_PX = 80  # dlib's frontal HOG detector finds faces from about this size up
# An eye region's visibility is (its mean / the face's mean) x (its spread / the face's spread):
# ~1 for an open or closed eye in any light, near 0 under a hair fringe or deep shadow. On the
# shared group photos every counted face scores >= 0.24 on its better eye; a bowed head with
# the eyes under hair scores 0.085.
EYES_VISIBLE_MIN = 0.14


@dataclass(frozen=True)
class CountedFace:
    box: FaceBox
    eyes_visible: bool
    eye_visibility: float

    def as_dict(self) -> dict:
        return {**self.box.as_dict(), "eyes_visible": self.eyes_visible, "eye_visibility": round(self.eye_visibility, 3)}


def hog_scale(min_face_px: float) -> float:
    """How much to resize an image so HOG's 80 px window reaches faces of ``min_face_px``.

    The detector tolerates faces ~10 % under its window; looking only for bigger faces
    lets the image shrink, which makes counting at the door cheap.
    """
    return float(np.clip(0.9 * HOG_WINDOW_PX / max(min_face_px, 1.0), 0.25, 2.5))


def eye_visibility(gray: np.ndarray, points: np.ndarray) -> float:
    """Visibility of the better-visible eye relative to the face (see EYES_VISIBLE_MIN), from 5 landmarks."""
    eyes = ((points[0] + points[1]) / 2, (points[2] + points[3]) / 2)
    centre = (eyes[0] + eyes[1]) / 2
    iod = float(np.linalg.norm(eyes[0] - eyes[1]))
    if iod < 4:
        return 0.0
    height, width = gray.shape[:2]

    def patch(cx: float, cy: float, half_w: float, half_h: float) -> np.ndarray:
        x0, x1 = int(max(0, cx - half_w)), int(min(width, cx + half_w))
        y0, y1 = int(max(0, cy - half_h)), int(min(height, cy + half_h))
        return gray[y0:y1, x0:x1].astype(np.float32)

    face = patch(centre[0], centre[1] + 0.5 * iod, 1.14 * iod, 1.14 * iod)
    if face.size < 16:
        return 0.0
    face_mean, face_std = float(face.mean()) + 1e-3, float(face.std()) + 1e-3
    best = 0.0
    for i, eye in enumerate(eyes):
        corner_a, corner_b = points[2 * i], points[2 * i + 1]
        eye_w = max(3.0, float(np.linalg.norm(corner_a - corner_b)))
        region = patch(eye[0], eye[1], 0.7 * eye_w, 0.4 * eye_w)
        if region.size < 4:
            continue
        best = max(best, (float(region.mean()) / face_mean) * (float(region.std()) / face_std))
    return best


class FaceCounter:
    """Counts faces with eyes visible, from mediapipe full range + dlib HOG. One per thread.

    ``max_side``: images larger than this are scaled down first (counting photos from
    any camera in bounded time); box sizes are reported in the original pixels.
    """

    def __init__(self, models: SharedModels | None = None, detector: FaceDetector | None = None, max_side: int = 1280):
        self.models = models or shared_models()
        self._own_detector = detector is None
        self.detector = detector or FaceDetector("full_only")
        self.max_side = max_side

    def hog_boxes(self, rgb: np.ndarray, scale: float) -> list[FaceBox]:
        """dlib HOG detections on the image resized by ``scale``, in the image's own pixels."""
        if abs(scale - 1.0) > 0.02:
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            resized = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=interpolation)
        else:
            resized, scale = rgb, 1.0
        rects, scores, _ = self.models.hog.run(resized, 0, 0.0)
        return [FaceBox(r.left() / scale, r.top() / scale, r.width() / scale, r.height() / scale, float(s), "hog")
                for r, s in zip(rects, scores, strict=True)]

    def candidates(self, image: np.ndarray, min_face_px: float = 32, mediapipe_boxes: Sequence[FaceBox] | None = None,
                   use_hog: bool = True, max_hog_scale: float = 2.5) -> tuple[list[FaceBox], np.ndarray, float]:
        """Merged detections in the working-scale image: (boxes, working RGB image, scale)."""
        work, scale = fit_within(image, self.max_side)
        rgb = cv2.cvtColor(work, cv2.COLOR_BGR2RGB)
        if mediapipe_boxes is None:
            mp_boxes = self.detector.detect(work, rgb)
        else:
            mp_boxes = [b.scaled(scale) for b in mediapipe_boxes]
        hog = self.hog_boxes(rgb, min(max_hog_scale, hog_scale(min_face_px * scale))) if use_hog else []
        # HOG boxes first: the 5-point predictor was trained on boxes drawn like them
        return merge_boxes([hog, mp_boxes]), rgb, scale

    def faces(self, image: np.ndarray, min_face_px: float = 32, zone: Sequence[float] = FULL_FRAME,
              mediapipe_boxes: Sequence[FaceBox] | None = None, use_hog: bool = True,
              max_hog_scale: float = 2.5) -> list[CountedFace]:
        """Every candidate face at least ``min_face_px`` wide in the zone, with its eye check.

        ``max_hog_scale`` caps how much HOG may enlarge the image (the door passes 1.0:
        mediapipe's full-range model already finds 40 px faces in a 640x480 frame).
        """
        boxes, rgb, scale = self.candidates(image, min_face_px, mediapipe_boxes, use_hog, max_hog_scale)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        result = []
        for box in boxes:
            original = box.scaled(1 / scale)
            if original.size < min_face_px or not in_zone(original, zone, image.shape):
                continue
            shape = self.models.shape_predictor(rgb, box.to_dlib())
            points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], dtype=np.float32)
            visibility = eye_visibility(gray, points)
            result.append(CountedFace(original, visibility >= EYES_VISIBLE_MIN, visibility))
        return result

    def count(self, image: np.ndarray, min_face_px: float = 32, zone: Sequence[float] = FULL_FRAME, **kwargs) -> int:
        return sum(1 for face in self.faces(image, min_face_px, zone, **kwargs) if face.eyes_visible)

    def close(self) -> None:
        if self._own_detector:
            self.detector.close()

    def __enter__(self) -> FaceCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
