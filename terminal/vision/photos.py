"""Faces in still photos (enrolment photos, evaluation folders): detect, align, describe.

Photos come from any camera at any size. mediapipe's full-range detector runs first,
then the short-range one, then dlib's HOG with one upsampling as the last resort
(tight crops such as passport photos sometimes defeat mediapipe). Not thread-safe
(mediapipe graphs): one per thread.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from terminal.vision.descriptor import AlignedFace, Backend, FaceEncoder
from terminal.vision.detection import FaceBox, FaceDetector
from terminal.vision.images import fit_within
from terminal.vision.models import SharedModels, shared_models

log = logging.getLogger(__name__)

DETECT_MAX_SIDE = 1280  # detection runs on a copy at most this large; alignment uses full resolution


@dataclass(frozen=True)
class PhotoFace:
    box: FaceBox  # in the photo's own pixels
    descriptor: np.ndarray
    aligned: AlignedFace


class PhotoAnalyzer:
    def __init__(self, models: SharedModels | None = None, backend: Backend = "opencv", flip_average: bool = True):
        self.models = models or shared_models()
        self.detector = FaceDetector("full")
        self.encoder = FaceEncoder(self.models, backend, flip_average)

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in the photo (its own pixels), largest first."""
        work, scale = fit_within(image, DETECT_MAX_SIDE)
        rgb = cv2.cvtColor(work, cv2.COLOR_BGR2RGB)
        boxes = self.detector.detect(work, rgb)
        if not boxes:
            rects = self.models.hog(rgb, 1)
            boxes = [FaceBox(r.left(), r.top(), r.width(), r.height(), 1.0, "hog") for r in rects]
            boxes.sort(key=lambda b: -b.area)
        return [b.scaled(1 / scale) for b in boxes]

    def describe(self, image: np.ndarray, box: FaceBox) -> PhotoFace:
        descriptor, aligned = self.encoder.describe(image, box)
        return PhotoFace(box, descriptor, aligned)

    def largest_face(self, image: np.ndarray) -> PhotoFace | None:
        """The biggest face's descriptor, or None when the photo shows no face."""
        boxes = self.detect(image)
        if not boxes:
            return None
        return self.describe(image, boxes[0])

    def close(self) -> None:
        self.detector.close()

    def __enter__(self) -> PhotoAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
