"""The kiosk app: screens on top of a running :class:`~terminal.runtime.Terminal`.

``run_kiosk(terminal)`` is what ``seed-terminal`` runs with a screen. The app never
decides a punch: the terminal's workers (card reader, fingerprint sensor, camera)
and the PIN pad hand factors to the :class:`~terminal.identify.Authenticator`; its
outcomes, and the face pipeline's refusals, arrive here from those worker threads
and are put on screen on Kivy's main thread. Anything that can wait (the database,
PIN hashing, a sensor, speech) runs in :class:`~terminal.ui.tasks.UiTasks`, so the
clock keeps ticking whatever a device does.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from terminal.ui.photos import load_photo

log = logging.getLogger(__name__)

KV_PATH = Path(__file__).with_name("kiosk.kv")
TICK_S = 0.2
PREVIEW_INTERVAL_S = 1 / 20
VOICE_REFRESH_S = 30.0  # employees added by roster sync or seed-enroll get their greeting rendered ahead
PAD_TIMEOUT_S = 30.0  # a PIN pad or admin login left alone goes back to idle
SETTINGS_KEY = "ui.settings"
EMPLOYEE_SCREENS = ("idle", "result", "refusal", "pinpad", "second", "admin_login")


# -- start-up ---------------------------------------------------------------------------------
def bootstrap(config: Any, *, offscreen: bool = False, size: tuple[int, int] | None = None,
              kivy_home: Path | None = None) -> Any:
    """Prepare Kivy for this configuration (before any Kivy import); returns the font chosen."""
    from terminal.ui.env import configure_window, prepare_kivy
    from terminal.ui.fonts import find_cjk_font, register_default_font

    prepare_kivy(offscreen=offscreen, kivy_home=kivy_home)
    width, height = size or (config.ui.width, config.ui.height)
    configure_window(width, height, fullscreen=config.ui.fullscreen and not offscreen, rotation=config.ui.rotation)
    if offscreen:
        from kivy.config import Config

        Config.set("graphics", "maxfps", "0")  # tests and screenshots pump frames as fast as they can
    font = find_cjk_font(config.ui.font)
    register_default_font(font)
    return font


def find_worker(terminal: Any, name: str) -> Any:
    return next((w for w in getattr(terminal, "workers", []) if getattr(w, "name", None) == name), None)


def ensure_input_workers(terminal: Any) -> None:
    """Add the face and fingerprint workers the terminal does not run yet (call before ``terminal.start()``)."""
    config = terminal.config
    hardware = terminal.hardware
    if find_worker(terminal, "face") is None and config.face.enabled and getattr(hardware, "camera", None) is not None:
        try:
            from terminal.vision.door import FaceWorker

            terminal.add_worker(FaceWorker.for_terminal(terminal))
        except Exception:
            log.exception("face recognition could not start; the door still takes cards, fingers and PINs")
    if find_worker(terminal, "fingerprint") is None and getattr(hardware, "fingerprint", None) is not None:
        try:
            from terminal.fingerprint_service import FingerprintWorker

            worker = FingerprintWorker.for_terminal(terminal)
            if worker is not None:
                terminal.add_worker(worker)
        except Exception:
            log.exception("the fingerprint sensor could not start")


# -- the app ---------------------------------------------------------------------------------------
def _kivy_app_class() -> type:
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.lang import Builder
    from kivy.properties import BooleanProperty, NumericProperty, StringProperty
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.screenmanager import NoTransition, ScreenManager

    from terminal.i18n import t
    from terminal.ui import theme
    from terminal.ui.facefeed import FaceFeed
    from terminal.ui.routing import FactorRouting
    from terminal.ui.screens.admin import ADJUSTABLE_BY_PATH, AdminLoginScreen, AdminMenuScreen, SettingsScreen, StatusScreen, get_path
    from terminal.ui.screens.employee import IdleScreen, PinPadScreen, RefusalScreen, ResultScreen, SecondFactorScreen
    from terminal.ui.screens.enrol import EnrolFaceScreen, EnrolFingerScreen
    from terminal.ui.screens.people import EmployeeScreen, EmployeesScreen
    from terminal.ui.tasks import UiTasks, on_main_thread
    from terminal.ui.widgets import Dimmer, Toast

    if not getattr(Builder, "_seed_kiosk_loaded", False):
        Builder.load_file(str(KV_PATH))
        Builder._seed_kiosk_loaded = True

    screens = (("idle", IdleScreen), ("result", ResultScreen), ("refusal", RefusalScreen), ("pinpad", PinPadScreen),
               ("second", SecondFactorScreen), ("admin_login", AdminLoginScreen), ("admin_menu", AdminMenuScreen),
               ("enrol_face", EnrolFaceScreen), ("enrol_finger", EnrolFingerScreen), ("employees", EmployeesScreen),
               ("employee", EmployeeScreen), ("status", StatusScreen), ("settings", SettingsScreen))

    class KioskRoot(FloatLayout):
        """Screens, the screensaver veil and the toast; every touch counts as activity."""

        def on_touch_down(self, touch: Any) -> bool:
            app = App.get_running_app()
            if app is not None and app.touched():
                return True  # the touch only woke the screen
            return super().on_touch_down(touch)

    class SeedKiosk(App):
        title = "Seed"
        u = NumericProperty(1.0)  # size scale: 1 on a 800x480 screen
        lang = StringProperty("zh")
        landscape = BooleanProperty(True)
        admin_name = StringProperty("")
        admin_timeout_s = NumericProperty(120)
        screen_name = StringProperty("idle")
        dimmed = BooleanProperty(False)

        def __init__(self, terminal: Any, *, feed: FaceFeed | None = None,
                     monotonic: Callable[[], float] = time.monotonic, **kwargs: Any):
            super().__init__(**kwargs)
            self.terminal = terminal
            self.tconfig = terminal.config
            self.monotonic = monotonic
            self.tasks = UiTasks()
            self.routing = FactorRouting(terminal.auth, terminal.punches)
            face_worker = find_worker(terminal, "face")
            camera = getattr(terminal.hardware, "camera", None)
            self.feed = feed or FaceFeed(face_worker, camera if face_worker is None else None)
            self.finger_worker = find_worker(terminal, "fingerprint")
            self.lang = self.tconfig.device.language
            self.admin_timeout_s = self.tconfig.ui.admin_timeout_s
            self.admin: dict | None = None
            self.last_activity = monotonic()
            self.result_until: float | None = None
            self.second_deadline: float | None = None
            self.shown_seq = 0
            self.outcomes: list[Any] = []  # every outcome shown, newest last (status screen, tests)
            self._face_frames_seen = 0
            self._watchdog_at = 0.0
            self._events: list[Any] = []
            self._finger_cancel: threading.Event | None = None
            self._started = False

        # -- Kivy App ------------------------------------------------------------------------------
        def get_application_config(self, defaultpath: str = "") -> str:
            import os

            return os.path.join(os.environ.get("KIVY_HOME", "/tmp"), "seed-kiosk.ini")

        def build_config(self, config: Any) -> None:
            pass

        def build(self) -> Any:
            root = KioskRoot()
            self.manager = ScreenManager(transition=NoTransition())
            self.screens: dict[str, Any] = {}
            for name, cls in screens:
                screen = cls(name=name)
                self.screens[name] = screen
                self.manager.add_widget(screen)
            root.add_widget(self.manager)
            self.dimmer = Dimmer(size_hint=(1, 1), pos_hint={"x": 0, "y": 0})
            root.add_widget(self.dimmer)
            self.toast_label = Toast(size_hint=(0.7, None), height=48, pos_hint={"center_x": 0.5, "y": 0.03})
            root.add_widget(self.toast_label)
            return root

        def on_start(self) -> None:
            Window.show_cursor = False
            Window.bind(size=self._window_resized)
            self._window_resized(Window, Window.size)
            self.routing.install()
            self.terminal.on_outcome(self._outcome_from_worker)
            self.feed.attach()
            self.feed.decision_listeners.append(self._decision_from_worker)
            self.toast_label.height = 48 * self.u
            self._events = [Clock.schedule_interval(self.tick, TICK_S),
                            Clock.schedule_interval(self.update_preview, PREVIEW_INTERVAL_S)]
            self.tasks.submit(self.terminal.store.get_setting, SETTINGS_KEY, {}, on_done=self._apply_saved_settings)
            self._events.append(Clock.schedule_interval(self._refresh_voice, VOICE_REFRESH_S))
            self._refresh_voice(0)
            self.go("idle")
            self.tick(0)
            self._started = True
            log.info("kiosk started (%dx%d, %s)", Window.width, Window.height, self.lang)

        def on_stop(self) -> None:
            for event in self._events:
                event.cancel()
            self._events = []
            if self._finger_cancel is not None:
                self._finger_cancel.set()
            for screen in self.screens.values():
                run = getattr(screen, "run", None)
                if run is not None:
                    run.stop_event.set()
            try:
                self.terminal.auth.listeners.remove(self._outcome_from_worker)
            except ValueError:
                pass
            if self._decision_from_worker in self.feed.decision_listeners:
                self.feed.decision_listeners.remove(self._decision_from_worker)
            self.feed.resume()
            self.feed.detach()
            self.routing.uninstall()
            self.tasks.shutdown()
            Window.unbind(size=self._window_resized)

        def _window_resized(self, _window: Any, size: tuple[int, int]) -> None:
            width, height = size
            self.u = min(width, height) / theme.REFERENCE_SHORT_SIDE
            self.landscape = width >= height

        # -- texts ---------------------------------------------------------------------------------
        def tr(self, key: str, lang: str | None = None, **params: Any) -> str:
            return t(key, lang or self.lang, **params)

        def idle_hint(self) -> str:
            if self.tconfig.punch.direction_mode == "buttons":
                return self.tr("idle.choose_direction")
            if self.feed.worker is None:
                return self.tr("idle.use_card_or_pin")
            if self.feed.camera_error:
                return self.tr("idle.camera_off")
            return self.tr("idle.look_at_camera")

        # -- navigation ----------------------------------------------------------------------------
        @property
        def current(self) -> Any:
            return self.screens[self.manager.current]

        def go(self, name: str) -> None:
            screen = self.screens[name]
            if name not in ("result", "refusal"):
                self.result_until = None
            if name != "second":
                self.second_deadline = None
            if self.manager.current == name:
                screen.dispatch("on_pre_enter")
            self.manager.current = name
            self.screen_name = name
            self.routing.route = screen.route
            if name == "idle" and self.admin is None:
                self.feed_pause(False)
            self.shown_seq = 0

        def go_idle(self, *_: Any) -> None:
            if self.admin is not None:
                self.go("admin_menu")
                return
            self.go("idle")

        def open_pinpad(self, mode: str, number: str | None = None) -> None:
            self.screens["pinpad"].begin(mode, number)
            self.go("pinpad")

        def open_admin_login(self) -> None:
            self.go("admin_login")

        def pad_cancelled(self, mode: str) -> None:
            if mode == "number":
                self.admin_open("admin_menu")
            elif mode == "second" or (mode == "admin" and self.terminal.auth.waiting_for):
                self.cancel_second_factor()
            else:
                self.go_idle()

        def toast(self, text: str, seconds: float = 3.0) -> None:
            self.toast_label.text = text
            self.toast_label.shown = True
            Clock.unschedule(self._hide_toast)
            Clock.schedule_once(self._hide_toast, seconds)

        def _hide_toast(self, *_: Any) -> None:
            self.toast_label.shown = False

        # -- activity, screensaver, timeouts --------------------------------------------------------
        def activity(self) -> None:
            self.last_activity = self.monotonic()
            if self.dimmed:
                self.wake()

        def touched(self) -> bool:
            """A touch anywhere; True when it only woke the screensaver."""
            was_dimmed = self.dimmed
            self.activity()
            return was_dimmed

        def dim(self) -> None:
            from kivy.animation import Animation

            self.dimmed = True
            Animation.cancel_all(self.dimmer)
            Animation(level=self.tconfig.ui.screensaver_dim, duration=0.8).start(self.dimmer)
            log.info("screensaver on")

        def wake(self) -> None:
            from kivy.animation import Animation

            self.dimmed = False
            Animation.cancel_all(self.dimmer)
            self.dimmer.level = 0.0
            log.info("screensaver off")

        def tick(self, _dt: float) -> None:
            now = self.monotonic()
            self._update_clock(now)
            if self.feed.face_frames != self._face_frames_seen:
                self._face_frames_seen = self.feed.face_frames
                if self.screen_name in ("idle", "admin_login", "enrol_face"):
                    self.activity()  # someone is in front of the camera
            name = self.screen_name
            if name == "idle":
                self.screens["idle"].on_language()  # hint, camera and IN/OUT buttons follow the configuration
            if self.result_until is not None and now >= self.result_until:
                self.result_until = None
                self.go_idle()
            elif name == "second" and self.second_deadline is not None:
                self.screens["second"].seconds_left = self.second_deadline - now
                if now >= self.second_deadline:
                    self.second_deadline = None
                    self.tasks.submit(self.terminal.auth.expire, on_done=self._second_factor_expired)
            if self.admin is not None:
                if now - self.last_activity >= self.tconfig.ui.admin_timeout_s and name not in ("result", "refusal"):
                    self.leave_admin("timeout")
            elif name in ("pinpad", "admin_login", "second") and now - self.last_activity >= PAD_TIMEOUT_S:
                if name == "second" or self.terminal.auth.waiting_for:
                    self.tasks.submit(self.terminal.auth.cancel)
                self.go("idle")
            if self.admin is None and name == "idle" and not self.dimmed \
                    and now - self.last_activity >= self.tconfig.ui.screensaver_s:
                self.dim()
            self._feed_watchdog(now)

        def _update_clock(self, now: float) -> None:
            from terminal.ui.formatting import clock_text, date_text

            clock = getattr(self.terminal.hardware, "clock", None)
            try:
                wall = clock.now().wall if clock is not None else None
            except Exception:
                wall = None
            if wall is None:
                from datetime import datetime, timezone

                wall = datetime.now(timezone.utc)
            zone = self.tconfig.device.timezone
            idle = self.screens["idle"]
            idle.clock = clock_text(wall, zone)
            idle.date = date_text(wall, zone, self.lang)
            if self.dimmed:
                self.dimmer.clock_text = clock_text(wall, zone, seconds=False)
                self.dimmer.hint_text = self.tr("saver.wake")
                minute = int(now // 60)
                self.dimmer.drift = [0.3 + 0.4 * ((minute * 37) % 100) / 100, 0.3 + 0.4 * ((minute * 61) % 100) / 100]

        def _feed_watchdog(self, now: float) -> None:
            from terminal.service_notify import notify, watchdog_interval_s

            interval = watchdog_interval_s()
            if not interval or now - self._watchdog_at < interval / 2:
                return
            self._watchdog_at = now
            if self.terminal.healthy():
                notify("WATCHDOG=1")  # the UI loop is alive and every worker runs
            else:
                log.error("a worker is not running; withholding the watchdog")

        # -- camera preview ------------------------------------------------------------------------
        def update_preview(self, _dt: float) -> None:
            screen = self.current
            if not screen.has_preview or self.dimmed:
                return
            frame = self.feed.latest()
            if frame is None or frame.seq == self.shown_seq:
                return
            self.shown_seq = frame.seq
            preview = screen.ids.preview
            if screen.name == "enrol_face":
                preview.show(frame.image, preview.faces, preview.primary)  # boxes come from the enrolment checks
                return
            preview.show(frame.image, frame.faces, frame.primary)
            guidance = self.tr(f"guide.{frame.guidance}") if frame.guidance else ""
            if hasattr(screen, "guidance"):
                screen.guidance = guidance

        def feed_pause(self, paused: bool) -> None:
            if paused:
                self.feed.pause()
            elif self.feed.paused:
                self.feed.resume()

        # -- outcomes (from worker threads) ---------------------------------------------------------
        def _outcome_from_worker(self, outcome: Any) -> None:
            photo = None
            if outcome.status == "punched" and outcome.employee:
                try:
                    photo = load_photo(self.terminal.store, outcome.employee["id"])
                except Exception:
                    log.exception("could not load the photo of employee %s", outcome.employee.get("number"))
            on_main_thread(self.show_outcome, outcome, photo)

        def _decision_from_worker(self, decision: Any) -> None:
            if not decision.accepted:
                on_main_thread(self.show_face_refusal, decision)

        def show_outcome(self, outcome: Any, photo: Any = None) -> None:
            self.activity()
            self.outcomes.append(outcome)
            del self.outcomes[:-50]
            if outcome.status == "identified" and outcome.reason == "admin":
                self.enter_admin(outcome.employee)
                return
            if self.admin is not None:
                log.info("outcome %s during admin mode not shown", outcome.status)
                return
            if outcome.status == "punched":
                self.screens["result"].show(outcome, photo)
                self.screens["idle"].direction = ""
                self.go("result")
                self.result_until = self.monotonic() + self.tconfig.ui.result_s
            elif outcome.status == "need_more":
                purpose = "admin" if self.routing.route == "admin" or self.screen_name == "admin_login" else "punch"
                self.screens["second"].show(outcome, purpose)
                self.go("second")
                self.second_deadline = self.monotonic() + self.tconfig.punch.second_factor_timeout_s
                self.screens["second"].seconds_left = self.tconfig.punch.second_factor_timeout_s
            elif outcome.status == "refused":
                self.show_refusal(outcome.reason, outcome.employee, outcome.details, outcome.message)

        def show_refusal(self, reason: str, employee: dict | None = None, details: dict | None = None,
                         message: str = "", fallback: bool = False) -> None:
            self.screens["refusal"].show(reason, employee, details, message, fallback)
            self.go("refusal")
            self.result_until = self.monotonic() + self.tconfig.ui.result_s

        def show_face_refusal(self, decision: Any) -> None:
            self.activity()
            if self.admin is not None or self.screen_name not in ("idle", "admin_login", "result", "refusal"):
                return
            self.outcomes.append(decision)
            key = decision.refusal_key or "not_recognised"
            self.show_refusal(key, fallback=bool(getattr(decision, "offer_fallback", False)))

        # -- employee actions -----------------------------------------------------------------------
        def submit_pin(self, number: str, pin: str, purpose: str | None) -> None:
            auth = self.terminal.auth
            self.activity()
            if purpose:
                self.tasks.submit(auth.pin, number, pin, purpose=purpose, on_error=self._pin_failed)
            else:
                self.tasks.submit(auth.pin, number, pin, on_error=self._pin_failed)

        def _pin_failed(self, error: BaseException) -> None:
            self.show_refusal("storage_error", message=str(error))

        def _second_factor_expired(self, outcome: Any) -> None:
            if outcome is not None:
                return  # the authenticator refused with "timed out"; its listener shows it
            # the screen's time ran out first (it started later): drop the wait and say so
            employee = self.screens["second"].employee

            def drop() -> None:
                self.terminal.auth.cancel()
                self.terminal.feedback.refusal("second_factor_timeout")

            self.tasks.submit(drop)
            if self.screen_name == "second":
                self.show_refusal("second_factor_timeout", employee)

        def cancel_second_factor(self) -> None:
            self.tasks.submit(self.terminal.auth.cancel)
            self.go("idle")

        # -- admin mode ----------------------------------------------------------------------------
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
                pad = self.screens["pinpad"]
                pad.begin("number", on_number=lambda number: self._picked(number, target), title_key="enrol.choose")
                self.go("pinpad")
                return
            if name in ("enrol_face", "enrol_finger"):
                self.screens[name].begin(employee)
            if name in ("status", "settings", "employees"):
                self.audit("admin.view", {"screen": name})
            self.go(name)

        def _picked(self, number: str, target: str) -> None:
            from terminal.store.employees import find_by_number

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

        def load_status(self, callback: Callable[[dict], None]) -> None:
            from terminal.status import device_status

            def collect() -> dict:
                status = device_status(self.terminal.store, self.tconfig, self.terminal.hardware)
                hardware = status.setdefault("hardware", {})
                face = find_worker(self.terminal, "face")
                if face is not None and getattr(face, "camera_error", None):
                    hardware["camera"] = f"error: {face.camera_error}"
                if self.finger_worker is not None:
                    hardware["fingerprint"] = self.finger_worker.health()
                return status

            self.tasks.submit(collect, on_done=callback)

        def find_employees(self, query: str, limit: int, callback: Callable[[str, list], None]) -> None:
            from terminal.store.employees import list_employees

            self.tasks.submit(list_employees, self.terminal.store, query or None, limit,
                              on_done=lambda rows: callback(query, rows))

        def open_employee(self, number: str) -> None:
            from terminal.store.employees import find_by_number

            store = self.terminal.store

            def gather() -> tuple | None:
                employee = find_by_number(store, number)
                if employee is None:
                    return None
                faces = store.query_one("SELECT count(*) AS n FROM face_templates WHERE employee_id = ?", (employee["id"],))["n"]
                fingers = store.query_one("SELECT count(*) AS n FROM finger_templates WHERE employee_id = ?", (employee["id"],))["n"]
                store.audit(self.admin_actor, "employee.view", {"number": number})
                return employee, load_photo(store, employee["id"]), faces, fingers

            def show(found: tuple | None) -> None:
                if found is None or self.admin is None:
                    return
                self.screens["employee"].show(*found)
                self.go("employee")

            self.tasks.submit(gather, on_done=show)

        def delete_employee(self, employee: dict, callback: Callable[[bool, str], None]) -> None:
            from terminal.store.employees import delete_employee

            store = self.terminal.store

            def remove() -> dict:
                deleted = delete_employee(store, employee["number"], actor=self.admin_actor)
                positions = deleted.get("sensor_positions") or []
                if positions:
                    from terminal.fingerprint_service import queue_purge

                    queue_purge(store, positions)  # the sensor worker clears them on the sensor
                return deleted

            self.tasks.submit(remove, on_done=lambda _d: callback(True, ""), on_error=lambda e: callback(False, str(e)))

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
            from pydantic import ValidationError

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
                face = find_worker(self.terminal, "face")
                if face is not None:
                    face.recognizer.gallery.threshold = float(value)
            elif path == "ui.admin_timeout_s":
                self.admin_timeout_s = value

        def _settings_side_effects(self, path: str, value: Any) -> None:
            """Slow consequences of a change (worker thread): speech at a new volume or language."""
            speaker = getattr(self.terminal.hardware, "speaker", None)
            if speaker is None:
                return
            if path == "hardware.speaker.volume" and hasattr(speaker, "set_volume"):
                speaker.set_volume(int(value))
            elif path == "device.language":
                self._warm_voice()

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

        def _refresh_voice(self, _dt: float) -> None:
            """Start a voice warm-up in the background unless one is still running (main thread)."""
            running = getattr(self, "_voice_thread", None)
            if running is not None and running.is_alive():
                return
            self._voice_thread = threading.Thread(target=self._warm_voice, name="seed-voice-warmup", daemon=True)
            self._voice_thread.start()

        def _warm_voice(self) -> None:
            """Render every employee's greeting once, so a name is heard as soon as the punch is decided.

            Runs at start, on a language change and every VOICE_REFRESH_S; it renders only when the
            language or the active employees' names changed since the last pass.
            """
            from terminal.hardware.factory import fixed_phrases
            from terminal.store.employees import list_employees

            speaker = getattr(self.terminal.hardware, "speaker", None)
            if speaker is None or not hasattr(speaker, "prerender"):
                return
            lang = self.tconfig.device.language
            try:
                staff = [(e["number"], e["name"]) for e in list_employees(self.terminal.store) if e["active"]]
                signature = (lang, tuple(staff))
                if signature == getattr(self, "_voice_signature", None):
                    return
                phrases = {key: text for key, text in fixed_phrases(lang).items() if key.startswith(("refuse.", "hint."))}
                for number, name in staff:
                    for key in ("punch.in", "punch.out", "refuse.already_recorded"):
                        phrases[f"{key}:{number}"] = t(key, lang, name=name)
                speaker.prerender(phrases, lang)
                self._voice_signature = signature
                log.info("voice: greetings ready for %d employees", len(staff))
            except Exception as exc:
                log.warning("voice warm-up stopped: %s", exc)

        # -- fingerprint enrolment -------------------------------------------------------------------
        def fingerprint_available(self) -> bool:
            return getattr(self.terminal.hardware, "fingerprint", None) is not None

        def enrol_finger(self, employee: dict, progress: Callable[..., None], finished: Callable[..., None]) -> None:
            from terminal.ui.fingerflow import run_finger_enrolment

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

    return SeedKiosk


_APP_CLASS: type | None = None


def kiosk_app_class() -> type:
    """The Kivy App class (built on first use, after :func:`bootstrap` has prepared Kivy)."""
    global _APP_CLASS
    if _APP_CLASS is None:
        _APP_CLASS = _kivy_app_class()
    return _APP_CLASS


def create_app(terminal: Any, **kwargs: Any) -> Any:
    return kiosk_app_class()(terminal, **kwargs)


def stop_on_signals(app: Any) -> None:
    """SIGTERM (systemd stopping the service) and SIGINT close the app from its own main loop."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return

    def close(signum: int, _frame: Any) -> None:
        from kivy.clock import Clock

        log.info("signal %s: closing the kiosk", signum)
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    signal.signal(signal.SIGTERM, close)
    signal.signal(signal.SIGINT, close)


def run_kiosk(terminal: Any, *, offscreen: bool = False) -> None:
    """Run the kiosk full screen on top of ``terminal`` until the window closes or the service is stopped.

    Adds the face and fingerprint workers the terminal lacks, starts the terminal's workers
    and stops them when the app ends (closing the terminal stays with the caller).
    """
    bootstrap(terminal.config, offscreen=offscreen)
    ensure_input_workers(terminal)
    app = create_app(terminal)
    stop_on_signals(app)
    terminal.start()
    try:
        app.run()
    finally:
        terminal.stop()
