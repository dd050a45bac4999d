"""What the kiosk takes from the camera thread: the newest frame and its faces, and a pause.

The face worker (:class:`terminal.vision.door.FaceWorker`) owns the camera: it reads
a frame, runs the recognizer and acts on decisions. The kiosk needs the same frames
to draw the preview with the face boxes, and the admin's face enrolment needs them
too, while the door must not judge the person being enrolled (no "not recognised",
no unknown-face events, no punch). :class:`FaceFeed` taps the worker's camera and its
results, and holds recognition while paused; it never reads the camera itself when a
worker is running. Without a face worker (face recognition off, or no camera model),
:meth:`FaceFeed.read_direct` reads the camera for enrolment only.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class PreviewFrame:
    """One camera frame as the preview draws it."""

    seq: int
    image: np.ndarray  # BGR
    t: float  # monotonic time of the capture
    faces: list[tuple[float, float, float, float]] = field(default_factory=list)
    primary: tuple[float, float, float, float] | None = None
    guidance: str | None = None  # a guidance code (i18n "guide.<code>")
    state: str = "idle"


def _box(face: Any) -> tuple[float, float, float, float]:
    return float(face.x), float(face.y), float(face.w), float(face.h)


class _TappedCamera:
    """The worker's camera, passed through; every frame read is also offered to the feed."""

    def __init__(self, camera: Any, feed: FaceFeed):
        self._camera = camera
        self._feed = feed

    def read(self) -> Any:
        frame = self._camera.read()
        self._feed._frame_read(frame)
        return frame

    def __getattr__(self, name: str) -> Any:
        return getattr(self._camera, name)


class FaceFeed:
    def __init__(self, worker: Any = None, camera: Any = None):
        self.worker = worker
        self.camera = camera
        self._lock = threading.Condition()
        self._seq = 0
        self._latest: PreviewFrame | None = None
        self._pending_image: tuple[np.ndarray, float] | None = None
        self._paused = False
        self._reset_requested = False
        self.face_seen_at = float("-inf")  # monotonic time a face was last in view (wakes the screensaver)
        self.listeners: list[Callable[[PreviewFrame], None]] = []
        self.decision_listeners: list[Callable[[Any], None]] = []  # every Decision of the door (refusals too)
        self.face_frames = 0  # frames with a face in view so far (wakes the screensaver)
        self._originals: dict[str, Any] = {}

    # -- wiring ----------------------------------------------------------------------------
    def attach(self) -> FaceFeed:
        worker = self.worker
        if worker is None or self._originals:
            return self
        self._originals["camera"] = worker.camera
        worker.camera = _TappedCamera(worker.camera, self)
        worker.listeners.append(self._result)
        recognizer = worker.recognizer
        original_process = recognizer.process
        self._originals["process"] = original_process

        def process(frame: np.ndarray, t: float | None = None) -> Any:
            with self._lock:
                paused, reset, self._reset_requested = self._paused, self._reset_requested, False
            if reset:
                recognizer.reset()  # here, on the camera thread that owns the recognizer
            if paused:
                from terminal.vision.recognizer import FrameResult

                return FrameResult("idle", [])
            return original_process(frame, t)

        recognizer.process = process
        return self

    def detach(self) -> None:
        worker = self.worker
        if worker is None or not self._originals:
            return
        camera = worker.camera
        worker.camera = camera._camera if isinstance(camera, _TappedCamera) else self._originals["camera"]
        if self._result in worker.listeners:
            worker.listeners.remove(self._result)
        try:
            del worker.recognizer.process
        except AttributeError:
            pass
        self._originals.clear()

    @property
    def available(self) -> bool:
        return self.worker is not None or self.camera is not None

    @property
    def camera_error(self) -> str | None:
        if self.worker is not None:
            return getattr(self.worker, "camera_error", None)
        return None

    # -- pause (admin enrolment) -------------------------------------------------------------
    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            self._reset_requested = True

    def resume(self) -> None:
        with self._lock:
            if self._paused:
                self._reset_requested = True  # start the next approach afresh
            self._paused = False

    # -- frames ------------------------------------------------------------------------------
    def _frame_read(self, frame: Any) -> None:
        with self._lock:
            if self._paused:  # recognition is held: publish the bare frame now
                self._pending_image = None
                self._publish(frame.image, frame.t_monotonic, None)
            else:
                self._pending_image = (frame.image, frame.t_monotonic)

    def _result(self, result: Any) -> None:
        with self._lock:
            pending = self._pending_image
            self._pending_image = None
        if pending is None:
            return
        with self._lock:
            self._publish(pending[0], pending[1], result)
        decision = getattr(result, "decision", None)
        if decision is not None:
            for listener in list(self.decision_listeners):
                try:
                    listener(decision)
                except Exception:
                    log.exception("face decision listener failed")

    def _publish(self, image: np.ndarray, t: float, result: Any) -> None:
        self._seq += 1
        frame = PreviewFrame(self._seq, image, t)
        if result is not None:
            frame.faces = [_box(f) for f in result.faces]
            frame.primary = _box(result.primary) if result.primary is not None else None
            frame.guidance = result.guidance.code if result.guidance is not None else None
            frame.state = result.state
            if result.faces:
                self.face_seen_at = time.monotonic()
                self.face_frames += 1
        self._latest = frame
        self._lock.notify_all()
        for listener in list(self.listeners):
            try:
                listener(frame)
            except Exception:
                log.exception("preview listener failed")

    def latest(self) -> PreviewFrame | None:
        with self._lock:
            return self._latest

    def next_frame(self, after_seq: int, timeout: float) -> PreviewFrame | None:
        """The first frame newer than ``after_seq`` (waits up to ``timeout``); reads the camera itself without a worker."""
        if self.worker is None:
            return self.read_direct()
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._latest is None or self._latest.seq <= after_seq:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._lock.wait(remaining)
            return self._latest

    def read_direct(self) -> PreviewFrame | None:
        """Read the camera in the caller's thread (only when no face worker owns it)."""
        if self.camera is None:
            return None
        frame = self.camera.read()
        with self._lock:
            self._publish(frame.image, frame.t_monotonic, None)
            return self._latest
