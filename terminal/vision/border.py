"""Is the face inside a rectangle? The edge of a print, a photo frame or a phone.

A face held up on paper or a screen is surrounded, close by, by four straight edges
that meet at corners; a live head is not: its neck and shoulders break any line
below it, and background edges (door frames, shelves) do not close around the face.
The test looks for straight edge segments on all four sides of the face (in the
face's own orientation, so a tilted print still counts), joins collinear pieces, and
accepts a border only when the four lines form a quadrilateral that contains the face
and each side is actually drawn along at least half of its length.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from terminal.vision.detection import FaceBox

SEARCH_RADIUS = 3.5  # face sizes around the face centre searched for edges
MAX_SIDE_ANGLE = 22.0  # degrees a side may lean from the face's axes (perspective, hand tilt)


@dataclass(frozen=True)
class _Line:
    side: str
    offset: float  # distance of the line from the face centre along its normal (face sizes)
    angle: float  # radians of the direction
    intervals: tuple[tuple[float, float], ...]  # covered spans along the line (face sizes)
    point: np.ndarray
    direction: np.ndarray

    @property
    def length(self) -> float:
        return sum(b - a for a, b in self.intervals)


def _intersection(a: _Line, b: _Line) -> np.ndarray | None:
    m = np.column_stack([a.direction, -b.direction])
    if abs(np.linalg.det(m)) < 1e-6:
        return None
    t = np.linalg.solve(m, b.point - a.point)
    return a.point + t[0] * a.direction


def _covered(line: _Line, p: np.ndarray, q: np.ndarray) -> float:
    """Share of the segment p-q (on ``line``) covered by detected edge."""
    tp = float(np.dot(p - line.point, line.direction))
    tq = float(np.dot(q - line.point, line.direction))
    lo, hi = min(tp, tq), max(tp, tq)
    if hi - lo < 1e-6:
        return 0.0
    total = 0.0
    for a, b in line.intervals:
        total += max(0.0, min(b, hi) - max(a, lo))
    return total / (hi - lo)


def _merge(intervals: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    merged: list[list[float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1] + 0.05:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return tuple((a, b) for a, b in merged)


def _side_lines(segments: np.ndarray) -> dict[str, list[_Line]]:
    """Group segments (face-normalised coordinates) into lines per side of the face."""
    groups: dict[str, list[list[np.ndarray]]] = {"left": [], "right": [], "top": [], "bottom": []}
    for p, q in segments:
        d = q - p
        angle = math.degrees(math.atan2(d[1], d[0])) % 180.0
        mid = (p + q) / 2
        if abs(angle - 90.0) <= MAX_SIDE_ANGLE:
            side = "left" if mid[0] < -0.55 else "right" if mid[0] > 0.55 else None
            key = mid[0]
        elif angle <= MAX_SIDE_ANGLE or angle >= 180 - MAX_SIDE_ANGLE:
            side = "top" if mid[1] < -0.6 else "bottom" if mid[1] > 0.6 else None
            key = mid[1]
        else:
            side = None
        if side is None:
            continue
        for group in groups[side]:
            if abs(group[0][0] - key) < 0.12:
                group.append(np.array([p, q]))
                break
        else:
            groups[side].append([np.array([key]), np.array([p, q])])

    lines: dict[str, list[_Line]] = {}
    for side, found in groups.items():
        built = []
        for group in found:
            pts = np.concatenate(group[1:])
            centre = pts.mean(axis=0)
            _, _, vt = np.linalg.svd(pts - centre)
            direction = vt[0] / np.linalg.norm(vt[0])
            proj = [(float(np.dot(s[0] - centre, direction)), float(np.dot(s[1] - centre, direction))) for s in group[1:]]
            intervals = _merge([(min(a, b), max(a, b)) for a, b in proj])
            normal = np.array([-direction[1], direction[0]])
            built.append(_Line(side, float(np.dot(centre, normal)), math.atan2(direction[1], direction[0]),
                               intervals, centre, direction))
        built.sort(key=lambda line: -line.length)
        lines[side] = built[:4]
    return lines


def find_border(frame: np.ndarray, box: FaceBox, roll_deg: float = 0.0) -> float:
    """How well a rectangle closes around the face: the worst side's coverage (0 = none, 1 = full).

    A value of at least ``LivenessSettings.border_coverage`` means a print, frame or screen edge surrounds the face.
    """
    size = max(box.w, box.h)
    if size < 12:
        return 0.0
    cx, cy = box.center
    height, width = frame.shape[:2]
    x0, x1 = int(max(0, cx - SEARCH_RADIUS * size)), int(min(width, cx + SEARCH_RADIUS * size))
    y0, y1 = int(max(0, cy - SEARCH_RADIUS * size)), int(min(height, cy + (SEARCH_RADIUS + 0.5) * size))
    roi = frame[y0:y1, x0:x1]
    if roi.size == 0:
        return 0.0
    gray = cv2.GaussianBlur(cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY), (3, 3), 0)
    edges = cv2.Canny(gray, 40, 120)
    raw = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=max(10, int(0.3 * size)),
                          minLineLength=max(8, int(0.35 * size)), maxLineGap=max(3, int(0.08 * size)))
    if raw is None:
        return 0.0
    c, s = math.cos(math.radians(-roll_deg)), math.sin(math.radians(-roll_deg))
    rotation = np.array([[c, -s], [s, c]])
    pts = raw[:, 0, :].reshape(-1, 2, 2).astype(np.float64)
    pts[..., 0] += x0 - cx
    pts[..., 1] += y0 - cy
    pts = (pts / size) @ rotation.T
    lines = _side_lines(pts)
    if any(not lines.get(side) for side in ("left", "right", "top", "bottom")):
        return 0.0

    half_w, half_h = box.w / 2 / size, box.h / 2 / size
    # each corner once per pair of lines (up to 4 lines a side: 64 intersections instead of 4 per quadrilateral)
    left, right, top, bottom = lines["left"], lines["right"], lines["top"], lines["bottom"]
    top_left = {(t, a): _intersection(top[t], left[a]) for t in range(len(top)) for a in range(len(left))}
    top_right = {(t, b): _intersection(top[t], right[b]) for t in range(len(top)) for b in range(len(right))}
    bottom_right = {(u, b): _intersection(bottom[u], right[b]) for u in range(len(bottom)) for b in range(len(right))}
    bottom_left = {(u, a): _intersection(bottom[u], left[a]) for u in range(len(bottom)) for a in range(len(left))}
    best = 0.0
    for a, b, t, u in itertools.product(range(len(left)), range(len(right)), range(len(top)), range(len(bottom))):
        c0, c1, c2, c3 = top_left[t, a], top_right[t, b], bottom_right[u, b], bottom_left[u, a]
        if c0 is None or c1 is None or c2 is None or c3 is None:
            continue
        coverage = min(_covered(top[t], c0, c1), _covered(right[b], c1, c2), _covered(bottom[u], c2, c3),
                       _covered(left[a], c3, c0))
        if coverage <= best:
            continue  # cannot raise the best: the shape tests below are not needed
        quad = np.array([c0, c1, c2, c3], np.float32)
        # the face box must lie inside the quadrilateral
        inside = all(cv2.pointPolygonTest(quad, (float(x), float(y)), False) >= 0
                     for x, y in ((-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h)))
        if not inside:
            continue
        area = abs(cv2.contourArea(quad))
        if not 1.5 <= area <= 40.0:  # in face areas: a print is bigger than the face, not a wall
            continue
        best = coverage
    return best
