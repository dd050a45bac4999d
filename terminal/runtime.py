"""The running terminal: hardware, store, punch path and the workers that feed it.

The same object runs under the Kivy kiosk and headless (``seed-terminal --headless``).
Each input (card reader, fingerprint sensor, camera) has its own worker thread, so a
sensor that hangs never blocks another way in; workers hand factors to the
:class:`~terminal.identify.Authenticator` and nothing else. Which workers run is
decided in one place, :meth:`Terminal._build_workers`, from the configuration and
the devices present; the kiosk finds them by name (:meth:`Terminal.worker`).

The systemd watchdog is fed while every worker thread runs and none is stuck. A camera
that is unplugged does not withhold it (the door still takes cards, fingers and PINs,
and a restart would not bring the camera back — the driver reopens it itself): that
face recognition stopped is told by the ``STATUS=`` line sent to systemd, the
``hardware.status`` the sync agent publishes (``camera`` and ``camera_gone_since``) and
the ``camera_gone`` / ``camera_back`` events. A configured camera that is missing at boot is
the same case from the start: the terminal gets it in its gone state, records ``camera_gone``
(``at_start``) once, starts the face worker anyway, and faces are recognised as soon as the
camera is plugged in. See docs/camera-recovery.md.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from terminal.config import TerminalConfig
from terminal.feedback import DoorFeedback
from terminal.fingerprint_service import FingerprintWorker
from terminal.identify import Authenticator, Outcome
from terminal.punch import PunchService
from terminal.service_notify import notify, watchdog_interval_s
from terminal.status import hardware_health
from terminal.store.database import Store, open_store
from terminal.workers import LoopWorker, Worker

if TYPE_CHECKING:
    from terminal.hardware.factory import Hardware
    from terminal.vision.door import FaceWorker

log = logging.getLogger(__name__)

OPEN_REQUEST_KEY = "door.open_request"  # written by the sync agent for a signed open_door command
OPEN_DONE_KEY = "door.open_done"
HEALTH_EVERY_S = 30.0


class Terminal:
    """Everything one door terminal runs, wired together. A context manager."""

    def __init__(self, config: TerminalConfig, store: Store, hardware: Hardware):
        self.config = config
        self.store = store
        self.hardware = hardware
        self.feedback = DoorFeedback(config, hardware.outputs, hardware.speaker)
        self.punches = PunchService(store, config, hardware.clock, self.feedback)
        self.auth = Authenticator(store, config, self.punches, hardware.clock, self.feedback)
        self._stopped = threading.Event()
        self._health_written = 0.0
        self._camera_written: str | None = None  # the camera's health in the last hardware.status written
        self._status_line: str | None = None  # the last STATUS= sent to systemd
        self.fingerprint_worker: FingerprintWorker | None = None
        self.face_worker: FaceWorker | None = None
        camera_missing = self._record_camera_missing_at_boot()
        self.workers: list[Worker] = self._build_workers()
        if camera_missing and self.face_worker is not None:
            self.face_worker.adopt_camera_gone()  # its camera_gone is recorded: the worker records camera_back

    def _build_workers(self) -> list[Worker]:
        """Every worker this terminal runs, from its configuration and the devices it has.

        The camera thread when face recognition is on and a camera is present (its models
        load here; a face pipeline that cannot start is logged and recorded, and the door
        still takes cards, fingers and PINs), the fingerprint sensor's thread, the card
        reader's and housekeeping.
        """
        workers: list[Worker] = []
        if self.config.face.enabled and self.hardware.camera is not None:
            self.face_worker = self._face_worker()
            if self.face_worker is not None:
                workers.append(self.face_worker)
        if self.hardware.card_reader is not None:
            workers.append(LoopWorker("card-reader", self._card_step))
        self.fingerprint_worker = FingerprintWorker.for_terminal(self)  # None without a sensor
        if self.fingerprint_worker is not None:
            workers.append(self.fingerprint_worker)
        workers.append(LoopWorker("housekeeping", self._housekeeping_step))
        return workers

    def _record_camera_missing_at_boot(self) -> bool:
        """A configured camera that is not there yet (it is waited for, not left out): log it and record
        ``camera_gone`` with its reason and ``at_start`` once. True when it is missing."""
        from terminal.hardware.camera import ReopeningCamera

        camera = self.hardware.camera
        if not isinstance(camera, ReopeningCamera):
            return False
        state = camera.state()
        if state.ok:
            return False
        log.error("camera missing at start-up: %s; cards, fingers and PINs work, faces once it is plugged in",
                  state.reason)
        self.store.record_event("camera_gone", {"reason": state.reason, "since": state.gone_at, "at_start": True},
                                severity="error")
        return True

    def _face_worker(self) -> FaceWorker | None:
        try:
            from terminal.vision.door import FaceWorker  # the vision stack is heavy: imported only when a door recognises faces

            return FaceWorker.for_terminal(self)
        except Exception:
            log.exception("face recognition could not start; cards, fingers and PINs still work")
            self.store.record_event("face_unavailable", {}, severity="error")
            return None

    @classmethod
    def open(cls, config: TerminalConfig) -> Terminal:
        from terminal.hardware.factory import build_hardware

        store = open_store(config.storage)
        try:
            hardware = build_hardware(config, config.storage.data_dir)
        except BaseException:
            store.close()
            raise
        vouch_by = getattr(hardware.clock, "vouch_by", None)  # the system clock's; not the RTC's or the simulator's
        if config.sync.enabled and vouch_by is not None:
            # Without an RTC or a kernel-synchronised clock, a recent NTP check by seed-sync within the
            # bound is what makes a punch's time trusted ("ntp") rather than "unsynced".
            from sync_agent.status import clock_trusted

            settings = config.hardware.clock
            vouch_by(lambda: clock_trusted(store, max_age_s=max(3600.0, 3 * settings.check_interval_s),
                                           max_offset_s=settings.max_offset_s))
        for device, reason in hardware.problems.items():
            log.error("%s is missing: %s", device, reason)
            store.record_event("hardware_missing", {"device": device, "reason": reason}, severity="error")
        return cls(config, store, hardware)

    def on_outcome(self, listener: Callable[[Outcome], None]) -> None:
        self.auth.listeners.append(listener)

    # -- workers ---------------------------------------------------------------------------
    def _card_step(self, stop: threading.Event) -> None:
        reader = self.hardware.card_reader
        card = reader.read(timeout=0.5) if reader is not None else None
        if card:
            self.auth.card(card)
        self.auth.expire()

    def _housekeeping_step(self, stop: threading.Event) -> None:
        """Requests the sync agent leaves in the database, and the hardware health it publishes
        (every ``HEALTH_EVERY_S``, and at once when the camera goes or comes back)."""
        self.carry_out_door_request()
        camera_now = self._camera_health()
        if time.monotonic() - self._health_written > HEALTH_EVERY_S or camera_now != self._camera_written:
            self.store.set_setting("hardware.status", self.hardware_status())
            self._camera_written = camera_now
            self._health_written = time.monotonic()
        stop.wait(1.0)

    def _camera_health(self) -> str | None:
        camera = self.hardware.camera
        health = getattr(camera, "health", None)
        try:
            return str(health()) if callable(health) else None
        except Exception as exc:
            return f"error: {exc}"

    def camera_gone(self) -> dict | None:
        """None while the camera delivers (or there is none); else ``{"reason", "since" (UTC stamp), "attempts",
        "face_stopped", "at_start"}`` from the face worker (which reads it) or the camera itself (``at_start``:
        missing since the terminal started)."""
        face = self.face_worker
        if face is not None:
            status = face.camera_status()
            if status["ok"]:
                return None
            return {key: status.get(key) for key in ("reason", "since", "attempts", "face_stopped", "at_start")}
        from terminal.hardware.camera import ReopeningCamera

        camera = self.hardware.camera
        if isinstance(camera, ReopeningCamera):
            state = camera.state()
            if not state.ok:
                return {"reason": state.reason, "since": state.gone_at, "attempts": state.attempts, "face_stopped": True,
                        "at_start": state.at_start}
        return None

    def hardware_status(self) -> dict:
        """What ``hardware.status`` holds (published by the sync agent): each device's health and, while the
        camera is gone, ``camera_gone_since`` (UTC stamp; an optional key older readers ignore)."""
        health: dict = dict(hardware_health(self.hardware))
        gone = self.camera_gone()
        if gone is not None:
            if health.get("camera", "ok") == "ok":  # a camera that cannot say it (not a ReopeningCamera)
                health["camera"] = f"gone since {gone['since']}: {gone['reason']}"
            health["camera_gone_since"] = gone["since"]
        return health

    def status_line(self) -> str:
        """The one-line state systemd shows (``STATUS=``): Chinese, then English."""
        face = self.face_worker
        if face is not None and not face.face_ok():
            since = face.camera_gone_at or "?"
            if face.camera_at_start:
                return (f"人脸识别已停止：开机时未找到摄像头（自 {since}），等待连接 "
                        f"Face recognition stopped: camera not found at start-up (since {since}), waiting for it")
            return f"人脸识别已停止：摄像头自 {since} 断开 Face recognition stopped: camera gone since {since}"
        return self._running_line()

    def _running_line(self) -> str:
        inputs = ", ".join(w.name for w in self.workers if w.name != "housekeeping") or "-"
        return f"运行中 Running ({inputs})"

    def _notify_status(self) -> None:
        """Send ``STATUS=`` when the state changes (nothing while the terminal runs as it started)."""
        line = self.status_line()
        if line != (self._status_line if self._status_line is not None else self._running_line()):
            notify(f"STATUS={line}")
        self._status_line = line

    def carry_out_door_request(self) -> bool:
        """Pulse the relay for a signed ``open_door`` command (left as ``door.open_request``), once per id."""
        request = self.store.get_setting(OPEN_REQUEST_KEY)
        if not isinstance(request, dict) or not request.get("id"):
            return False
        if self.store.get_setting(OPEN_DONE_KEY) == request["id"]:
            return False
        outputs = self.hardware.outputs
        seconds = request.get("seconds")
        with self.store.transaction() as conn:
            self.store.set_setting(OPEN_DONE_KEY, request["id"], conn=conn)
            self.store.audit("central", "door.open", {"request": request["id"], "seconds": seconds,
                                                      "carried_out": outputs is not None}, conn=conn)
        if outputs is None:
            log.error("open-door request %s: no door relay on this terminal", request["id"])
            return False
        outputs.open_door(float(seconds) if seconds else None)
        log.info("door opened by central request %s", request["id"])
        return True

    def worker(self, name: str) -> Worker | None:
        """The worker called ``name`` ("face", "fingerprint", "card-reader", "housekeeping"), or None."""
        return next((w for w in self.workers if w.name == name), None)

    def start(self) -> None:
        for worker in self.workers:
            worker.start()
        notify("READY=1")
        log.info("terminal %s started with %s", self.config.device.id, ", ".join(w.name for w in self.workers) or "no inputs")

    def healthy(self) -> bool:
        return all(w.healthy() for w in self.workers)

    def serve(self, until: threading.Event | None = None) -> None:
        """Block, feeding the systemd watchdog while every worker is alive, until stopped."""
        interval = watchdog_interval_s() or 5.0
        until = until or self._stopped
        while not until.wait(interval):
            self._notify_status()
            if self.healthy():
                notify("WATCHDOG=1")
            else:
                dead = [w.name for w in self.workers if not w.healthy()]
                log.error("workers not running: %s; withholding the watchdog", ", ".join(dead))

    def stop(self) -> None:
        self._stopped.set()
        for worker in reversed(self.workers):
            try:
                worker.stop()
            except Exception:
                log.exception("stopping %s", worker.name)

    def close(self) -> None:
        self.stop()
        self.hardware.close()
        self.store.close()

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
