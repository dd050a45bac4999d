"""Finding faces in a frame with mediapipe's bundled face detection models.

The full-range model (faces up to ~5 m, down to ~20 px in a 640x480 frame) runs on
every frame; the short-range model is the fallback for a face so close that the
full-range model misses it. Boxes are in pixels of the frame given.

By default the models run directly with LiteRT (:class:`LiteFaceGraph`), which does what
mediapipe 0.10.18's face detection graph does around them (letterbox to the model's
square input, SSD anchor decoding, weighted non-maximum suppression, letterbox removal)
in about half the time; ``backend="mediapipe"`` runs mediapipe's own graph, the reference
the tests compare with.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import cv2
import numpy as np

from terminal.vision.models import ModelError, mediapipe_solutions, quiet_native_logs
from terminal.vision.tflite import FACE_DETECTION_FULL, FACE_DETECTION_SHORT, LiteModel

if TYPE_CHECKING:
    from mediapipe.python.solutions.face_detection import FaceDetection

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


Backend = Literal["litert", "mediapipe"]
DetectorModel = Literal["full", "short", "full_only"]


@dataclass(frozen=True)
class DetectionGraph:
    """The options of one of mediapipe 0.10.18's face detection subgraphs.

    ``FaceDetectionFullRangeCpu`` / ``FaceDetectionShortRangeCpu`` (the solution's graphs) run
    ``FaceDetectionFullRange`` / ``FaceDetectionShortRange``, which only set these
    ``FaceDetectionOptions`` on the common ``FaceDetection`` subgraph; the rest of that
    subgraph's options are the same for both and are the module constants below. The
    subgraph configs are compiled into mediapipe's bindings, not shipped as ``.binarypb``:
    the values were read from them with ``CalculatorGraphConfig``.
    """

    model: str  # the .tflite file in the mediapipe wheel
    tensor_size: int  # ImageToTensorCalculator output width and height
    strides: tuple[int, ...]  # SsdAnchorsCalculator, one per layer
    interpolated_scale_aspect_ratio: float  # SsdAnchorsCalculator: > 0 adds one anchor per layer and cell
    num_boxes: int
    coord_scale: float  # TensorsToDetectionsCalculator x_scale = y_scale = w_scale = h_scale
    min_score: float  # TensorsToDetectionsCalculator min_score_thresh (see FaceDetector about min_confidence)


FULL_RANGE = DetectionGraph(FACE_DETECTION_FULL, 192, (4,), 0.0, 2304, 192.0, 0.6)
SHORT_RANGE = DetectionGraph(FACE_DETECTION_SHORT, 128, (8, 16, 16, 16), 1.0, 896, 128.0, 0.5)

# The common FaceDetection subgraph. ImageToTensorCalculator: keep_aspect_ratio, BORDER_ZERO,
# output_tensor_float_range [-1, 1]. SsdAnchorsCalculator: anchor_offset 0.5, aspect_ratios [1.0],
# fixed_anchor_size (every anchor is 1x1, so min_scale/max_scale do not matter).
# TensorsToDetectionsCalculator: num_coords 16 (box then 6 keypoints), reverse_output_order (x before y),
# sigmoid_score with score_clipping_thresh 100. NonMaxSuppressionCalculator: WEIGHTED, IoU > 0.3.
ANCHOR_OFFSET = 0.5
ANCHOR_ASPECT_RATIOS = (1.0,)
NUM_COORDS = 16
KEYPOINT_OFFSET = 4
NUM_KEYPOINTS = 6
SCORE_CLIPPING = 100.0
NMS_MIN_SUPPRESSION = 0.3

F32 = np.float32


def ssd_anchor_centres(graph: DetectionGraph) -> np.ndarray:
    """(num_boxes, 2) float32 anchor centres (x, y) in the tensor's [0, 1] space, in the model's output order.

    As SsdAnchorsCalculator: consecutive layers with the same stride share one feature map of
    ceil(size / stride) cells; each cell holds, for each of those layers, one anchor per aspect
    ratio plus one when interpolated_scale_aspect_ratio > 0, all centred on the cell.
    """
    per_layer = len(ANCHOR_ASPECT_RATIOS) + (1 if graph.interpolated_scale_aspect_ratio > 0 else 0)
    groups: list[np.ndarray] = []
    layer = 0
    while layer < len(graph.strides):
        stride = graph.strides[layer]
        last = layer
        while last < len(graph.strides) and graph.strides[last] == stride:
            last += 1
        cells = math.ceil(graph.tensor_size / stride)
        # float32 arithmetic as the calculator's, so the centres are the same floats
        centres = (np.arange(cells, dtype=F32) + F32(ANCHOR_OFFSET)) / F32(cells)
        ys, xs = np.meshgrid(centres, centres, indexing="ij")  # rows outer, columns inner
        groups.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), (last - layer) * per_layer, axis=0))
        layer = last
    return np.concatenate(groups).astype(F32)


@dataclass(frozen=True)
class RawDetections:
    """Detections as mediapipe's graph outputs them: relative to the frame's width and height, float32."""

    boxes: np.ndarray  # (n, 4) xmin, ymin, width, height
    scores: np.ndarray  # (n,)
    keypoints: np.ndarray  # (n, 6, 2) x, y

    def __len__(self) -> int:
        return len(self.scores)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray,
                 threshold: float = NMS_MIN_SUPPRESSION) -> RawDetections:
    """mediapipe's WEIGHTED non-maximum suppression with IoU overlap.

    The best remaining box takes every remaining box whose IoU with it exceeds ``threshold``
    (itself included); its box and keypoints become their score-weighted mean, its score stays
    its own. When the best box overlaps nothing (a zero-area box), the calculator stops there.
    """
    xmin, ymin = boxes[:, 0], boxes[:, 1]
    xmax, ymax = xmin + boxes[:, 2], ymin + boxes[:, 3]  # as Rectangle_f(xmin, ymin, width, height)
    areas = boxes[:, 2] * boxes[:, 3]
    remaining = np.argsort(-scores, kind="stable")  # std::sort by score; ties are rare and few
    kept_boxes: list[np.ndarray] = []
    kept_scores: list[np.floating] = []
    kept_points: list[np.ndarray] = []
    while remaining.size:
        top = remaining[0]
        inter_w = np.minimum(xmax[remaining], xmax[top]) - np.maximum(xmin[remaining], xmin[top])
        inter_h = np.minimum(ymax[remaining], ymax[top]) - np.maximum(ymin[remaining], ymin[top])
        inter = np.where((inter_w >= 0) & (inter_h >= 0), inter_w * inter_h, F32(0))
        union = areas[remaining] + areas[top] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        overlapping = iou > threshold
        kept_scores.append(scores[top])
        if not overlapping.any():
            kept_boxes.append(boxes[top])
            kept_points.append(keypoints[top])
            break
        members = remaining[overlapping]
        weights = scores[members]
        total = weights.sum(dtype=F32)
        left = (weights @ xmin[members]) / total
        upper = (weights @ ymin[members]) / total
        right = (weights @ xmax[members]) / total
        lower = (weights @ ymax[members]) / total
        kept_boxes.append(np.array([left, upper, right - left, lower - upper], F32))
        kept_points.append((np.tensordot(weights, keypoints[members], axes=1) / total).astype(F32))
        remaining = remaining[~overlapping]
    return RawDetections(np.array(kept_boxes, F32).reshape(-1, 4), np.array(kept_scores, F32),
                         np.array(kept_points, F32).reshape(-1, NUM_KEYPOINTS, 2))


class LiteFaceGraph:
    """mediapipe's face detection graph (one range), with its model run by LiteRT. One per thread/stream.

    ImageToTensor letterboxes the RGB frame into the model's square input, the model gives
    regressors and scores per SSD anchor, TensorsToDetections decodes those above the minimum
    score, weighted NMS merges each face's anchors, and DetectionProjection maps the result
    from the letterboxed square back to the frame.
    """

    def __init__(self, graph: DetectionGraph):
        self.graph = graph
        self.min_score = F32(graph.min_score)
        self._model = LiteModel(graph.model)
        if self._model.size != (graph.tensor_size, graph.tensor_size):
            raise ModelError(f"{graph.model} takes {self._model.size}, not {graph.tensor_size}x{graph.tensor_size}")
        self._anchors = ssd_anchor_centres(graph)
        self._matrices: dict[tuple[int, int], np.ndarray] = {}
        # uint8 -> [-1, 1] as the calculator's convertTo(scale 2/255, offset -1): one lookup per channel value
        self._to_float = np.arange(256, dtype=F32) * F32(2.0 / 255.0) - F32(1.0)
        with quiet_native_logs():  # the first inference announces the XNNPACK delegate on stderr
            outputs = self._model.run(np.zeros(self._model.input_shape, F32))
        # the regressors and scores are told apart by their shape: the two models name and order them differently
        shapes = [tuple(output.shape) for output in outputs]
        try:
            self._boxes_output = shapes.index((1, graph.num_boxes, NUM_COORDS))
            self._scores_output = shapes.index((1, graph.num_boxes, 1))
        except ValueError:
            raise ModelError(f"{graph.model} outputs {shapes}, not {graph.num_boxes} anchors' boxes and scores") from None

    def _warp_matrix(self, width: int, height: int) -> np.ndarray:
        """Frame pixels -> tensor pixels, computed as ImageToTensorCalculator does, bit for bit.

        The letterbox square (the frame's centre, side max(width, height)) goes through
        ``cv2.boxPoints`` and ``cv2.getPerspectiveTransform`` onto the tensor's corners. The
        matrix is affine, but one ulp off (writing it down directly) or ``warpAffine`` (which
        rounds sampling positions differently) changes sampled pixels of a strongly downscaled
        frame and moved scores by up to 0.006 and boxes by 1.5 % IoU.
        """
        key = (width, height)
        matrix = self._matrices.get(key)
        if matrix is None:
            side = float(max(width, height))
            size = float(self.graph.tensor_size)
            corners = cv2.boxPoints(((width / 2, height / 2), (side, side), 0.0)).astype(F32)
            targets = np.array([[0, size], [0, 0], [size, 0], [size, size]], F32)  # boxPoints' order: bottom-left first
            matrix = cv2.getPerspectiveTransform(corners, targets)
            if len(self._matrices) > 8:  # frames of one stream share a size; photos of many sizes must not pile up
                self._matrices.clear()
            self._matrices[key] = matrix
        return matrix

    def input_tensor(self, rgb: np.ndarray) -> np.ndarray:
        """The model's input: the frame centred in a black square of its longer side, resized to the tensor.

        ImageToTensorCalculator (keep_aspect_ratio, BORDER_ZERO) samples the frame bilinearly with
        ``cv2.warpPerspective``, then maps [0, 255] to [-1, 1].
        """
        height, width = rgb.shape[:2]
        size = self.graph.tensor_size
        pixels = cv2.warpPerspective(rgb, self._warp_matrix(width, height), (size, size), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        return self._to_float[pixels][np.newaxis]

    def process(self, rgb: np.ndarray) -> RawDetections:
        """The graph's detections for one RGB frame, relative to its width and height, best first."""
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("Input image must contain three channel rgb data.")  # as mediapipe's solutions
        height, width = rgb.shape[:2]
        outputs = self._model.run(self.input_tensor(rgb))
        raw_scores = outputs[self._scores_output][0, :, 0]
        with np.errstate(over="ignore"):  # exp(100) is inf in float32 and the score 0, as in the calculator
            scores = F32(1) / (F32(1) + np.exp(-np.clip(raw_scores, -SCORE_CLIPPING, SCORE_CLIPPING)))
        chosen = np.flatnonzero(scores >= self.min_score)
        if chosen.size == 0:
            return weighted_nms(np.empty((0, 4), F32), np.empty(0, F32), np.empty((0, NUM_KEYPOINTS, 2), F32))
        raw = outputs[self._boxes_output][0, chosen] / F32(self.graph.coord_scale)
        anchors = self._anchors[chosen]
        # every anchor is 1x1 (fixed_anchor_size): offsets are in tensor units around the anchor's centre
        centre_x, centre_y = raw[:, 0] + anchors[:, 0], raw[:, 1] + anchors[:, 1]
        half_w, half_h = raw[:, 2] / F32(2), raw[:, 3] / F32(2)
        xmin, ymin = centre_x - half_w, centre_y - half_h
        boxes = np.stack([xmin, ymin, (centre_x + half_w) - xmin, (centre_y + half_h) - ymin], axis=1)
        points = raw[:, KEYPOINT_OFFSET:KEYPOINT_OFFSET + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2)
        points = points + anchors[:, np.newaxis, :]
        # a negative or NaN width/height is a broken prediction; the calculator drops it before NMS
        valid = (boxes[:, 2] >= 0) & (boxes[:, 3] >= 0)
        merged = weighted_nms(boxes[valid], scores[chosen][valid], points[valid])
        return self._project(merged, width, height)

    @staticmethod
    def _project(detections: RawDetections, width: int, height: int) -> RawDetections:
        """From the letterboxed square to the frame (DetectionProjectionCalculator with ImageToTensor's matrix)."""
        side = F32(max(width, height))
        scale = np.array([side * (F32(1) / F32(width)), side * (F32(1) / F32(height))], F32)
        offset = np.array([(F32(-0.5) * side + F32(0.5) * F32(width)) * (F32(1) / F32(width)),
                           (F32(-0.5) * side + F32(0.5) * F32(height)) * (F32(1) / F32(height))], F32)
        corners = detections.boxes[:, :2] * scale + offset
        far = (detections.boxes[:, :2] + detections.boxes[:, 2:]) * scale + offset
        boxes = np.concatenate([corners, far - corners], axis=1)
        return RawDetections(boxes, detections.scores, detections.keypoints * scale + offset)

    def close(self) -> None:
        """Nothing to release early: the interpreter goes with the object (kept for the detector's close())."""


class _Graph(Protocol):
    def process(self, rgb: np.ndarray) -> RawDetections: ...

    def close(self) -> None: ...


class SolutionGraph:
    """mediapipe's own ``FaceDetection`` solution graph, the reference :class:`LiteFaceGraph` reproduces."""

    def __init__(self, model_selection: int, min_score: float):
        solutions = mediapipe_solutions()
        with quiet_native_logs():
            self._solution: FaceDetection = solutions.face_detection.FaceDetection(
                model_selection=model_selection, min_detection_confidence=min_score)
            self._solution.process(np.zeros((64, 64, 3), np.uint8))  # the first inference prints more; do it now

    def process(self, rgb: np.ndarray) -> RawDetections:
        result = self._solution.process(rgb)
        detections = list(result.detections or ())
        boxes = [(d.location_data.relative_bounding_box.xmin, d.location_data.relative_bounding_box.ymin,
                  d.location_data.relative_bounding_box.width, d.location_data.relative_bounding_box.height)
                 for d in detections]
        points = [[(kp.x, kp.y) for kp in d.location_data.relative_keypoints] for d in detections]
        return RawDetections(np.array(boxes, F32).reshape(-1, 4), np.array([d.score[0] for d in detections], F32),
                             np.array(points, F32).reshape(-1, NUM_KEYPOINTS, 2))

    def close(self) -> None:
        self._solution.close()


class FaceDetector:
    """mediapipe face detection. Not thread-safe: one per thread/stream.

    ``model``: ``"full"`` (full range, short-range fallback when nothing is found),
    ``"short"`` or ``"full_only"``. ``backend``: ``"litert"`` runs the models directly,
    ``"mediapipe"`` through mediapipe's graphs (the same faces, about twice as slow).

    ``min_confidence``: faces scoring below it are dropped. mediapipe 0.10.18's solution
    passes ``min_detection_confidence`` to its graph but the subgraphs' own minimum
    (0.6 full range, 0.5 short range) wins (google-ai-edge/mediapipe#3896), so both
    backends keep that minimum and apply ``min_confidence`` on top: at the default 0.5
    it removes nothing.
    """

    def __init__(self, model: DetectorModel = "full", min_confidence: float = 0.5, *, backend: Backend = "litert"):
        self.model = model
        self.min_confidence = min_confidence
        self.backend = backend
        self._full: _Graph | None = None
        self._short: _Graph | None = None
        if backend not in ("litert", "mediapipe"):
            raise ValueError(f"unknown face detection backend {backend!r}")
        if model in ("full", "full_only"):
            self._full = self._graph(FULL_RANGE, 1)
        if model in ("full", "short"):
            self._short = self._graph(SHORT_RANGE, 0)
        log.debug("face detector %s on %s", model, backend)

    def _graph(self, graph: DetectionGraph, model_selection: int) -> _Graph:
        if self.backend == "mediapipe":
            return SolutionGraph(model_selection, self.min_confidence)
        return LiteFaceGraph(graph)

    def _run(self, graph: _Graph, rgb: np.ndarray, source: str) -> list[FaceBox]:
        height, width = rgb.shape[:2]
        found = graph.process(rgb)
        boxes = []
        for rel, score, rel_points in zip(found.boxes.tolist(), found.scores.tolist(), found.keypoints.tolist(), strict=True):
            x, y, w, h = rel[0] * width, rel[1] * height, rel[2] * width, rel[3] * height
            if score < self.min_confidence or not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 1 or h <= 1:
                continue
            keypoints = tuple((px * width, py * height) for px, py in rel_points)
            boxes.append(FaceBox(x, y, w, h, score, source, keypoints))
        return boxes

    def detect(self, image: np.ndarray, rgb: np.ndarray | None = None) -> list[FaceBox]:
        """Faces in a BGR image (or its RGB copy when the caller has one), largest first."""
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
