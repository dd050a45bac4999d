"""Wiring the face pipeline into the terminal: camera -> recognizer -> punch path and events.

* :class:`FaceDoor` acts on a :class:`~terminal.vision.recognizer.Decision`: an accepted
  face goes to the :class:`~terminal.identify.Authenticator` (which applies the
  employee's verification mode and calls ``PunchService.punch(Identity(id, "face",
  score))``), or straight to a ``PunchService``; a refusal is recorded with
  ``store.record_event`` (``tailgating``, ``spoof_suspected``, ``unknown_face``) and
  shown/spoken through the door feedback.
* :class:`FaceWorker` is the camera thread: it reads frames, feeds the recognizer,
  hands every :class:`~terminal.vision.recognizer.FrameResult` to listeners (the kiosk
  draws boxes and guidance from them) and decisions to the :class:`FaceDoor`. It
  reloads the gallery when the face templates in the store change (enrolment on the
  device or a roster update from the sync agent), and reopens a camera that went away.

``FaceWorker.for_terminal(terminal)`` builds all of it for a running
:class:`~terminal.runtime.Terminal`; ``terminal.add_worker(...)`` starts it with the rest.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from terminal.vision.gallery import FaceGallery
from terminal.vision.recognizer import Decision, FaceRecognizer, FrameResult

log = logging.getLogger(__name__)

GALLERY_CHECK_S = 5.0
CAMERA_RETRY_S = 2.0


def gallery_signature(store: Any) -> tuple:
    """Changes whenever face templates or the active employees behind them change."""
    row = store.query_one(
        "SELECT count(*) AS n, coalesce(max(f.id), 0) AS last, coalesce(sum(e.active), 0) AS active, "
        "coalesce(sum(f.id * e.active), 0) AS mix FROM face_templates f JOIN employees e ON e.id = f.employee_id")
    return (row["n"], row["last"], row["active"], row["mix"]) if row else (0, 0, 0, 0)


class FaceDoor:
    """Turns decisions into punches (through the punch path) and refusal events."""

    def __init__(self, store: Any, *, authenticator: Any = None, punches: Any = None, feedback: Any = None):
        if authenticator is None and punches is None:
            raise ValueError("FaceDoor needs an Authenticator or a PunchService")
        self.store = store
        self.authenticator = authenticator
        self.punches = punches
        self.feedback = feedback

    def handle(self, decision: Decision) -> Any:
        """Act on one decision; returns the Authenticator's Outcome / the PunchResult, or None for a refusal."""
        if decision.accepted:
            if self.authenticator is not None:
                return self.authenticator.face(decision.employee_id, decision.score)
            from terminal.punch import Identity

            return self.punches.punch(Identity(decision.employee_id, "face", decision.score))
        event = decision.event()
        if event is not None:
            kind, payload = event
            try:
                self.store.record_event(kind, payload, severity="warning")
            except Exception:
                log.exception("could not record the %s event", kind)
        if self.feedback is not None and decision.refusal_key:
            try:
                self.feedback.refusal(decision.refusal_key)
                if decision.offer_fallback and hasattr(self.feedback, "message"):
                    self.feedback.message("hint.try_other")
            except Exception:
                log.exception("feedback failed")
        return None


class FaceWorker:
    """The camera thread of the terminal (a :class:`~terminal.runtime.LoopWorker` step)."""

    name = "face"

    def __init__(self, camera: Any, recognizer: FaceRecognizer, door: FaceDoor, *, store: Any = None,
                 camera_factory: Callable[[], Any] | None = None, monotonic: Callable[[], float] = time.monotonic):
        from terminal.runtime import LoopWorker

        self.camera = camera
        self.recognizer = recognizer
        self.door = door
        self.store = store if store is not None else door.store
        self.camera_factory = camera_factory
        self.monotonic = monotonic
        self.listeners: list[Callable[[FrameResult], None]] = []
        self.last_result: FrameResult | None = None
        self.decisions = 0
        self.camera_error: str | None = None
        self._signature: tuple | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self._loop = LoopWorker(self.name, self.step)

    @classmethod
    def for_terminal(cls, terminal: Any) -> FaceWorker:
        """Camera, recognizer and door for a running Terminal (its store, config, authenticator, feedback)."""
        config = terminal.config
        gallery = FaceGallery.from_store(terminal.store, config.face.match_threshold, config.face.match_margin)
        recognizer = FaceRecognizer(gallery, config.face)
        door = FaceDoor(terminal.store, authenticator=terminal.auth, feedback=terminal.feedback)
        worker = cls(terminal.hardware.camera, recognizer, door, store=terminal.store)
        worker._signature = gallery_signature(terminal.store)
        return worker

    # -- the loop ---------------------------------------------------------------------------
    def refresh_gallery(self, force: bool = False) -> bool:
        """Reload the gallery if the stored templates changed; True when reloaded."""
        now = self.monotonic()
        if not force and now - self._checked_at < GALLERY_CHECK_S:
            return False
        self._checked_at = now
        signature = gallery_signature(self.store)
        if not force and signature == self._signature:
            return False
        settings = self.recognizer.settings
        self.recognizer.gallery = FaceGallery.from_store(self.store, settings.match_threshold, settings.match_margin)
        self._signature = signature
        return True

    def _reopen_camera(self, stop: threading.Event, reason: str) -> None:
        if self.camera_error != reason:
            log.error("camera gone: %s", reason)
            try:
                self.store.record_event("camera_gone", {"reason": reason}, severity="error")
            except Exception:
                log.exception("could not record the camera event")
        self.camera_error = reason
        self.recognizer.reset()
        if self.camera_factory is None:
            stop.wait(CAMERA_RETRY_S)
            return
        try:
            self.camera.close()
        except Exception:
            pass
        if stop.wait(CAMERA_RETRY_S):
            return
        try:
            self.camera = self.camera_factory()
            self.camera_error = None
            log.info("camera reopened")
        except Exception as exc:
            log.error("camera could not be reopened: %s", exc)

    def step(self, stop: threading.Event) -> FrameResult | None:
        """Read and handle one frame."""
        from terminal.hardware.errors import CameraGone

        self.refresh_gallery()
        try:
            frame = self.camera.read()
        except CameraGone as exc:
            self._reopen_camera(stop, str(exc))
            return None
        self.camera_error = None
        result = self.recognizer.process(frame.image, frame.t_monotonic)
        self.last_result = result
        for listener in list(self.listeners):
            try:
                listener(result)
            except Exception:
                log.exception("face result listener failed")
        if result.decision is not None:
            self.decisions += 1
            self.door.handle(result.decision)
        return result

    # -- Worker protocol -------------------------------------------------------------------
    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
        self.recognizer.close()

    def healthy(self) -> bool:
        """The thread runs (a lost camera is reported by ``camera_error`` and events, not by dying)."""
        return self._loop.healthy()
