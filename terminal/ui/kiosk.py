"""The kiosk app: :class:`SeedKiosk`, the screens on top of a running :class:`~terminal.runtime.Terminal`.

Import this module only after :func:`terminal.ui.app.bootstrap` has configured Kivy
(window, fonts, offscreen drawing): it imports Kivy at the top, and Kivy reads its
configuration once, when it is first imported. :func:`terminal.ui.app.kiosk_app_class`
imports it lazily for that reason; importing it also loads the kiosk's ``.kv`` rules
(:mod:`terminal.ui.kv_rules`).

The app never decides a punch: the terminal's workers (card reader, fingerprint
sensor, camera) and the PIN pad hand factors to the
:class:`~terminal.identify.Authenticator`; its outcomes, and the face pipeline's
refusals, arrive here from those worker threads and are put on screen on Kivy's main
thread. Anything that can wait (the database, PIN hashing, a sensor, speech) runs in
:class:`~terminal.ui.tasks.UiTasks`, so the clock keeps ticking whatever a device does.
The admin screens' side of the app lives in :class:`~terminal.ui.admin_mode.AdminMode`.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
from kivy.animation import Animation
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from terminal.i18n import t
from terminal.service_notify import notify, watchdog_interval_s
from terminal.ui import theme, voice
from terminal.ui.admin_mode import SETTINGS_KEY, AdminMode
from terminal.ui.facefeed import FaceFeed
from terminal.ui.formatting import clock_text, date_text
from terminal.ui.kv_rules import load_kv_rules
from terminal.ui.photos import load_photo
from terminal.ui.routing import FactorRouting
from terminal.ui.screens.admin import AdminLoginScreen, AdminMenuScreen, SettingsScreen, StatusScreen
from terminal.ui.screens.employee import IdleScreen, PinPadScreen, RefusalScreen, ResultScreen, SecondFactorScreen
from terminal.ui.screens.enrol import EnrolFaceScreen, EnrolFingerScreen
from terminal.ui.screens.people import EmployeeScreen, EmployeesScreen
from terminal.ui.tasks import UiTasks, on_main_thread
from terminal.ui.voice import VoiceWarmup
from terminal.ui.widgets import Dimmer, Toast

if TYPE_CHECKING:
    from terminal.identify import Outcome
    from terminal.runtime import Terminal
    from terminal.vision.recognizer import Decision

log = logging.getLogger(__name__)

TICK_S = 0.2
PREVIEW_INTERVAL_S = 1 / 20
PAD_TIMEOUT_S = 30.0  # a PIN pad or admin login left alone goes back to idle
SCREENS = (("idle", IdleScreen), ("result", ResultScreen), ("refusal", RefusalScreen), ("pinpad", PinPadScreen),
           ("second", SecondFactorScreen), ("admin_login", AdminLoginScreen), ("admin_menu", AdminMenuScreen),
           ("enrol_face", EnrolFaceScreen), ("enrol_finger", EnrolFingerScreen), ("employees", EmployeesScreen),
           ("employee", EmployeeScreen), ("status", StatusScreen), ("settings", SettingsScreen))

load_kv_rules()


class KioskRoot(FloatLayout):
    """Screens, the screensaver veil and the toast; every touch counts as activity."""

    def on_touch_down(self, touch: Any) -> bool:
        app = App.get_running_app()
        if app is not None and app.touched():
            return True  # the touch only woke the screen
        return super().on_touch_down(touch)


class SeedKiosk(AdminMode, App):  # Kivy has no type stubs: App is Any to mypy
    title = "Seed"
    u = NumericProperty(1.0)  # size scale: 1 on a 800x480 screen
    lang = StringProperty("zh")
    landscape = BooleanProperty(True)
    admin_name = StringProperty("")
    admin_timeout_s = NumericProperty(120)
    screen_name = StringProperty("idle")
    dimmed = BooleanProperty(False)

    def __init__(self, terminal: Terminal, *, feed: FaceFeed | None = None,
                 monotonic: Callable[[], float] = time.monotonic, **kwargs: Any):
        super().__init__(**kwargs)
        self.terminal = terminal
        self.tconfig = terminal.config
        self.monotonic = monotonic
        self.tasks = UiTasks()
        self.routing = FactorRouting(terminal.auth, terminal.punches)
        face_worker = terminal.face_worker
        self.feed = feed or FaceFeed(face_worker, terminal.hardware.camera if face_worker is None else None)
        self.finger_worker = terminal.fingerprint_worker
        self.voice = VoiceWarmup(terminal)
        self.lang = self.tconfig.device.language
        self.admin_timeout_s = self.tconfig.ui.admin_timeout_s
        self.admin: dict | None = None
        self.last_activity = monotonic()
        self.result_until: float | None = None
        self.second_deadline: float | None = None
        self.shown_seq = 0
        self._face_frames_seen = 0
        self._watchdog_at = 0.0
        self._events: list[Any] = []
        self._finger_cancel: threading.Event | None = None

    # -- Kivy App ------------------------------------------------------------------------------
    def get_application_config(self, defaultpath: str = "") -> str:
        return os.path.join(os.environ.get("KIVY_HOME", "/tmp"), "seed-kiosk.ini")

    def build_config(self, config: Any) -> None:
        pass

    def build(self) -> Any:
        root = KioskRoot()
        self.manager = ScreenManager(transition=NoTransition())
        self.screens: dict[str, Any] = {}
        for name, cls in SCREENS:
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
        self._events.append(Clock.schedule_interval(lambda _dt: self.voice.refresh(), voice.VOICE_REFRESH_S))
        self.voice.refresh()
        self.go("idle")
        self.tick(0)
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
        self.dimmed = True
        Animation.cancel_all(self.dimmer)
        Animation(level=self.tconfig.ui.screensaver_dim, duration=0.8).start(self.dimmer)
        log.info("screensaver on")

    def wake(self) -> None:
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
        try:
            wall = self.terminal.hardware.clock.now().wall
        except Exception:
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
    def _outcome_from_worker(self, outcome: Outcome) -> None:
        photo = None
        if outcome.status == "punched" and outcome.employee:
            try:
                photo = load_photo(self.terminal.store, outcome.employee["id"])
            except Exception:
                log.exception("could not load the photo of employee %s", outcome.employee.get("number"))
        on_main_thread(self.show_outcome, outcome, photo)

    def _decision_from_worker(self, decision: Decision) -> None:
        if not decision.accepted:
            on_main_thread(self.show_face_refusal, decision)

    def show_outcome(self, outcome: Outcome, photo: np.ndarray | None = None) -> None:
        self.activity()
        if outcome.status == "identified" and outcome.reason == "admin" and outcome.employee is not None:
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

    def show_face_refusal(self, decision: Decision) -> None:
        self.activity()
        if self.admin is not None or self.screen_name not in ("idle", "admin_login", "result", "refusal"):
            return
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

    def _second_factor_expired(self, outcome: Outcome | None) -> None:
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

