"""Wiring the face pipeline into the terminal: camera -> recognizer -> punch path and events.

* :class:`FaceDoor` acts on a :class:`~terminal.vision.recognizer.Decision`: an accepted
  face goes to the :class:`~terminal.identify.Authenticator` (which applies the
  employee's verification mode and calls ``PunchService.punch(Identity(id, "face",
  score))``), or straight to a ``PunchService``; a refusal is recorded with
  ``store.record_event`` (``tailgating``, ``spoof_suspected``, ``unknown_face``) and
  shown/spoken through the door feedback.
* :class:`FaceWorker` is the camera thread: it reads frames, offers each one to its
  frame listeners (the kiosk's preview), feeds the recognizer, hands every
  :class:`~terminal.vision.recognizer.FrameResult` to its result listeners (the kiosk
  draws boxes and guidance from them) and decisions to the :class:`FaceDoor`. It
  reloads the gallery when the face templates in the store change (enrolment on the
  device or a roster update from the sync agent). A camera that goes away reopens
  itself (:class:`~terminal.hardware.camera.ReopeningCamera`): the worker records
  ``camera_gone`` once when it goes and ``camera_back`` (with how long it was gone)
  when frames flow again, and says whether face recognition runs
  (:meth:`FaceWorker.face_ok`, :meth:`FaceWorker.camera_status`). A camera missing at
  boot is the same episode from the start: the worker takes it over
  (:meth:`FaceWorker.adopt_camera_gone`; the terminal records its ``camera_gone``) and
  records ``camera_back`` when the camera is plugged in and delivers.
  Other threads steer it without touching its recognizer: :meth:`FaceWorker.pause`
  (frames still flow to frame listeners, the door decides nothing: face enrolment
  on the admin screen), :meth:`FaceWorker.resume` and :meth:`FaceWorker.request_reset`.

``FaceWorker.for_terminal(terminal)`` builds all of it for a running
:class:`~terminal.runtime.Terminal`, which starts it with its other workers.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from contract.stamps import utc_stamp
from terminal.hardware.camera import CameraState, ReopeningCamera
from terminal.hardware.errors import CameraGone
from terminal.punch import Identity
from terminal.vision.gallery import FaceGallery
from terminal.vision.recognizer import Decision, FaceRecognizer, FrameResult
from terminal.workers import LoopWorker

if TYPE_CHECKING:
    from terminal.feedback import DoorFeedback
    from terminal.hardware.camera import Camera, Frame
    from terminal.identify import Authenticator, Outcome
    from terminal.punch import PunchResult, PunchService
    from terminal.runtime import Terminal
    from terminal.store.database import Store

log = logging.getLogger(__name__)

GALLERY_CHECK_S = 5.0
CAMERA_RETRY_S = 2.0  # pause between reads of a camera that does not pace its own reopening
CAMERA_GRACE_S = 10.0  # a camera gone longer than this: face recognition counts as stopped (status, sd_notify)
STUCK_AFTER_S = 120.0  # no loop iteration for this long: the camera thread is stuck (the watchdog is withheld)


def gallery_signature(store: Store) -> tuple:
    """Changes whenever face templates or the active employees behind them change."""
    row = store.query_one(
        "SELECT count(*) AS n, coalesce(max(f.id), 0) AS last, coalesce(sum(e.active), 0) AS active, "
        "coalesce(sum(f.id * e.active), 0) AS mix FROM face_templates f JOIN employees e ON e.id = f.employee_id")
    return (row["n"], row["last"], row["active"], row["mix"]) if row else (0, 0, 0, 0)


class FaceDoor:
    """Turns decisions into punches (through the punch path) and refusal events."""

    def __init__(self, store: Store, *, authenticator: Authenticator | None = None, punches: PunchService | None = None,
                 feedback: DoorFeedback | None = None):
        if authenticator is None and punches is None:
            raise ValueError("FaceDoor needs an Authenticator or a PunchService")
        self.store = store
        self.authenticator = authenticator
        self.punches = punches
        self.feedback = feedback

    def handle(self, decision: Decision) -> Outcome | PunchResult | None:
        """Act on one decision; returns the Authenticator's Outcome / the PunchResult, or None for a refusal."""
        employee_id = decision.employee_id  # the gallery's identity: the door's galleries are keyed by employee id
        if decision.accepted and isinstance(employee_id, int):
            if self.authenticator is not None:
                return self.authenticator.face(employee_id, decision.score)
            assert self.punches is not None  # one of the two is required by __init__
            return self.punches.punch(Identity(employee_id, "face", decision.score))
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
                if decision.offer_fallback:
                    self.feedback.message("hint.try_other")
            except Exception:
                log.exception("feedback failed")
        return None


class FaceWorker:
    """The camera thread of the terminal (a :class:`~terminal.workers.LoopWorker` running :meth:`step`)."""

    name = "face"

    def __init__(self, camera: Camera, recognizer: FaceRecognizer, door: FaceDoor, *, store: Store | None = None,
                 monotonic: Callable[[], float] = time.monotonic, camera_grace_s: float = CAMERA_GRACE_S,
                 stuck_after_s: float = STUCK_AFTER_S):
        self.camera = camera
        self.recognizer = recognizer
        self.door = door
        self.store = store if store is not None else door.store
        self.monotonic = monotonic  # the gallery's clock (tests move it); camera and thread times are time.monotonic()
        self.camera_grace_s = camera_grace_s
        self.stuck_after_s = stuck_after_s
        self.listeners: list[Callable[[FrameResult], None]] = []  # every result of the recognizer (not while paused)
        self._frame_listeners: list[Callable[[Frame], None]] = []
        self.last_result: FrameResult | None = None
        self.camera_error: str | None = None  # why the camera is gone; None while it delivers
        self.camera_gone_since: float | None = None  # time.monotonic() when it went
        self.camera_gone_at: str | None = None  # the same as a UTC stamp
        self.camera_at_start = False  # gone since the terminal started: it has not delivered yet
        self._beat: float | None = None  # time.monotonic() of the last loop iteration
        self._signature: tuple | None = None
        self._checked_at = float("-inf")
        self._paused = threading.Event()
        self._reset = threading.Event()
        self._loop = LoopWorker(self.name, self.step)

    @classmethod
    def for_terminal(cls, terminal: Terminal) -> FaceWorker:
        """Camera, recognizer and door for a running Terminal (its store, config, authenticator, feedback).

        Loads the face models; raises (ModelError, ValueError) when face recognition cannot run here.
        """
        camera: Camera | None = terminal.hardware.camera
        if camera is None:
            raise ValueError("face recognition needs a camera")
        config = terminal.config
        gallery = FaceGallery.from_store(terminal.store, config.face.match_threshold, config.face.match_margin)
        recognizer = FaceRecognizer(gallery, config.face)
        door = FaceDoor(terminal.store, authenticator=terminal.auth, feedback=terminal.feedback)
        worker = cls(camera, recognizer, door, store=terminal.store)
        worker._signature = gallery_signature(terminal.store)
        return worker

    # -- steering from other threads -------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def pause(self) -> None:
        """Hold recognition: frames are still read and offered to frame listeners, but the
        recognizer does not run and the door decides nothing. The approach in progress is dropped."""
        self._reset.set()
        self._paused.set()

    def resume(self) -> None:
        """Recognise again, from a fresh approach."""
        if self._paused.is_set():
            self._reset.set()
            self._paused.clear()

    def request_reset(self) -> None:
        """Forget the approach in progress; done on the camera thread (which owns the recognizer) before its next frame."""
        self._reset.set()

    def add_frame_listener(self, listener: Callable[[Frame], None]) -> None:
        """Offer every frame read to ``listener``, on the camera thread, before it is recognised (paused or not)."""
        self._frame_listeners.append(listener)

    def remove_frame_listener(self, listener: Callable[[Frame], None]) -> None:
        if listener in self._frame_listeners:
            self._frame_listeners.remove(listener)

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

    # -- the camera's state -----------------------------------------------------------------
    def _record(self, kind: str, payload: dict, severity: str) -> None:
        try:
            self.store.record_event(kind, payload, severity=severity)
        except Exception:
            log.exception("could not record the %s event", kind)

    def _camera_state(self) -> CameraState | None:
        """What the camera says of itself (None for a camera that cannot: it does not reopen itself)."""
        camera = self.camera
        return camera.state() if isinstance(camera, ReopeningCamera) else None

    def _begin_episode(self, reason: str | None, state: CameraState | None) -> None:
        """Note that the camera is gone: why, since when (the camera's own moment where it knows it)."""
        self.camera_error = reason
        self.camera_gone_since = state.gone_since if state is not None and state.gone_since is not None \
            else time.monotonic()
        self.camera_gone_at = state.gone_at if state is not None and state.gone_at else utc_stamp()
        self.camera_at_start = state is not None and state.at_start

    def _episode_payload(self, **extra: object) -> dict:
        """What the ``camera_gone`` / ``camera_back`` events say of this episode."""
        payload: dict = {"reason": self.camera_error, "since": self.camera_gone_at, **extra}
        if self.camera_at_start:
            payload["at_start"] = True
        return payload

    def _camera_lost(self, stop: threading.Event, reason: str) -> None:
        """A read failed: the first time of an episode, note since when and record ``camera_gone``."""
        state = self._camera_state()
        if self.camera_gone_since is None:
            self._begin_episode(reason, state)
            log.error("camera gone: %s; face recognition waits for it", reason)
            self._record("camera_gone", self._episode_payload(), "error")
        self.camera_error = reason
        self.recognizer.reset()
        if state is None or state.retry_in_s is None:
            stop.wait(CAMERA_RETRY_S)  # the camera does not pace its reopening (or never reopens): do not spin

    def adopt_camera_gone(self) -> bool:
        """Take a camera that is already gone (missing at boot) as this worker's episode, whose ``camera_gone``
        the caller recorded: the worker records no second one, and ``camera_back`` when frames flow. True if gone."""
        state = self._camera_state()
        if state is None or state.ok:
            return False
        self._begin_episode(state.reason, state)
        return True

    def _camera_back(self) -> None:
        gone_s = time.monotonic() - (self.camera_gone_since or time.monotonic())
        log.info("camera back after %.1f s; face recognition runs again", gone_s)
        self._record("camera_back", self._episode_payload(gone_s=round(gone_s, 1)), "info")
        self.camera_error = self.camera_gone_since = self.camera_gone_at = None
        self.camera_at_start = False

    @property
    def camera_ok(self) -> bool:
        return self.camera_error is None

    def face_ok(self) -> bool:
        """False while the camera has been gone longer than ``camera_grace_s``: face recognition is stopped."""
        since = self.camera_gone_since
        return since is None or time.monotonic() - since <= self.camera_grace_s

    def camera_status(self) -> dict:
        """``{"ok": True}`` or ``{"ok": False, "reason", "since" (UTC stamp), "gone_s", "face_stopped", "attempts",
        "at_start"}`` (``at_start``: missing since the terminal started)."""
        if self.camera_error is None:
            return {"ok": True}
        state = self._camera_state()
        gone_s = time.monotonic() - (self.camera_gone_since or time.monotonic())
        return {"ok": False, "reason": self.camera_error, "since": self.camera_gone_at, "gone_s": round(gone_s, 1),
                "face_stopped": not self.face_ok(), "attempts": state.attempts if state is not None else None,
                "at_start": self.camera_at_start}

    def step(self, stop: threading.Event) -> FrameResult | None:
        """Read one frame, offer it to the frame listeners and, unless paused, recognise it and act on a decision.

        None when no frame could be read or recognition is paused.
        """
        self._beat = time.monotonic()
        self.refresh_gallery()
        try:
            frame = self.camera.read()
        except CameraGone as exc:
            self._camera_lost(stop, exc.reason)
            return None
        if self.camera_error is not None:
            self._camera_back()
        paused = self._paused.is_set()
        if self._reset.is_set():
            self._reset.clear()
            self.recognizer.reset()
        for frame_listener in list(self._frame_listeners):
            try:
                frame_listener(frame)
            except Exception:
                log.exception("face frame listener failed")
        if paused:
            return None
        result = self.recognizer.process(frame.image, frame.t_monotonic)
        self.last_result = result
        for listener in list(self.listeners):
            try:
                listener(result)
            except Exception:
                log.exception("face result listener failed")
        if result.decision is not None and not self._paused.is_set():  # a pause while this frame was judged wins
            self.door.handle(result.decision)
        return result

    # -- Worker protocol -------------------------------------------------------------------
    def start(self) -> None:
        self._beat = time.monotonic()
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
        self.recognizer.close()

    def healthy(self) -> bool:
        """The camera thread runs and is not stuck (no loop iteration for ``stuck_after_s``).

        A camera that is merely gone does not make the worker unhealthy: the thread keeps
        reopening it, and cards, fingers and PINs work meanwhile, so restarting the terminal
        would not help. That face recognition stopped is told by :meth:`face_ok` (the terminal's
        sd_notify STATUS line, its status screen and status message) and the events.
        """
        beat = self._beat
        stuck = beat is not None and time.monotonic() - beat > self.stuck_after_s
        if stuck:
            log.error("camera thread stuck: no frame attempt for %.0f s", time.monotonic() - (beat or 0.0))
        return self._loop.healthy() and not stuck
