"""What the kiosk takes from the camera thread: the newest frame and its faces, and a pause.

The face worker (:class:`terminal.vision.door.FaceWorker`) owns the camera: it reads
a frame, runs the recognizer and acts on decisions. The kiosk needs the same frames
to draw the preview with the face boxes, and the admin's face enrolment needs them
too, while the door must not judge the person being enrolled (no "not recognised",
no unknown-face events, no punch). :class:`FaceFeed` listens to the worker's frames
and results (:meth:`FaceWorker.add_frame_listener`, ``FaceWorker.listeners``) and
pauses it through :meth:`FaceWorker.pause`; it never reads the camera itself when a
worker is running. Without a face worker (face recognition off, or no camera model),
:meth:`FaceFeed.read_direct` reads the camera for enrolment only. A camera that went
away reopens itself (its driver's doing); :attr:`FaceFeed.camera_error` says why it is
gone until frames flow again.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from terminal.hardware.camera import Camera, Frame
    from terminal.vision.detection import FaceBox
    from terminal.vision.door import FaceWorker
    from terminal.vision.recognizer import Decision, FrameResult

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


def _box(face: FaceBox) -> tuple[float, float, float, float]:
    return float(face.x), float(face.y), float(face.w), float(face.h)


class FaceFeed:
    def __init__(self, worker: FaceWorker | None = None, camera: Camera | None = None):
        self.worker = worker
        self.camera = camera
        self._lock = threading.Condition()
        self._seq = 0
        self._latest: PreviewFrame | None = None
        self._pending_image: tuple[np.ndarray, float] | None = None
        self._attached = False
        self.decision_listeners: list[Callable[[Decision], None]] = []  # every Decision of the door (refusals too)
        self.face_frames = 0  # frames with a face in view so far (wakes the screensaver)

    # -- wiring ----------------------------------------------------------------------------
    def attach(self) -> FaceFeed:
        """Listen to the worker's frames and results (nothing to do without a worker)."""
        worker = self.worker
        if worker is None or self._attached:
            return self
        worker.add_frame_listener(self._frame_read)
        worker.listeners.append(self._result)
        self._attached = True
        return self

    def detach(self) -> None:
        worker = self.worker
        if worker is None or not self._attached:
            return
        worker.remove_frame_listener(self._frame_read)
        if self._result in worker.listeners:
            worker.listeners.remove(self._result)
        self._attached = False

    @property
    def camera_error(self) -> str | None:
        """Why the camera is gone (it reopens itself meanwhile), or None while it delivers."""
        if self.worker is not None:
            return self.worker.camera_error
        from terminal.hardware.camera import ReopeningCamera

        if isinstance(self.camera, ReopeningCamera):
            return self.camera.state().reason
        return None

    # -- pause (admin enrolment) -------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self.worker is not None and self.worker.paused

    def pause(self) -> None:
        """The door stops judging faces (frames still reach the preview); the approach in progress is dropped."""
        if self.worker is not None:
            self.worker.pause()

    def resume(self) -> None:
        """The door judges faces again, from a fresh approach."""
        if self.worker is not None:
            self.worker.resume()

    # -- frames (camera thread) --------------------------------------------------------------
    def _frame_read(self, frame: Frame) -> None:
        with self._lock:
            if self.paused:  # no result will follow: publish the bare frame now
                self._pending_image = None
                self._publish(frame.image, frame.t_monotonic, None)
            else:
                self._pending_image = (frame.image, frame.t_monotonic)

    def _result(self, result: FrameResult) -> None:
        with self._lock:
            pending = self._pending_image
            self._pending_image = None
            if pending is not None:
                self._publish(pending[0], pending[1], result)
        decision = result.decision
        if decision is not None:
            for listener in list(self.decision_listeners):
                try:
                    listener(decision)
                except Exception:
                    log.exception("face decision listener failed")

    def _publish(self, image: np.ndarray, t: float, result: FrameResult | None) -> None:
        """Make a frame the newest (with ``_lock`` held) and wake whoever waits for it."""
        self._seq += 1
        frame = PreviewFrame(self._seq, image, t)
        if result is not None:
            frame.faces = [_box(f) for f in result.faces]
            frame.primary = _box(result.primary) if result.primary is not None else None
            frame.guidance = result.guidance.code if result.guidance is not None else None
            frame.state = result.state
            if result.faces:
                self.face_frames += 1
        self._latest = frame
        self._lock.notify_all()

    # -- reading -----------------------------------------------------------------------------
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
