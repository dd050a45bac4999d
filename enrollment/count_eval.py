"""How well the anti-tailgating counter sees whole faces and faces cut by the frame's edge.

A second person half in view behind the employee is what the door must catch, and in a
camera frame that person is often cut by the frame's edge. Photos with ground-truth face
boxes (dlib/imglab XML, e.g. the shared PASCAL group photos) are counted as they are and
also cropped so that the frame's edge passes through a face: :func:`edge_crops` makes,
for every ground-truth face, one crop per side (left, right, top) whose edge leaves 40,
55 or 70 % of that face's width (height for the top) visible, chosen deterministically.

The truth for a crop is every box that stays at least :data:`MIN_VISIBLE` inside it;
boxes that keep less than :data:`WHOLE_VISIBLE` inside are scored as "cut", the others as
"whole". A counted face that matches neither these boxes nor a box that is only barely
in view (under :data:`MIN_VISIBLE`, where counting it is not wrong) is a false count.

:func:`evaluate_counting` returns a plain dict; :func:`table_rows` turns it into rows for
a printed table (``benchmarks/face_counting.py``).
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from enrollment.face_eval import matched_detections, read_face_boxes
from terminal.vision.images import load_image

if TYPE_CHECKING:
    from terminal.vision.counting import FaceCounter
    from terminal.vision.detection import FaceBox

MIN_VISIBLE = 0.4  # a face at least this much inside a crop must be counted
WHOLE_VISIBLE = 0.95  # ... and at least this much inside is a "whole" face
VISIBLE_FRACTIONS = (0.4, 0.55, 0.7)
SIDES = ("left", "right", "top")

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in the source image
CountFn = Callable[[np.ndarray], "list[FaceBox]"]


@dataclass(frozen=True)
class EdgeCrop:
    """A crop of a photo whose ``side`` edge passes through face ``face`` leaving ``visible`` of it."""

    file: str
    face: int
    side: str
    visible: float
    rect: Rect


@dataclass
class _Score:
    whole: int = 0
    whole_found: int = 0
    cut: int = 0
    cut_found: int = 0
    false: int = 0
    images: int = 0
    images_with_false: int = 0
    ms: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "images": self.images,
            "whole_faces": self.whole, "whole_found": self.whole_found,
            "whole_recall": round(self.whole_found / self.whole, 4) if self.whole else None,
            "cut_faces": self.cut, "cut_found": self.cut_found,
            "cut_recall": round(self.cut_found / self.cut, 4) if self.cut else None,
            "false_counts": self.false,
            "false_per_image": round(self.false / self.images, 4) if self.images else None,
            "images_with_false": self.images_with_false,
            "median_ms": round(statistics.median(self.ms), 2) if self.ms else None,
        }


def clip_box(box: FaceBox, rect: Rect) -> FaceBox | None:
    """The part of ``box`` inside ``rect``, in the rect's own pixels (None when nothing is inside)."""
    inside = box.clipped(*rect)
    return None if inside is None else inside.shifted(-rect[0], -rect[1])


def visible_fraction(box: FaceBox, rect: Rect) -> float:
    inside = box.clipped(*rect)
    return inside.area / box.area if inside is not None and box.area > 0 else 0.0


def edge_crops(file: str, shape: Sequence[int], boxes: Sequence[FaceBox],
               fractions: Sequence[float] = VISIBLE_FRACTIONS, sides: Sequence[str] = SIDES) -> list[EdgeCrop]:
    """For every face, one crop per side whose edge cuts that face (deterministic: no randomness)."""
    height, width = shape[:2]
    crops = []
    for i, box in enumerate(boxes):
        for j, side in enumerate(sides):
            visible = fractions[(i + j) % len(fractions)]
            if side == "left":  # the crop's left edge runs through the face: its right part stays
                rect = (int(round(box.x + (1 - visible) * box.w)), 0, width, height)
            elif side == "right":
                rect = (0, 0, int(round(box.x + visible * box.w)), height)
            elif side == "top":
                rect = (0, int(round(box.y + (1 - visible) * box.h)), width, height)
            else:
                raise ValueError(f"unknown side {side!r}")
            x0, y0, x1, y1 = rect
            rect = (max(0, x0), max(0, y0), min(width, x1), min(height, y1))
            if rect[2] - rect[0] >= 32 and rect[3] - rect[1] >= 32:
                crops.append(EdgeCrop(file, i, side, visible, rect))
    return crops


def _matches(found: Sequence[FaceBox], truth: Sequence[FaceBox]) -> tuple[int, set[int]]:
    """(ground-truth faces covered, indexes of the detections used), each detection used once; a detection covers a
    face when the two are the same face as the counter merges boxes (``FaceBox.same_face``)."""
    used = matched_detections(found, truth, lambda box, gt: box.same_face(gt))
    return len(used), used


def _score(score: _Score, found: Sequence[FaceBox], truth: Sequence[FaceBox], rect: Rect) -> None:
    """Add one image (or crop) to ``score``: ``found`` in the crop's pixels, ``truth`` in the photo's."""
    whole: list[FaceBox] = []
    cut: list[FaceBox] = []
    barely: list[FaceBox] = []
    for gt in truth:
        fraction = visible_fraction(gt, rect)
        clipped = clip_box(gt, rect)
        if clipped is None:
            continue
        (whole if fraction >= WHOLE_VISIBLE else cut if fraction >= MIN_VISIBLE else barely).append(clipped)
    frame = (0, 0, rect[2] - rect[0], rect[3] - rect[1])
    shown = [b for b in (clip_box(f, frame) for f in found) if b is not None]
    n_whole, used_whole = _matches(shown, whole)
    rest = [b for i, b in enumerate(shown) if i not in used_whole]
    n_cut, used_cut = _matches(rest, cut)
    rest = [b for i, b in enumerate(rest) if i not in used_cut]
    _, used_barely = _matches(rest, barely)
    false = len(rest) - len(used_barely)
    score.whole += len(whole)
    score.whole_found += n_whole
    score.cut += len(cut)
    score.cut_found += n_cut
    score.false += false
    score.images += 1
    score.images_with_false += false > 0


def counter_fn(counter: FaceCounter, min_face_px: float = 32, **kwargs) -> CountFn:
    """What the counter counts (faces with eyes visible) in an image, as boxes."""
    def count(image: np.ndarray) -> list[FaceBox]:
        return [f.box for f in counter.faces(image, min_face_px, **kwargs) if f.eyes_visible]
    return count


def evaluate_counting(xml_paths: Iterable[Path | str], count: CountFn, crops: bool = True,
                      sides: Sequence[str] = SIDES) -> dict:
    """Recall on whole and edge-cut faces, false counts and median ms of ``count`` (see module doc).

    ``xml_paths``: imglab XML files; image paths in them are relative to the XML's folder.
    ``sides``: the edges that cut the crops.
    """
    truth: dict[Path, list[FaceBox]] = {}
    for xml in (Path(p) for p in xml_paths):
        for file, boxes in read_face_boxes([xml]).items():
            truth[xml.parent / file] = boxes
    photos, cropped = _Score(), _Score()
    by_side: dict[str, _Score] = {}
    for path, boxes in sorted(truth.items()):
        image = load_image(path)
        height, width = image.shape[:2]
        items: list[tuple[_Score | None, Rect, str]] = [(photos, (0, 0, width, height), "")]
        if crops:
            items += [(cropped, c.rect, c.side) for c in edge_crops(path.name, image.shape, boxes, sides=sides)]
        for score, rect, side in items:
            x0, y0, x1, y1 = rect
            view = np.ascontiguousarray(image[y0:y1, x0:x1])
            start = time.perf_counter()
            found = count(view)
            ms = (time.perf_counter() - start) * 1000
            for target in (score, by_side.setdefault(side, _Score()) if side else None):
                if target is not None:
                    target.ms.append(ms)
                    _score(target, found, boxes, rect)
    return {"photos": photos.as_dict(), "edge_crops": cropped.as_dict(),
            "by_side": {side: s.as_dict() for side, s in sorted(by_side.items())}}


def table_rows(result: dict, label: str = "") -> list[dict]:
    """Rows (one for the photos, one for their edge crops, one per side) for a printed table."""
    rows = []
    for name, part in [("photos", result["photos"]), ("edge crops", result["edge_crops"]),
                       *((f"  cut at {side}", s) for side, s in result.get("by_side", {}).items())]:
        rows.append({"counter": label, "set": name, "images": part["images"],
                     "whole": f"{part['whole_found']}/{part['whole_faces']}",
                     "whole_recall": part["whole_recall"],
                     "cut": f"{part['cut_found']}/{part['cut_faces']}" if part["cut_faces"] else "",
                     "cut_recall": part["cut_recall"],
                     "false": part["false_counts"], "false_per_image": part["false_per_image"],
                     "median_ms": part["median_ms"]})
    return rows


TABLE_COLUMNS = ("counter", "set", "images", "whole", "whole_recall", "cut", "cut_recall", "false", "false_per_image",
                 "median_ms")


DOOR_FRAME = (640, 480)  # width, height of the door camera's frames
DOOR_ZONE = (0.1, 0.0, 0.9, 1.0)  # the recognizer's default capture zone
DOOR_MIN_FACE_PX = 60  # face.tailgate_min_face_px


def single_person_frames(people_dir: Path | str, face_box: Callable[[np.ndarray], FaceBox | None],
                         size: tuple[int, int] = DOOR_FRAME) -> list[tuple[str, np.ndarray]]:
    """Door-sized frames of one person each: every photo in ``people_dir/<name>/`` letterboxed, and
    crops of it whose left, right or top edge leaves 55 % of the face (``face_box``: the face to cut)."""
    from terminal.vision.attacks import letterbox

    people_dir = Path(people_dir)
    frames = []
    for path in sorted(p for p in people_dir.glob("*/*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        name = f"{path.parent.name}/{path.name}"
        frame = letterbox(load_image(path), size)
        frames.append((name, frame))
        box = face_box(frame)
        if box is None:
            continue
        for crop in edge_crops(name, frame.shape, [box], fractions=(0.55,)):
            frames.append((f"{name} cut at {crop.side}", door_view(frame, crop, box, size)))
    return frames


def door_view(image: np.ndarray, crop: EdgeCrop, face: FaceBox, size: tuple[int, int] = DOOR_FRAME) -> np.ndarray:
    """The crop scaled to fill a ``size`` frame, its cut side kept at the frame's edge (no black bar there)."""
    import cv2

    x0, y0, x1, y1 = crop.rect
    view = image[y0:y1, x0:x1]
    width, height = size
    scale = max(width / view.shape[1], height / view.shape[0])
    resized = cv2.resize(view, (max(width, round(view.shape[1] * scale)), max(height, round(view.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    cx, cy = (face.center[0] - x0) * scale, (face.center[1] - y0) * scale
    left = int(np.clip(cx - width / 2, 0, resized.shape[1] - width))
    top = int(np.clip(cy - height / 2, 0, resized.shape[0] - height))
    if crop.side == "left":
        left = 0
    elif crop.side == "right":
        left = resized.shape[1] - width
    elif crop.side == "top":
        top = 0
    return np.ascontiguousarray(resized[top:top + height, left:left + width])


def face_region(image: np.ndarray, box: FaceBox, face_px: int, margin: float = 0.5) -> np.ndarray:
    """The face with ``margin`` of its size around it, scaled so the face is ``face_px`` wide (to paste)."""
    import cv2

    height, width = image.shape[:2]
    x0, y0 = int(max(0, box.x - margin * box.w)), int(max(0, box.y - margin * box.h))
    x1, y1 = int(min(width, box.x + (1 + margin) * box.w)), int(min(height, box.y + (1 + margin) * box.h))
    scale = face_px / box.w
    region = image[y0:y1, x0:x1]
    return cv2.resize(region, (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def paste(frame: np.ndarray, region: np.ndarray, x: int, y: int) -> np.ndarray:
    """A copy of ``frame`` with ``region`` pasted with its top-left corner at (x, y), cut by the frame's edges."""
    out = frame.copy()
    height, width = frame.shape[:2]
    rx0, ry0 = max(0, -x), max(0, -y)
    fx0, fy0 = max(0, x), max(0, y)
    w = min(width - fx0, region.shape[1] - rx0)
    h = min(height - fy0, region.shape[0] - ry0)
    if w > 0 and h > 0:
        out[fy0:fy0 + h, fx0:fx0 + w] = region[ry0:ry0 + h, rx0:rx0 + w]
    return out
