"""Admin screens: login, menu, device status and settings."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from terminal.hardware.camera import MISSING_AT_START
from terminal.i18n import t
from terminal.ui.formatting import health_text, megabytes_text, offset_text, stamp_text
from terminal.ui.screens.base import KioskScreen

log = logging.getLogger(__name__)


class AdminLoginScreen(KioskScreen):
    has_preview = True
    route = StringProperty("admin")
    guidance = StringProperty("")


class AdminMenuScreen(KioskScreen):
    route = StringProperty("paused")


# -- device status --------------------------------------------------------------------------------
class StatusRow(BoxLayout):
    label = StringProperty("")
    value = StringProperty("")
    bad = BooleanProperty(False)
    key = StringProperty("")


def status_rows(status: dict, lang: str, zone: str) -> list[tuple[str, str, str, bool]]:
    """(key, label, value, bad) for each line of the status screen, from ``terminal.status.device_status``."""
    rows: list[tuple[str, str, str, bool]] = []
    rows.append(("device", t("status.device", lang), f"{status.get('device_id', '')} · {status.get('site', '')}", False))
    network = status.get("network") or {}
    addresses = ", ".join(a for a in network.get("addresses", []) if ":" not in a) or t("status.unknown", lang)
    rows.append(("network", t("status.network", lang), f"{network.get('hostname', '')} {addresses}".strip(), not network.get("addresses")))
    broker = status.get("broker") or {}
    connected = bool(broker.get("connected"))
    state = t("status.connected" if connected else "status.disconnected", lang)
    rows.append(("broker", t("status.broker", lang), f"{state} · {broker.get('host', '')}:{broker.get('port', '')}",
                 not connected))
    rows.append(("last_sync", t("status.last_sync", lang), stamp_text(broker.get("last_ack_at"), zone, lang),
                 broker.get("last_ack_at") is None))
    queue = status.get("queue") or {}
    waiting = int(queue.get("punches") or 0)
    rows.append(("queue", t("status.queue", lang), str(waiting), False))
    clock = status.get("clock") or {}
    rows.append(("clock", t("status.clock", lang), offset_text(clock.get("offset_s"), lang),
                 clock.get("offset_s") is not None and abs(float(clock["offset_s"])) > 2.0))
    source = clock.get("source")
    rows.append(("clock_source", t("status.clock_source", lang), source or t("status.unknown", lang),
                 source in (None, "unsynced")))
    storage = status.get("storage") or {}
    if "error" in storage:
        rows.append(("storage", t("status.storage", lang), storage["error"], True))
    else:
        free = storage.get("free_mb")
        rows.append(("storage", t("status.storage", lang),
                     f"{megabytes_text(free)} / {megabytes_text(storage.get('total_mb'))}",
                     free is not None and float(free) < 200))
    for name in ("camera", "fingerprint", "card_reader", "outputs", "speaker"):
        value = (status.get("hardware") or {}).get(name)
        if value is None:
            continue
        gone = status.get("camera_gone") if name == "camera" else None
        if gone:
            since, reason = stamp_text(gone.get("since"), zone, lang), gone.get("reason") or ""
            if gone.get("at_start"):  # missing since boot: waited for, not "reconnecting"
                text = t("status.camera_missing", lang, since=since, reason=reason.removeprefix(MISSING_AT_START).strip())
            else:
                text = t("status.camera_gone", lang, since=since, reason=reason)
            if gone.get("face_stopped"):
                text = f"{t('status.camera_gone_face', lang)} · {text}"
            rows.append((name, t(f"status.{name}", lang), text, True))
            continue
        rows.append((name, t(f"status.{name}", lang), health_text(value, lang), value not in ("ok", "disabled")))
    rows.append(("version", t("status.version", lang), str(status.get("version", "")), False))
    return rows


class StatusScreen(KioskScreen):
    route = StringProperty("paused")
    loading = BooleanProperty(False)

    def on_pre_enter(self, *_: Any) -> None:
        self.status: dict | None = None
        self._show_rows([("loading", t("status.loading", self.app.lang), "", False)])
        self.refresh()

    def refresh(self) -> None:
        self.loading = True
        self.app.load_status(self._loaded)

    def _loaded(self, status: dict) -> None:
        self.loading = False
        self.status = status
        self.on_language()

    def on_language(self) -> None:
        status = getattr(self, "status", None)
        if status:
            self._show_rows(status_rows(status, self.app.lang, self.app.tconfig.device.timezone))

    def _show_rows(self, rows: list[tuple[str, str, str, bool]]) -> None:
        box = self.ids.rows
        box.clear_widgets()
        for key, label, value, bad in rows:
            box.add_widget(StatusRow(key=key, label=label, value=value, bad=bad))

    def row(self, key: str) -> StatusRow | None:
        for child in self.ids.rows.children:
            if child.key == key:
                return child
        return None


# -- settings ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Adjustable:
    """A setting the admin may change on the device, within bounds safer than the configuration's."""

    path: str  # dotted path in the configuration
    label_key: str
    low: float
    high: float
    step: float
    digits: int = 0

    def clamp(self, value: float) -> float:
        value = min(self.high, max(self.low, value))
        return round(value, self.digits) if self.digits else int(round(value))

    def text(self, value: Any) -> str:
        return f"{float(value):.{self.digits}f}" if self.digits else str(int(value))


ADJUSTABLE = (
    Adjustable("hardware.speaker.volume", "settings.volume", 0, 100, 10),
    Adjustable("face.match_threshold", "settings.match_threshold", 0.40, 0.60, 0.01, digits=2),
    Adjustable("punch.debounce_s", "settings.debounce_s", 10, 600, 10),
    Adjustable("ui.result_s", "settings.result_s", 1.0, 10.0, 0.5, digits=1),
    Adjustable("ui.screensaver_s", "settings.screensaver_s", 30, 3600, 30),
)
ADJUSTABLE_BY_PATH = {a.path: a for a in ADJUSTABLE}


def get_path(config: Any, path: str) -> Any:
    target = config
    for part in path.split("."):
        target = getattr(target, part)
    return target


class SettingRow(BoxLayout):
    key = StringProperty("")
    label = StringProperty("")
    value_text = StringProperty("")
    kind = StringProperty("number")
    value = NumericProperty(0)

    def __init__(self, adjustable: Adjustable, on_change: Callable[[Adjustable, float], None], **kwargs: Any):
        self.adjustable = adjustable
        self.on_change = on_change
        super().__init__(key=adjustable.path, **kwargs)

    def step(self, direction: int) -> None:
        new = self.adjustable.clamp(self.value + direction * self.adjustable.step)
        if new != self.value:
            self.on_change(self.adjustable, new)


class SettingsScreen(KioskScreen):
    route = StringProperty("paused")
    message = StringProperty("")

    def on_pre_enter(self, *_: Any) -> None:
        self.message = ""
        box = self.ids.rows
        box.clear_widgets()
        self.rows: dict[str, SettingRow] = {}
        for adjustable in ADJUSTABLE:
            row = SettingRow(adjustable, self.change)
            self.rows[adjustable.path] = row
            box.add_widget(row)
        self.on_language()

    def on_language(self) -> None:
        lang = self.app.lang
        for path, row in getattr(self, "rows", {}).items():
            adjustable = row.adjustable
            row.label = t(adjustable.label_key, lang)
            row.value = get_path(self.app.tconfig, path)
            row.value_text = adjustable.text(row.value)

    def change(self, adjustable: Adjustable, value: float) -> None:
        self.app.change_setting(adjustable.path, value, self._changed)
        self.on_language()  # the live value changed at once; saving follows in the background

    def set_language(self, lang: str) -> None:
        if lang != self.app.lang:
            self.app.change_setting("device.language", lang, self._changed)

    def _changed(self, path: str, ok: bool, detail: str) -> None:
        lang = self.app.lang
        label = t(ADJUSTABLE_BY_PATH[path].label_key, lang) if path in ADJUSTABLE_BY_PATH else t("settings.language", lang)
        self.message = t("settings.saved", lang, name=label) if ok else t("settings.refused", lang, reason=detail)
        self.on_language()
