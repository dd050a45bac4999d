"""Employee photos for the screens: decoding a stored photo, cutting one from an enrolment shot (no Kivy here)."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

PHOTO_MAX_PX = 320
PHOTO_PX = 240


def load_photo(store: Any, employee_id: int, max_px: int = PHOTO_MAX_PX) -> np.ndarray | None:
    """An employee's enrolled photo as a small BGR array, or None (runs in a worker thread)."""
    import cv2

    from terminal.store.employees import employee_photo

    data = employee_photo(store, employee_id)
    if not data:
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        log.warning("photo of employee %s is not an image", employee_id)
        return None
    height, width = image.shape[:2]
    scale = max_px / max(height, width)
    if scale < 1:
        image = cv2.resize(image, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_AREA)
    return image


def face_photo(image: np.ndarray, box: Any, size: int = PHOTO_PX) -> bytes | None:
    """A square JPEG of the face with some margin (the employee's photo on the result screen)."""
    import cv2

    if box is None:
        return None
    height, width = image.shape[:2]
    side = max(box.w, box.h) * 1.6
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    crop = cv2.resize(image[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 88])
    return data.tobytes() if ok else None
