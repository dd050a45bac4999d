"""mediapipe's bundled TensorFlow Lite models, run directly with LiteRT.

mediapipe's Python solutions wrap each model in a graph of calculators (image conversion,
a detector before the face mesh, protobuf results) that costs several times the model's own
inference: the face mesh model alone takes ~1.5 ms on x86 where ``FaceMesh.process`` takes
~8 ms. :class:`LiteModel` loads the same ``.tflite`` file from the installed mediapipe wheel
(never downloaded) into ``ai_edge_litert``'s interpreter and runs it on a float tensor; the
pre- and post-processing mediapipe did is in the modules that use it (``landmarks.py``,
``detection.py``).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from terminal.vision.models import ModelError, quiet_native_logs

log = logging.getLogger(__name__)

FACE_LANDMARK = "face_landmark/face_landmark.tflite"
FACE_DETECTION_FULL = "face_detection/face_detection_full_range_sparse.tflite"
FACE_DETECTION_SHORT = "face_detection/face_detection_short_range.tflite"


def mediapipe_model_path(relative: str) -> Path:
    """A ``.tflite`` file shipped in the mediapipe wheel (``mediapipe/modules/<relative>``)."""
    try:
        import mediapipe
    except ImportError as exc:  # pragma: no cover - a hard dependency
        raise ModelError("mediapipe is not installed") from exc
    path = Path(mediapipe.__file__).parent / "modules" / relative
    if not path.is_file():
        raise ModelError(f"face model {relative} missing from {path.parent} (reinstall mediapipe)")
    return path


class LiteModel:
    """One model in its own interpreter (one thread). Not thread-safe: one per stream, as mediapipe's graphs."""

    def __init__(self, relative: str, threads: int = 1):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - a hard dependency
            raise ModelError("ai-edge-litert is not installed") from exc
        path = mediapipe_model_path(relative)
        try:
            with quiet_native_logs():
                self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
                self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"cannot load face model {relative}: {exc}") from exc
        detail = self._interpreter.get_input_details()[0]
        self._input = int(detail["index"])
        self.input_shape = tuple(int(v) for v in detail["shape"])  # (1, height, width, 3)
        self._outputs = [int(d["index"]) for d in self._interpreter.get_output_details()]
        log.debug("model %s loaded, input %s", relative, self.input_shape)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the image the model takes."""
        return self.input_shape[2], self.input_shape[1]

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """The model's outputs (copies) for one float32 input of ``input_shape``."""
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(index) for index in self._outputs]
