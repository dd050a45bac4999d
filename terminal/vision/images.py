"""Reading images: always through OpenCV, with a clear reason when a file cannot be used."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

MAX_IMAGE_PIXELS = 40_000_000  # a 40 MP photo is the largest accepted (memory on the Pi)


class ImageError(ValueError):
    """An image that cannot be used; ``reason`` is a short code, the message says what to do."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """A BGR uint8 image from encoded bytes (JPEG, PNG, WebP, BMP, TIFF...)."""
    if not data:
        raise ImageError("empty", f"{name}: the file is empty")
    buffer = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError("unreadable", f"{name}: not an image OpenCV can read (JPEG, PNG, WebP, BMP or TIFF expected)")
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:
        raise ImageError("too_large", f"{name}: {image.shape[1]}x{image.shape[0]} is larger than 40 megapixels")
    return image


def load_image(path: Path | str) -> np.ndarray:
    """A BGR uint8 image from a file; :class:`ImageError` names the file and the problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError("missing", f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError("unreadable", f"{path}: is a folder, not an image") from None
    except OSError as exc:
        raise ImageError("unreadable", f"{path}: {exc.strerror or exc}") from None
    return decode_image(data, str(path))


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """Check a camera frame: HxWx3 uint8 (BGR), or grey HxW which is expanded."""
    if not isinstance(frame, np.ndarray):
        raise ImageError("bad_frame", "a frame must be a numpy array")
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.ndim != 3 or frame.shape[2] not in (3, 4) or frame.dtype != np.uint8 or min(frame.shape[:2]) < 16:
        raise ImageError("bad_frame", f"a frame must be HxWx3 uint8, got {frame.shape} {frame.dtype}")
    if frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


def fit_within(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The image scaled down (never up) so its longer side is at most ``max_side``, and the scale used."""
    longest = max(image.shape[:2])
    if longest <= max_side:
        return image, 1.0
    scale = max_side / longest
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    return resized, scale
