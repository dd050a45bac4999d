"""Is the face shown on a screen? The pixel grid of a display, re-imaged by the camera.

A phone or tablet emits its picture through a regular grid of red, green and blue
sub-pixels with dark gaps between them. A camera that films it samples that grid with
its own pixel grid; where the display's pitch is near or finer than the camera's, the
two beat into moiré: narrow peaks in the spatial spectrum of the face region that skin,
hair and lens blur never make (a live face's spectrum falls off smoothly, and sensor
noise is flat).

:func:`grid_peakiness` measures it on the centre of the face at the camera's own
resolution (never resized: resizing would filter the evidence away): the high-passed
crop is windowed, its power spectrum taken, and the mean of the strongest bins in the
band 0.1-0.5 cycles per pixel is divided by the band's median. On the real clip as five
camera set-ups deliver it the values stay below ~500 (90th percentile 460); composed
replays on a screen whose pixel pitch is 0.6-2 camera pixels give 1,200-65,000
(``benchmarks/faces.py``). A screen whose pixels are much finer than the camera's (a
phone at 400+ ppi held far away) averages the grid out within each camera pixel and
leaves little moiré: docs/liveness.md says what that means.
"""
from __future__ import annotations

import cv2
import numpy as np

from terminal.vision.detection import FaceBox

CROP_MAX = 64  # side of the analysed square, camera pixels
CROP_MIN = 32  # faces giving less than this are not analysed
BAND = (0.1, 0.5)  # cycles per pixel
PEAK_BINS = 4

_bands: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _band(side: int) -> tuple[np.ndarray, np.ndarray]:
    if side not in _bands:
        f = np.fft.fftfreq(side)
        radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
        window = np.outer(np.hanning(side), np.hanning(side)).astype(np.float32)
        _bands[side] = ((radius > BAND[0]) & (radius < BAND[1]), window)
    return _bands[side]


def grid_peakiness(frame: np.ndarray, box: FaceBox) -> float | None:
    """How peaked the face's fine-detail spectrum is (see the module text); None for a face too small to tell."""
    side = int(min(CROP_MAX, 0.8 * box.size))
    if side < CROP_MIN:
        return None
    cx, cy = box.center
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    if x0 < 0 or y0 < 0 or x0 + side > frame.shape[1] or y0 + side > frame.shape[0]:
        return None
    crop = cv2.cvtColor(frame[y0:y0 + side, x0:x0 + side], cv2.COLOR_BGR2GRAY).astype(np.float32)
    detail = crop - cv2.GaussianBlur(crop, (0, 0), 2.0)
    band, window = _band(side)
    power = np.abs(np.fft.fft2(detail * window)) ** 2
    values = power[band]
    median = float(np.median(values))
    if median <= 1e-6:
        return None
    strongest = np.partition(values, values.size - PEAK_BINS)[-PEAK_BINS:]
    return float(strongest.mean() / median)
