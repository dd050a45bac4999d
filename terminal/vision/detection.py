"""Finding faces in a frame with mediapipe's bundled detectors.

The full-range model (faces up to ~5 m, down to ~20 px in a 640x480 frame) runs on
every frame; the short-range model is the fallback for a face so close that the
full-range model misses it. Boxes are in pixels of the frame given.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from terminal.vision.models import mediapipe_solutions, quiet_native_logs

log = logging.getLogger(__name__)

Zone = tuple[float, float, float, float]
FULL_FRAME: Zone = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class FaceBox:
    """A face found in a frame: box in pixels, detector confidence, and where it came from."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0
    source: str = "mediapipe"
    # mediapipe keypoints in pixels: right eye, left eye, nose tip, mouth, right ear, left ear
    keypoints: tuple[tuple[float, float], ...] = field(default=(), compare=False)

    @property
    def size(self) -> float:
        """Face size in pixels (box width), what ``face.min_face_px`` is compared with."""
        return self.w

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    @property
    def area(self) -> float:
        return max(self.w, 0.0) * max(self.h, 0.0)

    def iou(self, other: FaceBox) -> float:
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def contains_center_of(self, other: FaceBox) -> bool:
        cx, cy = other.center
        return self.x <= cx <= self.x + self.w and self.y <= cy <= self.y + self.h

    def same_face(self, other: FaceBox) -> bool:
        """Two detections of one face (different detectors draw boxes differently)."""
        return self.iou(other) > 0.3 or (self.contains_center_of(other) and other.contains_center_of(self))

    def scaled(self, factor: float) -> FaceBox:
        return FaceBox(self.x * factor, self.y * factor, self.w * factor, self.h * factor, self.score, self.source,
                       tuple((px * factor, py * factor) for px, py in self.keypoints))

    def clipped(self, x0: float, y0: float, x1: float, y1: float) -> FaceBox | None:
        """The part of the box inside the rectangle (x0, y0)-(x1, y1), in the same pixels; None when none is."""
        left, top = max(self.x, x0), max(self.y, y0)
        right, bottom = min(self.x + self.w, x1), min(self.y + self.h, y1)
        if right <= left or bottom <= top:
            return None
        return FaceBox(left, top, right - left, bottom - top, self.score, self.source)

    def shifted(self, dx: float, dy: float, source: str | None = None) -> FaceBox:
        """The box moved by (dx, dy) pixels (e.g. out of a padded copy of the frame)."""
        return FaceBox(self.x + dx, self.y + dy, self.w, self.h, self.score, source or self.source,
                       tuple((px + dx, py + dy) for px, py in self.keypoints))

    def to_dlib(self):
        import dlib

        return dlib.rectangle(int(round(self.x)), int(round(self.y)), int(round(self.x + self.w)), int(round(self.y + self.h)))

    def as_dict(self) -> dict:
        return {"x": round(self.x, 1), "y": round(self.y, 1), "w": round(self.w, 1), "h": round(self.h, 1),
                "score": round(self.score, 3), "source": self.source}


def in_zone(box: FaceBox, zone: Sequence[float], frame_shape: Sequence[int]) -> bool:
    """Whether the box centre lies in the capture zone (fractions left, top, right, bottom)."""
    height, width = frame_shape[:2]
    cx, cy = box.center
    left, top, right, bottom = zone
    return left * width <= cx <= right * width and top * height <= cy <= bottom * height


def merge_boxes(groups: Iterable[Sequence[FaceBox]]) -> list[FaceBox]:
    """Union of detections from several detectors/tiles; one box per face (earlier groups win)."""
    merged: list[FaceBox] = []
    for group in groups:
        for box in sorted(group, key=lambda b: -b.score):
            if not any(box.same_face(kept) for kept in merged):
                merged.append(box)
    return merged


class FaceDetector:
    """mediapipe face detection. Not thread-safe: one per thread/stream.

    ``model``: ``"full"`` (full range, short-range fallback when nothing is found),
    ``"short"`` or ``"full_only"``.
    """

    def __init__(self, model: Literal["full", "short", "full_only"] = "full", min_confidence: float = 0.5):
        solutions = mediapipe_solutions()
        self.model = model
        self.min_confidence = min_confidence
        self._full = None
        self._short = None
        with quiet_native_logs():
            if model in ("full", "full_only"):
                self._full = solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=min_confidence)
            if model in ("full", "short"):
                self._short = solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=min_confidence)
            warm = np.zeros((64, 64, 3), np.uint8)  # the first inference prints more; do it now
            for graph in (self._full, self._short):
                if graph is not None:
                    graph.process(warm)

    @staticmethod
    def _run(graph, rgb: np.ndarray, source: str) -> list[FaceBox]:
        height, width = rgb.shape[:2]
        result = graph.process(rgb)
        boxes = []
        for det in result.detections or ():
            rel = det.location_data.relative_bounding_box
            x, y, w, h = rel.xmin * width, rel.ymin * height, rel.width * width, rel.height * height
            if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 1 or h <= 1:
                continue
            keypoints = tuple((kp.x * width, kp.y * height) for kp in det.location_data.relative_keypoints)
            boxes.append(FaceBox(x, y, w, h, float(det.score[0]), source, keypoints))
        return boxes

    def detect(self, image: np.ndarray, rgb: np.ndarray | None = None) -> list[FaceBox]:
        """Faces in a BGR image, largest first."""
        if rgb is None:
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        boxes: list[FaceBox] = []
        if self._full is not None:
            boxes = self._run(self._full, rgb, "mediapipe-full")
        if not boxes and self._short is not None:
            boxes = self._run(self._short, rgb, "mediapipe-short")
        return sorted(boxes, key=lambda b: -b.area)

    def close(self) -> None:
        for graph in (self._full, self._short):
            if graph is not None:
                graph.close()
        self._full = self._short = None

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

