"""The kiosk's admin mode: the session, employees, status, settings and enrolment (a mixin of the kiosk app).

An administrator who identified at the door (``Outcome(reason="admin")``) works on
the admin screens until they leave or ``ui.admin_timeout_s`` passes without a touch;
meanwhile the door judges no faces. Everything here runs on Kivy's main thread and
hands database work to the app's :class:`~terminal.ui.tasks.UiTasks`. Imported by
:mod:`terminal.ui.kiosk`, i.e. only after Kivy has been configured.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from terminal.fingerprint_service import queue_purge
from terminal.status import device_status
from terminal.store.employees import delete_employee, find_by_number, list_employees
from terminal.ui.fingerflow import run_finger_enrolment
from terminal.ui.photos import load_photo
from terminal.ui.screens.admin import ADJUSTABLE_BY_PATH, get_path
from terminal.ui.tasks import UiTasks, on_main_thread

if TYPE_CHECKING:
    from terminal.config import TerminalConfig
    from terminal.fingerprint_service import FingerprintWorker
    from terminal.runtime import Terminal
    from terminal.ui.voice import VoiceWarmup

log = logging.getLogger(__name__)

SETTINGS_KEY = "ui.settings"  # the settings changed on the device, applied again at every start


class AdminMode:
    """Admin mode of :class:`~terminal.ui.kiosk.SeedKiosk`, which provides what is declared here."""

    terminal: Terminal
    tconfig: TerminalConfig
    tasks: UiTasks
    screens: dict[str, Any]
    finger_worker: FingerprintWorker | None
    voice: VoiceWarmup
    admin: dict | None
    admin_name: str
    admin_timeout_s: float
    lang: str
    _finger_cancel: threading.Event | None

    if TYPE_CHECKING:
        def go(self, name: str) -> None: ...

        def activity(self) -> None: ...

        def feed_pause(self, paused: bool) -> None: ...

        def toast(self, text: str, seconds: float = 3.0) -> None: ...

        def tr(self, key: str, lang: str | None = None, **params: Any) -> str: ...

    # -- the session ----------------------------------------------------------------------------
    @property
    def admin_actor(self) -> str:
        return str(self.admin["number"]) if self.admin else "admin"

    def enter_admin(self, employee: dict) -> None:
        self.admin = employee
        self.admin_name = employee.get("name", "")
        self.admin_timeout_s = self.tconfig.ui.admin_timeout_s
        self.activity()
        self.feed_pause(True)  # the door does not judge faces while an admin works at it
        log.info("admin mode: %s", employee.get("number"))
        self.go("admin_menu")

    def leave_admin(self, reason: str = "exit") -> None:
        if self.admin is None:
            return
        actor = self.admin_actor
        self.admin = None
        self.admin_name = ""
        self.cancel_finger_enrolment()
        self.feed_pause(False)
        self.tasks.submit(self.terminal.store.audit, actor, "admin.logout", {"reason": reason})
        log.info("admin mode ended (%s)", reason)
        self.go("idle")
        if reason == "timeout":
            self.toast(self.tr("admin.timed_out"))

    def admin_open(self, name: str, target: str | None = None, employee: dict | None = None) -> None:
        if self.admin is None:
            self.go("idle")
            return
        self.activity()
        if name == "enrol_pick":
            if target is None:
                raise ValueError("enrol_pick needs the enrolment screen to open (target)")
            then = target
            pad = self.screens["pinpad"]
            pad.begin("number", on_number=lambda number: self._picked(number, then), title_key="enrol.choose")
            self.go("pinpad")
            return
        if name in ("enrol_face", "enrol_finger"):
            self.screens[name].begin(employee)
        if name in ("status", "settings", "employees"):
            self.audit("admin.view", {"screen": name})
        self.go(name)

    def _picked(self, number: str, target: str) -> None:
        def found(employee: dict | None) -> None:
            if employee is None:
                self.screens["pinpad"].number_refused(self.tr("enrol.not_found", number=number))
                return
            self.admin_open(target, employee=employee)

        self.tasks.submit(find_by_number, self.terminal.store, number, on_done=found)

    def audit(self, action: str, details: dict) -> None:
        self.tasks.submit(self.terminal.store.audit, self.admin_actor, action, details)

    def admin_did(self, action: str, details: dict) -> None:
        log.info("admin %s: %s %s", self.admin_actor, action, details)

    # -- what the admin screens ask for ------------------------------------------------------------
    def load_status(self, callback: Callable[[dict], None]) -> None:
        def collect() -> dict:
            status = device_status(self.terminal.store, self.tconfig, self.terminal.hardware)
            hardware = status.setdefault("hardware", {})
            gone = self.terminal.camera_gone()  # the camera reopens itself; meanwhile: since when and why
            if gone is not None:
                status["camera_gone"] = gone
                hardware["camera"] = f"gone since {gone['since']}: {gone['reason']}"
            if self.finger_worker is not None:
                hardware["fingerprint"] = self.finger_worker.health()
            return status

        self.tasks.submit(collect, on_done=callback)

    def find_employees(self, query: str, limit: int, callback: Callable[[str, list], None]) -> None:
        self.tasks.submit(list_employees, self.terminal.store, query or None, limit,
                          on_done=lambda rows: callback(query, rows))

    def open_employee(self, number: str) -> None:
        store = self.terminal.store

        def gather() -> tuple | None:
            employee = find_by_number(store, number)
            if employee is None:
                return None
            faces = (store.query_one("SELECT count(*) AS n FROM face_templates WHERE employee_id = ?", (employee["id"],))
                     or {"n": 0})["n"]
            fingers = (store.query_one("SELECT count(*) AS n FROM finger_templates WHERE employee_id = ?", (employee["id"],))
                       or {"n": 0})["n"]
            store.audit(self.admin_actor, "employee.view", {"number": number})
            return employee, load_photo(store, employee["id"]), faces, fingers

        def show(found: tuple | None) -> None:
            if found is None or self.admin is None:
                return
            self.screens["employee"].show(*found)
            self.go("employee")

        self.tasks.submit(gather, on_done=show)

    def delete_employee(self, employee: dict, callback: Callable[[bool, str], None]) -> None:
        store = self.terminal.store

        def remove() -> dict:
            deleted = delete_employee(store, employee["number"], actor=self.admin_actor)
            positions = deleted.get("sensor_positions") or []
            if positions:
                queue_purge(store, positions)  # the sensor worker clears them on the sensor
            return deleted

        self.tasks.submit(remove, on_done=lambda _d: callback(True, ""), on_error=lambda e: callback(False, str(e)))

    # -- settings ----------------------------------------------------------------------------------
    def change_setting(self, path: str, value: Any, callback: Callable[[str, bool, str], None]) -> None:
        self.activity()
        old = get_path(self.tconfig, path)
        try:
            self._apply_setting(path, value)
        except ValueError as exc:
            callback(path, False, str(exc).splitlines()[0])
            return
        store, actor = self.terminal.store, self.admin_actor

        def persist() -> None:
            saved = dict(store.get_setting(SETTINGS_KEY, {}) or {})
            saved[path] = value
            with store.transaction() as conn:
                store.set_setting(SETTINGS_KEY, saved, conn=conn)
                store.audit(actor, "settings.change", {"setting": path, "old": old, "new": value}, conn=conn)
            self._settings_side_effects(path, value)

        self.tasks.submit(persist, on_done=lambda _r: callback(path, True, ""),
                          on_error=lambda e: callback(path, False, str(e)))

    def _apply_setting(self, path: str, value: Any) -> None:
        """Set one value on the live configuration (main thread); ValueError when out of bounds."""
        if path == "device.language":
            if value not in ("zh", "en"):
                raise ValueError(f"unknown language {value!r}")
        elif path in ADJUSTABLE_BY_PATH:
            adjustable = ADJUSTABLE_BY_PATH[path]
            if not adjustable.low <= float(value) <= adjustable.high:
                raise ValueError(f"{path} must be between {adjustable.low} and {adjustable.high}")
        else:
            raise ValueError(f"{path} cannot be changed on the device")
        section_path, _, field = path.rpartition(".")
        section = get_path(self.tconfig, section_path)
        try:
            setattr(section, field, value)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"]) from None
        if path == "device.language":
            self.lang = value
            for screen in self.screens.values():
                screen.on_language()
        elif path == "face.match_threshold":
            face = self.terminal.face_worker
            if face is not None:
                face.recognizer.gallery.threshold = float(value)
        elif path == "ui.admin_timeout_s":
            self.admin_timeout_s = value

    def _settings_side_effects(self, path: str, value: Any) -> None:
        """Slow consequences of a change (worker thread): speech at a new volume or language."""
        speaker = self.terminal.hardware.speaker
        if speaker is None:
            return
        set_volume = getattr(speaker, "set_volume", None)  # the real speaker's and the simulator's
        if path == "hardware.speaker.volume" and set_volume is not None:
            set_volume(int(value))
        elif path == "device.language":
            self.voice.warm()

    def _apply_saved_settings(self, saved: dict) -> None:
        for path, value in (saved or {}).items():
            try:
                self._apply_setting(path, value)
            except ValueError as exc:
                log.warning("saved setting %s ignored: %s", path, exc)
        for screen in self.screens.values():
            screen.on_language()
        if saved:
            threading.Thread(target=self._settings_side_effects, args=("hardware.speaker.volume",
                             self.tconfig.hardware.speaker.volume), daemon=True).start()

    # -- fingerprint enrolment -------------------------------------------------------------------
    def fingerprint_available(self) -> bool:
        return self.terminal.hardware.fingerprint is not None

    def enrol_finger(self, employee: dict, progress: Callable[..., None], finished: Callable[..., None]) -> None:
        cancel = threading.Event()
        self._finger_cancel = cancel
        threading.Thread(target=run_finger_enrolment, name="seed-enrol-finger", daemon=True,
                         args=(self, employee, cancel,
                               lambda *a: on_main_thread(progress, *a),
                               lambda *a: on_main_thread(finished, *a))).start()

    def cancel_finger_enrolment(self) -> None:
        if self._finger_cancel is not None:
            self._finger_cancel.set()
            self._finger_cancel = None

