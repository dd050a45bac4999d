"""The running terminal: hardware, store, punch path and the workers that feed it.

The same object runs under the Kivy kiosk and headless (``seed-terminal --headless``).
Each input (card reader, fingerprint sensor, camera) has its own worker thread, so a
sensor that hangs never blocks another way in; workers hand factors to the
:class:`~terminal.identify.Authenticator` and nothing else.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from terminal.config import TerminalConfig
from terminal.feedback import DoorFeedback
from terminal.identify import Authenticator, Outcome
from terminal.punch import PunchService
from terminal.service_notify import notify, watchdog_interval_s
from terminal.status import hardware_health
from terminal.store.database import Store, open_store

log = logging.getLogger(__name__)

OPEN_REQUEST_KEY = "door.open_request"  # written by the sync agent for a signed open_door command
OPEN_DONE_KEY = "door.open_done"
HEALTH_EVERY_S = 30.0


class Worker(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def healthy(self) -> bool: ...


class LoopWorker:
    """A daemon thread running ``step()`` until stopped; exceptions are logged and counted, never fatal."""

    def __init__(self, name: str, step: Callable[[threading.Event], None], backoff_s: float = 1.0):
        self.name = name
        self._step = step
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff_s = backoff_s
        self.errors = 0
        self.last_error: str | None = None
        self.last_beat = time.monotonic()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"seed-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = self._backoff_s
        while not self._stop.is_set():
            self.last_beat = time.monotonic()
            try:
                self._step(self._stop)
                delay = self._backoff_s
            except Exception as exc:
                self.errors += 1
                self.last_error = str(exc)
                log.error("%s worker: %s (retrying in %.1f s)", self.name, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def healthy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class Terminal:
    """Everything one door terminal runs, wired together. A context manager."""

    def __init__(self, config: TerminalConfig, store: Store, hardware: Any):
        self.config = config
        self.store = store
        self.hardware = hardware
        self.feedback = DoorFeedback(config, getattr(hardware, "outputs", None), getattr(hardware, "speaker", None))
        self.punches = PunchService(store, config, hardware.clock, self.feedback)
        self.auth = Authenticator(store, config, self.punches, hardware.clock, self.feedback)
        self.workers: list[Any] = []
        self._stopped = threading.Event()
        if getattr(hardware, "card_reader", None) is not None:
            self.workers.append(LoopWorker("card-reader", self._card_step))
        from terminal.fingerprint_service import FingerprintWorker

        self.fingerprint_worker = FingerprintWorker.for_terminal(self)  # None without a sensor
        if self.fingerprint_worker is not None:
            self.workers.append(self.fingerprint_worker)
        self.workers.append(LoopWorker("housekeeping", self._housekeeping_step))
        self._health_written = 0.0

    @classmethod
    def open(cls, config: TerminalConfig) -> Terminal:
        from terminal.hardware.factory import build_hardware

        store = open_store(config.storage)
        try:
            hardware = build_hardware(config, config.storage.data_dir)
        except BaseException:
            store.close()
            raise
        clock = getattr(hardware, "clock", None)
        if config.sync.enabled and hasattr(clock, "vouch_by"):
            # Without an RTC or a kernel-synchronised clock, a recent NTP check by seed-sync within the
            # bound is what makes a punch's time trusted ("ntp") rather than "unsynced".
            from sync_agent.status import clock_trusted

            settings = config.hardware.clock
            clock.vouch_by(lambda: clock_trusted(store, max_age_s=max(3600.0, 3 * settings.check_interval_s),
                                                 max_offset_s=settings.max_offset_s))
        for device, reason in (getattr(hardware, "problems", {}) or {}).items():
            log.error("%s is missing: %s", device, reason)
            store.record_event("hardware_missing", {"device": device, "reason": reason}, severity="error")
        return cls(config, store, hardware)

    def add_worker(self, worker: Any) -> None:
        self.workers.append(worker)

    def on_outcome(self, listener: Callable[[Outcome], None]) -> None:
        self.auth.listeners.append(listener)

    # -- workers ---------------------------------------------------------------------------
    def _card_step(self, stop: threading.Event) -> None:
        card = self.hardware.card_reader.read(timeout=0.5)
        if card:
            self.auth.card(card)
        self.auth.expire()

    def _housekeeping_step(self, stop: threading.Event) -> None:
        """Requests the sync agent leaves in the database, and the hardware health it publishes."""
        self.carry_out_door_request()
        if time.monotonic() - self._health_written > HEALTH_EVERY_S:
            self.store.set_setting("hardware.status", hardware_health(self.hardware))
            self._health_written = time.monotonic()
        stop.wait(1.0)

    def carry_out_door_request(self) -> bool:
        """Pulse the relay for a signed ``open_door`` command (left as ``door.open_request``), once per id."""
        request = self.store.get_setting(OPEN_REQUEST_KEY)
        if not isinstance(request, dict) or not request.get("id"):
            return False
        if self.store.get_setting(OPEN_DONE_KEY) == request["id"]:
            return False
        outputs = getattr(self.hardware, "outputs", None)
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

    def worker(self, name: str) -> Any:
        return next((w for w in self.workers if getattr(w, "name", None) == name), None)

    def _add_face_worker(self) -> None:
        """The camera thread, when face recognition is on and a camera is present (models load here)."""
        if self.worker("face") is not None or not self.config.face.enabled:
            return
        if getattr(self.hardware, "camera", None) is None:
            return
        try:
            from terminal.vision.door import FaceWorker

            self.workers.insert(0, FaceWorker.for_terminal(self))
        except Exception:
            log.exception("face recognition could not start; cards, fingers and PINs still work")
            self.store.record_event("face_unavailable", {}, severity="error")

    def start(self) -> None:
        self._add_face_worker()
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
                log.exception("stopping %s", getattr(worker, "name", worker))

    def close(self) -> None:
        self.stop()
        close = getattr(self.hardware, "close", None)
        if close:
            close()
        self.store.close()

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
