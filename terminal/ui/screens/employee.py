"""The screens every employee meets: idle, result, refusal, PIN pad and the second-factor prompt."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from terminal.i18n import t
from terminal.ui import theme
from terminal.ui.formatting import clock_text, factors_text, method_text, parse_stamp
from terminal.ui.screens.base import KioskScreen

log = logging.getLogger(__name__)

NUMBER_MAX = 32
PIN_MAX = 8
PIN_DOT = "●"


def initials(name: str) -> str:
    name = (name or "").strip()
    if not name:
        return "?"
    if any("\u3400" <= ch <= "\u9fff" for ch in name):
        return name[-2:] if len(name) >= 2 else name  # Chinese given name
    return "".join(part[0] for part in name.split()[:2]).upper()


class IdleScreen(KioskScreen):
    has_preview = True
    company = StringProperty("")
    door = StringProperty("")
    clock = StringProperty("")
    date = StringProperty("")
    guidance = StringProperty("")
    hint = StringProperty("")
    direction_buttons = BooleanProperty(False)
    direction = StringProperty("")  # "", "in" or "out" (buttons mode)
    show_preview = BooleanProperty(True)

    def on_pre_enter(self, *_: Any) -> None:
        self.on_language()

    def on_language(self) -> None:
        app = self.app
        self.company = app.tconfig.device.company_name
        self.door = app.tconfig.device.name
        self.direction_buttons = app.tconfig.punch.direction_mode == "buttons"
        self.show_preview = app.feed.worker is not None
        self.hint = app.idle_hint()

    def choose_direction(self, direction: str) -> None:
        self.direction = "" if self.direction == direction else direction
        self.app.routing.direction = self.direction or None

    def show_card_hint(self) -> None:
        self.app.toast(self.app.tr("idle.card_hint"))


class ResultScreen(KioskScreen):
    """Green: who, number, time, IN or OUT, the enrolled photo."""

    person_name = StringProperty("")
    number_text = StringProperty("")
    direction_text = StringProperty("")
    time_text = StringProperty("")
    message = StringProperty("")
    initials = StringProperty("")
    direction = StringProperty("")
    employee_number = StringProperty("")

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.bg = list(theme.SUCCESS)
        self._punch: dict = {}

    def show(self, outcome: Any, photo: np.ndarray | None) -> None:
        app = self.app
        employee = outcome.employee or {}
        punch = outcome.punch.punch if outcome.punch is not None else {}
        self.person_name = employee.get("name", "")
        self.employee_number = str(employee.get("number", ""))
        self.initials = initials(self.person_name)
        self.direction = punch.get("direction", "")
        self.message = outcome.message
        self._punch = punch
        stamp = parse_stamp(punch.get("punched_at"))
        self.time_text = clock_text(stamp, app.tconfig.device.timezone, seconds=False) if stamp else ""
        self.ids.photo.set_image(photo)
        self.on_language()

    def on_language(self) -> None:
        lang = self.app.lang
        self.number_text = t("result.number", lang, number=self.employee_number)
        if self.direction:
            self.direction_text = t(f"direction.{self.direction}", lang)
        method = getattr(self, "_punch", {}).get("method")
        if method and not self.message:
            self.message = t("result.by", lang, method=method_text(method, lang))


REFUSAL_COLOURS = {"already_recorded": theme.WARNING}


class RefusalScreen(KioskScreen):
    """Red: the reason in large type and what to do next."""

    reason = StringProperty("")
    reason_text = StringProperty("")
    next_text = StringProperty("")
    who_text = StringProperty("")

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.bg = list(theme.REFUSAL)
        self._employee: dict = {}
        self._details: dict = {}
        self._message = ""
        self._fallback = False

    def show(self, reason: str, employee: dict | None = None, details: dict | None = None,
             message: str = "", fallback: bool = False) -> None:
        self.reason = reason
        self._employee = employee or {}
        self._details = details or {}
        self._message = message
        self._fallback = fallback
        self.bg = list(REFUSAL_COLOURS.get(reason, theme.REFUSAL))
        self.on_language()

    def on_language(self) -> None:
        if not self.reason:
            return
        lang = self.app.lang
        employee = getattr(self, "_employee", {})
        name = employee.get("name", "")
        reason = self.reason
        self.reason_text = t(f"refuse.{reason}", lang, name=name) if f"refuse.{reason}" in _TEXTS() else (
            self._message or t("next.default", lang))
        nxt = t(f"next.{reason}", lang) if f"next.{reason}" in _TEXTS() else t("next.default", lang)
        if reason in ("inactive", "storage_full", "storage_error"):
            nxt = t("hint.call_admin", lang)
        left = getattr(self, "_details", {}).get("attempts_left")
        if left is not None:
            nxt = f"{nxt}  ({t('next.attempts_left', lang, n=left)})"
        if getattr(self, "_fallback", False):
            nxt = t("idle.fallback", lang)
        self.next_text = nxt
        self.who_text = f"{name} · {employee.get('number', '')}" if name else ""


def _TEXTS() -> dict:
    from terminal.i18n import TEXTS

    return TEXTS


class PinPadScreen(KioskScreen):
    """Employee number, then PIN; or only the PIN when the person is already known; or only a number."""

    title = StringProperty("")
    subtitle = StringProperty("")
    display = StringProperty("")
    status = StringProperty("")
    mode = StringProperty("punch")  # punch | admin | second | number
    step = StringProperty("number")  # number | pin | busy

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.number = ""
        self.pin = ""
        self.on_number: Any = None
        self.title_key = ""

    def begin(self, mode: str, number: str | None = None, on_number: Any = None, title_key: str = "") -> None:
        self.mode = mode
        self.route = "admin" if mode == "admin" else ("paused" if mode == "number" else "punch")
        self.number = number or ""
        self.pin = ""
        self.on_number = on_number
        self.title_key = title_key
        self.status = ""
        self.step = "pin" if number else "number"
        self.on_language()

    def on_language(self) -> None:
        lang = self.app.lang
        if self.mode == "number":
            self.title = t(self.title_key or "pin.enter_number", lang)
            self.subtitle = ""
        elif self.step == "number":
            self.title = t("pin.enter_number", lang)
            self.subtitle = t("admin.login_title", lang) if self.mode == "admin" else ""
        else:
            self.title = t("pin.enter_pin", lang)
            self.subtitle = t("pin.for", lang, number=self.number)
        self._refresh_display()

    def _refresh_display(self) -> None:
        self.display = PIN_DOT * len(self.pin) if self.step == "pin" else self.number

    def key(self, key: str) -> None:
        if self.step == "busy":
            return
        self.status = ""
        if key == "del":
            if self.step == "pin":
                self.pin = self.pin[:-1]
            else:
                self.number = self.number[:-1]
        elif key == "ok":
            self._ok()
            return
        elif key.isdigit():
            if self.step == "pin" and len(self.pin) < PIN_MAX:
                self.pin += key
            elif self.step == "number" and len(self.number) < NUMBER_MAX:
                self.number += key
        self._refresh_display()

    def _ok(self) -> None:
        if self.step == "number":
            if not self.number:
                return
            if self.mode == "number":
                self.step = "busy"
                self.status = t("pin.checking", self.app.lang)
                self.on_number(self.number)
                return
            self.step = "pin"
            self.on_language()
            return
        if len(self.pin) < 4:
            return
        number, pin = self.number, self.pin
        self.pin = ""
        self.step = "busy"
        self.status = t("pin.checking", self.app.lang)
        self._refresh_display()
        self.app.submit_pin(number, pin, "admin" if self.mode == "admin" or self.route == "admin" else None)

    def number_refused(self, message: str) -> None:
        """``number`` mode: the number was not accepted; let the admin correct it."""
        self.step = "number"
        self.status = message
        self._refresh_display()

    def cancel(self) -> None:
        self.app.pad_cancelled(self.mode)


class SecondFactorScreen(KioskScreen):
    title = StringProperty("")
    need_text = StringProperty("")
    time_text = StringProperty("")
    pin_needed = BooleanProperty(False)
    seconds_left = NumericProperty(0)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.bg = list(theme.PANEL)
        self.purpose = "punch"
        self.employee: dict = {}
        self.missing: tuple[str, ...] = ()

    def show(self, outcome: Any, purpose: str) -> None:
        self.route = "admin" if purpose == "admin" else "punch"
        self.purpose = purpose
        self.employee = outcome.employee or {}
        self.missing = tuple(outcome.missing)
        self.pin_needed = "pin" in self.missing
        self.on_language()

    def on_seconds_left(self, *_: Any) -> None:
        self.time_text = t("second.time_left", self.app.lang, s=int(max(0, self.seconds_left) + 0.999))

    def on_language(self) -> None:
        lang = self.app.lang
        self.title = t("second.title", lang, name=self.employee.get("name", ""))
        self.need_text = t("second.need", lang, factors=factors_text(self.missing, lang))
        self.on_seconds_left()

    def enter_pin(self) -> None:
        self.app.open_pinpad("admin" if self.purpose == "admin" else "second", number=self.employee.get("number"))

    def cancel(self) -> None:
        self.app.cancel_second_factor()
