"""Counting the people in front of the terminal, for anti-tailgating.

Counting must not miss a second, smaller, turned or partly visible face, so it uses two
detectors whose strengths differ: mediapipe's full-range detector (turned faces, any
light) and dlib's HOG detector on an enlarged copy (small frontal faces: its 80 px window
finds 36 px faces in an image doubled in size). Their boxes are merged into one per face.

The edge pass (``FaceCounter(edges=True)``, the default): a face the frame's edge cuts is
often missed, because both detectors need most of a face. Both therefore look at the
image inside a mirrored border (``EDGE_PAD`` of its longer side, reflected): the visible
part of a cut face and its mirror image form a whole face again. A box found there counts
when at least ``EDGE_MIN_INSIDE`` of it lies in the image (the mirrored copy of a face
near the edge lies in the border and is dropped), and its size is its larger side (the
frame cut its width or height). On the shared group photos cropped through a face, this
finds 2/3 of the cut faces instead of 1/3 (``benchmarks/face_counting.py``); at the door
it costs one more mediapipe run and HOG on a 12 % wider and taller image, only in the
counts that run HOG (once per approach, on the frame that would decide; by default the
edge pass runs with HOG). While the
full-range model found nothing in the frame, the door's detector falls back to the
short-range model, whose rare false faces in textured backgrounds are dropped when HOG or
the edge pass found a face it does not confirm. A face cut so far that its eyes are
outside the frame (half of it cut at the top) is still missed; so is a face seen
from the side (dlib's and OpenCV's profile detectors were weighed: OpenCV's Haar profile
cascade on the image and its mirror found 1 more of 167 cut faces for +170 ms per photo).

A face on a poster behind the employee is found like any face; :class:`StillFaceFilter`,
fed with every count of a stream, leaves out faces whose pixels never change.

A candidate then counts only when its eyes can be seen: the eye regions (from dlib's
5-point landmarks) must be neither much darker than the face nor flat. A head bowed so
far that hair or shadow hides the eyes is not counted (see docs/face-recognition.md:
this is also what someone hiding their eyes behind dark sunglasses looks like, a known
limit).

Measured on the shared group photos (PASCAL VOC faces with ground-truth boxes, 37-109
px): see ``benchmarks/face_counting.py`` and the tests, which assert >= 95 % of the boxes
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
# The edge pass: mediapipe and HOG on the image inside a mirrored border of this fraction of its
# longer side (0.06 found more cut faces than 0.03, 0.045 or 0.1: a wider border shrinks the image
# mediapipe sees). A face cut by the frame's edge is completed by its mirror image and found; a face
# found there counts when at least EDGE_MIN_INSIDE of its box is in the image (a mirrored copy of a
# face near the edge lies in the border and is dropped).
EDGE_PAD = 0.06
EDGE_MIN_INSIDE = 0.35


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


def edge_pad(shape: Sequence[int]) -> int:
    """Width of the mirrored border added around an image for the edge pass."""
    return int(round(EDGE_PAD * max(shape[:2])))


def at_edge(box: FaceBox, shape: Sequence[int]) -> bool:
    """Whether the box reaches the image's edge (within a tenth of its size): a face the frame may cut."""
    height, width = shape[:2]
    margin = 0.1 * box.w
    return box.x < margin or box.y < margin or box.x + box.w > width - margin or box.y + box.h > height - margin


def face_size(box: FaceBox, shape: Sequence[int]) -> float:
    """The face's size to compare with a minimum: its width, or for a face the frame's edge cuts (whose
    box is cut or only partly completed by the mirrored border) the larger of width and height."""
    return max(box.w, box.h) if at_edge(box, shape) else box.w


def inside_fraction(box: FaceBox, shape: Sequence[int]) -> float:
    """How much of the box lies inside the image."""
    height, width = shape[:2]
    inside = box.clipped(0.0, 0.0, width, height)
    return inside.area / box.area if inside is not None and box.area > 0 else 0.0


class FaceCounter:
    """Counts faces with eyes visible, from mediapipe full range + dlib HOG. One per thread.

    ``max_side``: images larger than this are scaled down first (counting photos from
    any camera in bounded time); box sizes are reported in the original pixels.
    """

    def __init__(self, models: SharedModels | None = None, detector: FaceDetector | None = None, max_side: int = 1280,
                 edges: bool = True):
        self.models = models or shared_models()
        self.edges = edges
        self._own_detector = detector is None
        self.detector = detector or FaceDetector("full_only")
        self.max_side = max_side

    def hog_boxes(self, rgb: np.ndarray, scale: float) -> list[FaceBox]:
        """dlib HOG detections on the image resized by ``scale``, in the image's own pixels.

        On the grey image: dlib takes each pixel's strongest gradient over the colour channels, which costs
        a quarter more than one channel's."""
        if rgb.ndim == 3:
            rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if abs(scale - 1.0) > 0.02:
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            resized = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=interpolation)
        else:
            resized, scale = rgb, 1.0
        rects, scores, _ = self.models.hog.run(resized, 0, 0.0)
        return [FaceBox(r.left() / scale, r.top() / scale, r.width() / scale, r.height() / scale, float(s), "hog")
                for r, s in zip(rects, scores, strict=True)]

    @staticmethod
    def _edge_boxes(boxes: Sequence[FaceBox], pad: int, shape: Sequence[int], source: str | None = None) -> list[FaceBox]:
        """Boxes found in the image with its mirrored border, moved back into the image's pixels: a face
        wholly in the image is kept, one reaching the edge when at least EDGE_MIN_INSIDE of it is inside
        (not a mirrored copy in the border)."""
        kept = []
        for box in boxes:
            moved = box.shifted(-pad, -pad)
            if not at_edge(moved, shape):
                kept.append(moved)
            elif inside_fraction(moved, shape) >= EDGE_MIN_INSIDE:
                kept.append(moved if source is None else moved.shifted(0, 0, source))
        return kept

    def candidates(self, image: np.ndarray, min_face_px: float = 32, mediapipe_boxes: Sequence[FaceBox] | None = None,
                   use_hog: bool = True, max_hog_scale: float = 2.5,
                   edges: bool | None = None) -> tuple[list[FaceBox], np.ndarray, float, int]:
        """Merged detections in the working-scale image: (boxes, working RGB image with its mirrored
        border of ``pad`` pixels, scale, pad). Boxes are in working-scale pixels of the image itself."""
        work, scale = fit_within(image, self.max_side)
        rgb = cv2.cvtColor(work, cv2.COLOR_BGR2RGB)
        if mediapipe_boxes is None:
            mp_boxes = self.detector.detect(work, rgb)
        else:
            mp_boxes = [b.scaled(scale) for b in mediapipe_boxes]
        # the edge pass rides with HOG (once per approach at the door) unless asked for: the cheap
        # per-frame count, run when mediapipe already sees two faces, stays cheap
        pad = edge_pad(rgb.shape) if (self.edges and use_hog if edges is None else edges) else 0
        edge: list[FaceBox] = []
        if pad:
            rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
            edge = [b for b in self._edge_boxes(self.detector.detect(rgb, rgb), pad, work.shape, "mediapipe-edge")
                    if at_edge(b, work.shape)]
        hog: list[FaceBox] = []
        if use_hog:
            hog_scale_used = min(max_hog_scale, hog_scale(min_face_px * scale))
            hog = self.hog_boxes(rgb, hog_scale_used)
            if pad:
                hog = self._edge_boxes(hog, pad, work.shape)
        found = [*hog, *edge]
        # the short-range model only answers when the full-range one found nothing in the frame; when
        # HOG or the edge pass find a face after all, a short-range box they do not confirm is dropped
        # (its false faces in textured backgrounds would otherwise count as a second person)
        if found:
            mp_boxes = [b for b in mp_boxes if b.source != "mediapipe-short" or any(b.same_face(f) for f in found)]
        # HOG boxes first: the 5-point predictor was trained on boxes drawn like them
        return merge_boxes([hog, mp_boxes, edge]), rgb, scale, pad

    def faces(self, image: np.ndarray, min_face_px: float = 32, zone: Sequence[float] = FULL_FRAME,
              mediapipe_boxes: Sequence[FaceBox] | None = None, use_hog: bool = True,
              max_hog_scale: float = 2.5, edges: bool | None = None) -> list[CountedFace]:
        """Every candidate face at least ``min_face_px`` wide in the zone, with its eye check.

        ``max_hog_scale`` caps how much HOG may enlarge the image (the door passes 1.0:
        mediapipe's full-range model already finds 40 px faces in a 640x480 frame).
        ``edges``: look for faces the frame's edge cuts (see the module doc); by default
        when the counter was made with ``edges=True`` and HOG runs.
        """
        boxes, rgb, scale, pad = self.candidates(image, min_face_px, mediapipe_boxes, use_hog, max_hog_scale, edges)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        result = []
        for box in boxes:
            original = box.scaled(1 / scale)
            if face_size(original, image.shape) < min_face_px or not in_zone(original, zone, image.shape):
                continue
            # landmarks and the eye check on the mirrored border: a face cut by the frame's edge is
            # completed by its own mirror image there, eyes included
            _, points = self.models.five_points(rgb, box.shifted(pad, pad))
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


# A still face (a poster, a photo on the wall, a paused screen) does not change: the pixels where it
# was first seen stay the same (normalised, mean |difference| in standard deviations, up to this)
STILL_MAX_CHANGE = 0.25
STILL_FORGET_S = 2.0  # a face not seen this long is forgotten


def face_patch(gray: np.ndarray, box: FaceBox, size: int = 24) -> np.ndarray | None:
    """The pixels in the box, resized to ``size``², zero mean and unit spread (robust to exposure changes)."""
    height, width = gray.shape[:2]
    x0, y0 = int(max(0, box.x)), int(max(0, box.y))
    x1, y1 = int(min(width, box.x + box.w)), int(min(height, box.y + box.h))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    patch = cv2.resize(gray[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    return (patch - patch.mean()) / (patch.std() + 1.0)


@dataclass
class _Track:
    first: FaceBox  # where the face was first seen ...
    patch: np.ndarray | None  # ... and what was there
    box: FaceBox  # where it was last seen (to follow it)
    last_seen: float
    changed: int = 0  # observations where the first place looked different ...
    same: int = 0  # ... and where it looked the same


class StillFaceFilter:
    """Leaves out faces that do not change: a face on a poster behind the employee.

    Stateful: call :meth:`update` with every count of one camera stream, in time order, and
    :meth:`reset` when the scene starts over. A face is followed from count to count (same
    place, ``FaceBox.same_face``); each later observation compares the pixels where it was
    first seen with what was there then. A face counts once most of these comparisons show a
    change (``STILL_MAX_CHANGE``): a person sways, breathes, talks and blinks, a poster does
    none of this, and when the employee's hand or head passes in front of it for a moment
    it looks the same again afterwards. The largest face always counts: it is the person
    being recognised. So a poster never counts, and a second person counts from their
    second count on. Someone standing perfectly still behind the employee would not count
    either, a known limit. An observation while another face overlaps it is skipped.
    """

    def __init__(self) -> None:
        self._tracks: list[_Track] = []

    def reset(self) -> None:
        self._tracks = []

    def update(self, t: float, frame: np.ndarray, faces: Sequence[CountedFace]) -> list[CountedFace]:
        """The faces of this count that are not still (see the class doc); ``t`` in seconds."""
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        self._tracks = [tr for tr in self._tracks if t - tr.last_seen <= STILL_FORGET_S]
        largest = max(faces, key=lambda f: f.box.area, default=None)
        kept: list[CountedFace] = []
        used: set[int] = set()
        for face in faces:
            box = face.box
            match = next((i for i, tr in enumerate(self._tracks) if i not in used and tr.box.same_face(box)), None)
            if match is None:
                self._tracks.append(_Track(box, face_patch(gray, box), box, t))
                used.add(len(self._tracks) - 1)
                track = self._tracks[-1]
            else:
                used.add(match)
                track = self._tracks[match]
                occluded = any(other is not face and other.box.iou(track.first) > 0.0 for other in faces)
                now = face_patch(gray, track.first)
                if not occluded and track.patch is not None and now is not None:
                    if float(np.abs(now - track.patch).mean()) > STILL_MAX_CHANGE:
                        track.changed += 1
                    else:
                        track.same += 1
                track.box, track.last_seen = box, t
            if track.changed > track.same or face is largest:
                kept.append(face)
        return kept
