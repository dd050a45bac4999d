"""Admin enrolment screens: a face from the live camera, a finger on the sensor."""
from __future__ import annotations

import logging
import threading
from typing import Any

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from terminal.i18n import TEXTS, t
from terminal.ui.photos import face_photo
from terminal.ui.screens.base import KioskScreen
from terminal.ui.tasks import on_main_thread

log = logging.getLogger(__name__)

FACE_MIN_SHOTS = 3
FACE_TARGET_SHOTS = 5
FRAME_WAIT_S = 1.0
QUIET_REASONS = {"too_similar"}  # not worth telling the admin: the next frame is taken soon


def reason_text(code: str | None, lang: str) -> str:
    key = f"enrol.reason.{code}"
    return t(key, lang) if key in TEXTS else str(code or "")


class FaceEnrolmentRun(threading.Thread):
    """Feeds camera frames to an enrolment session until it is complete, then saves it."""

    def __init__(self, screen: EnrolFaceScreen, app: Any, employee: dict):
        super().__init__(name="seed-enrol-face", daemon=True)
        self.screen = screen
        self.app = app
        self.employee = employee
        self.stop_event = threading.Event()

    def run(self) -> None:
        from enrollment.faces import EnrolmentError, EnrolmentSession, FaceEnroller, save_enrolment

        feed, config, store = self.app.feed, self.app.tconfig, self.app.terminal.store
        try:
            enroller = FaceEnroller(backend=config.face.descriptor_backend)
        except Exception as exc:
            log.exception("face enrolment could not start")
            on_main_thread(self.screen.failed, str(exc))
            return
        try:
            session = EnrolmentSession(enroller, min_shots=FACE_MIN_SHOTS, max_shots=FACE_TARGET_SHOTS)
            best_photo: bytes | None = None
            best_quality = -1.0
            seq = 0
            while not self.stop_event.is_set() and not session.complete:
                try:
                    frame = feed.next_frame(seq, FRAME_WAIT_S)
                except Exception as exc:  # the camera went away
                    on_main_thread(self.screen.failed, str(exc))
                    self.stop_event.wait(FRAME_WAIT_S)
                    continue
                if frame is None:
                    continue
                seq = frame.seq
                shot = session.offer_frame(frame.image, frame.t)
                if shot.ok and shot.quality > best_quality:
                    best_quality, best_photo = shot.quality, face_photo(frame.image, shot.box) or best_photo
                box = (shot.box.x, shot.box.y, shot.box.w, shot.box.h) if shot.box is not None else None
                on_main_thread(self.screen.shot_checked, shot.ok, shot.reason, len(session.shots), box)
            if self.stop_event.is_set():
                return
            actor = self.app.admin_actor
            try:
                ids = save_enrolment(store, self.employee["id"], session, replace=True,
                                     threshold=config.face.match_threshold, margin=config.face.match_margin,
                                     source="camera", actor=actor)
            except EnrolmentError as exc:
                on_main_thread(self.screen.failed, str(exc), getattr(exc, "other", None))
                return
            if best_photo is not None:
                from terminal.store.employees import update_employee

                update_employee(store, self.employee["number"], photo=best_photo, actor=actor)
            on_main_thread(self.screen.saved, len(ids))
        except Exception as exc:
            log.exception("face enrolment failed")
            on_main_thread(self.screen.failed, str(exc))
        finally:
            enroller.close()


class EnrolFaceScreen(KioskScreen):
    has_preview = True
    route = StringProperty("paused")
    title = StringProperty("")
    hint = StringProperty("")
    rejected = StringProperty("")
    accepted = NumericProperty(0)
    target = NumericProperty(FACE_TARGET_SHOTS)
    done = BooleanProperty(False)
    last_reason = StringProperty("")

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.employee: dict = {}
        self._result: tuple | None = None
        self.run: FaceEnrolmentRun | None = None

    def begin(self, employee: dict) -> None:
        self.employee = employee
        self.accepted = 0
        self.done = False
        self.last_reason = ""
        self.rejected = ""
        self._result = None
        self.app.feed_pause(True)
        self.on_language()
        self._start_run()

    def _start_run(self) -> None:
        self._stop_run()
        self.run = FaceEnrolmentRun(self, self.app, self.employee)
        self.run.start()

    def _stop_run(self) -> None:
        run = getattr(self, "run", None)
        if run is not None:
            run.stop_event.set()
            self.run = None

    def on_language(self) -> None:
        if self.app is None:
            return
        lang = self.app.lang
        self.title = t("enrol.face_title", lang, name=self.employee.get("name", ""))
        if self._result is not None:
            kind, value = self._result
            self.hint = t("enrol.face_saved", lang, n=value) if kind == "saved" else t("enrol.failed", lang, reason=value)
        else:
            self.hint = t("enrol.face_hint", lang)
        self.rejected = t("enrol.rejected", lang, reason=reason_text(self.last_reason, lang)) if self.last_reason else ""

    def shot_checked(self, ok: bool, reason: str | None, accepted: int, box: tuple | None) -> None:
        if getattr(self, "run", None) is None:
            return
        self.app.activity()
        self.accepted = accepted
        preview = self.ids.preview
        if box is not None:
            preview.faces = [box]
            preview.primary = box if ok else None
            preview._redraw()
        if not ok and reason not in QUIET_REASONS:
            self.last_reason = reason or ""
        elif ok:
            self.last_reason = ""
        self.on_language()

    def saved(self, count: int) -> None:
        self.done = True
        self._result = ("saved", count)
        self.run = None
        self.on_language()
        self.app.toast(self.hint)
        self.app.admin_did("enrol_face", {"number": self.employee.get("number"), "templates": count})

    def failed(self, reason: str, other: Any = None) -> None:
        self._result = ("failed", f"{t('enrol.reason.duplicate', self.app.lang, number=other)}" if other else reason)
        self.on_language()

    def restart(self) -> None:
        self.begin(self.employee)

    def leave(self) -> None:
        self._stop_run()
        self.app.admin_open("admin_menu")

    def on_leave(self, *_: Any) -> None:
        self._stop_run()


class EnrolFingerScreen(KioskScreen):
    """Press, lift, press again: each step shows what the sensor answered."""

    route = StringProperty("paused")
    title = StringProperty("")
    step_text = StringProperty("")
    sensor_text = StringProperty("")
    step_index = NumericProperty(0)  # 0 not started, 1 place, 2 lift, 3 again, 4 done
    running = BooleanProperty(False)
    done = BooleanProperty(False)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.employee: dict = {}
        self._sensor: tuple[str, dict] = ("", {})
        self._step_key = "enrol.finger_place"
        self._final: tuple[str, dict] | None = None
        self.position: int | None = None

    def begin(self, employee: dict) -> None:
        self.employee = employee
        self.step_index = 0
        self.running = False
        self.done = False
        self._sensor = ("", {})
        self._step_key = "enrol.finger_place"
        self._final = None
        self.on_language()
        if not self.app.fingerprint_available():
            self._final = ("enrol.no_sensor", {})
            self.on_language()

    def on_language(self) -> None:
        if self.app is None:
            return
        lang = self.app.lang
        self.title = t("enrol.finger_title", lang, name=self.employee.get("name", ""))
        if self._final is not None:
            key, params = self._final
            self.step_text = t(key, lang, **params)
        else:
            self.step_text = t(self._step_key, lang)
        answer_key, params = self._sensor
        self.sensor_text = t("enrol.sensor_said", lang, answer=t(answer_key, lang, **params)) if answer_key else ""

    def start(self) -> None:
        if self.running or not self.app.fingerprint_available():
            return
        self.running = True
        self._final = None
        self.step_index = 1
        self._step_key = "enrol.finger_place"
        self.on_language()
        self.app.enrol_finger(self.employee, self.progress, self.finished)

    def progress(self, index: int | None, step_key: str | None, answer: str, params: dict | None = None) -> None:
        """A step of the enrolment: which of the three steps, what to do now, and what the sensor answered (i18n keys)."""
        self.app.activity()
        if index is not None:
            self.step_index = index
        if step_key is not None:
            self._step_key = step_key
        self._sensor = (answer, params or {})
        self.on_language()

    def finished(self, ok: bool, position: int | None, reason_key: str, params: dict | None = None) -> None:
        self.running = False
        if ok:
            self.step_index = 4
            self.done = True
            self.position = position
            self._final = ("enrol.finger_saved", {"position": position})
            self.app.admin_did("enrol_finger", {"number": self.employee.get("number"), "sensor_position": position})
        else:
            self.step_index = 0
            key = reason_key if reason_key in TEXTS else "enrol.failed"
            self._final = (key, dict(params or {}, reason=(params or {}).get("reason", reason_key)))
        self.on_language()

    def leave(self) -> None:
        self.app.cancel_finger_enrolment()
        self.app.admin_open("admin_menu")
