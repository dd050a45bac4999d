"""Face recognition at the door: detection, anti-tailgating, liveness, 1:N identification.

What the rest of the terminal uses (heavy modules are imported on first use):

* :class:`~terminal.vision.recognizer.FaceRecognizer` — ``process(frame, t) -> FrameResult``
  with guidance for the screen and, once per approach, a ``Decision`` (accepted
  employee id and score, or ``tailgating`` / ``spoof_suspected`` / ``unknown``);
* :class:`~terminal.vision.door.FaceDoor` and :class:`~terminal.vision.door.FaceWorker` —
  decisions to the punch path and to events; the camera thread;
* :class:`~terminal.vision.gallery.FaceGallery` — the enrolled templates and the matcher;
* :class:`~terminal.vision.counting.FaceCounter` — how many people stand in front of the camera.

See docs/face-recognition.md and docs/liveness.md.
"""
from __future__ import annotations

from typing import Any

_EXPORTS = {
    "FaceRecognizer": "terminal.vision.recognizer",
    "Decision": "terminal.vision.recognizer",
    "FrameResult": "terminal.vision.recognizer",
    "Guidance": "terminal.vision.recognizer",
    "FaceDoor": "terminal.vision.door",
    "FaceWorker": "terminal.vision.door",
    "FaceGallery": "terminal.vision.gallery",
    "Match": "terminal.vision.gallery",
    "FaceCounter": "terminal.vision.counting",
    "FaceBox": "terminal.vision.detection",
    "ImageError": "terminal.vision.images",
    "ModelError": "terminal.vision.models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'terminal.vision' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
