"""The punch path: identity → permission → debounce → direction → one transaction → feedback.

Every way of identifying an employee (face, finger, card, PIN and their combinations)
ends here; nothing else writes punches. The punch row, its outbox row and its audit
entry are written in one transaction, so a punch reported as recorded is also queued
for the central server, and a failed write leaves nothing behind.

A wall clock outside the plausible window (before this software was released, or decades
ahead: a Pi without RTC that booted at 1970, a bad manual set, a corrupt RTC) is never
trusted, whatever the clock says of its own source: the punch is stamped ``unsynced`` (the
sync agent re-stamps it from monotonic time once the clock is right) and a
``clock_implausible`` event is recorded once per boot. The employee is never turned away.
"""
from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from terminal.config import TerminalConfig
from terminal.hardware.clock import Clock, Timestamp, format_utc, parse_utc
from terminal.i18n import t
from terminal.ids import uuid7
from terminal.store.connection import Connection
from terminal.store.database import Store, utc_now
from terminal.store.employees import get_employee
from terminal.store.errors import StorageFullError, StoreError

log = logging.getLogger(__name__)

Direction = Literal["in", "out"]

# No genuine punch is older than this software (its first release) or this far ahead of it.
EARLIEST_PLAUSIBLE = datetime(2026, 1, 1, tzinfo=timezone.utc)
LATEST_PLAUSIBLE = datetime(2046, 1, 1, tzinfo=timezone.utc)


def plausible_wall_time(wall: datetime) -> bool:
    """Whether a wall-clock reading can be a real moment of this terminal's life."""
    return EARLIEST_PLAUSIBLE <= wall < LATEST_PLAUSIBLE


REFUSAL_REASONS = ("already_recorded", "not_allowed", "inactive", "unknown_employee", "storage_full", "storage_error")


@dataclass(frozen=True)
class Identity:
    """Who the terminal believes is at the door, and how it knows."""

    employee_id: int
    method: str
    score: float | None = None


@dataclass
class PunchResult:
    accepted: bool
    reason: str  # "recorded" or one of REFUSAL_REASONS
    employee: dict | None = None
    punch: dict | None = None
    previous_at: str | None = None
    message: str = ""
    details: dict = field(default_factory=dict)

    @property
    def direction(self) -> str | None:
        return self.punch["direction"] if self.punch else None


class Feedback(Protocol):
    def punch_result(self, result: PunchResult) -> None: ...


class PunchService:
    """Turns identities into punches. Thread-safe; listeners run in the caller's thread.

    ``listeners`` receive every :class:`PunchResult`; the kiosk schedules its screen
    update onto Kivy's main thread from there.
    """

    def __init__(self, store: Store, config: TerminalConfig, clock: Clock, feedback: Feedback | None = None):
        self.store = store
        self.config = config
        self.clock = clock
        self.feedback = feedback
        self.listeners: list[Callable[[PunchResult], None]] = []
        self._lock = threading.Lock()
        self._zone = ZoneInfo(config.device.timezone)
        self._implausible_reported: set[str] = set()  # boot ids whose implausible clock has its event

    # -- policy pieces ---------------------------------------------------------------------
    def _allowed_here(self, employee: dict) -> bool:
        devices = employee.get("allowed_devices") or []
        return not devices or self.config.device.id in devices

    def _day_start(self, now: Timestamp) -> datetime:
        local = now.wall.astimezone(self._zone)
        hh, mm = (int(x) for x in self.config.punch.day_starts_at.split(":"))
        start = datetime.combine(local.date(), dtime(hh, mm), tzinfo=self._zone)
        if local < start:
            start -= timedelta(days=1)
        return start

    def _seconds_since(self, last: dict, now: Timestamp) -> float:
        if last["boot_id"] == now.boot_id:
            return (now.monotonic_ns - last["monotonic_ns"]) / 1e9
        return (now.wall - parse_utc(last["punched_at"])).total_seconds()

    def _direction(self, conn: Connection, employee_id: int, now: Timestamp, requested: str | None) -> Direction:
        mode = self.config.punch.direction_mode
        if mode == "in_only":
            return "in"
        if mode == "out_only":
            return "out"
        if mode == "buttons" and requested in ("in", "out"):
            return requested  # type: ignore[return-value]
        day_start = self._day_start(now).astimezone(now.wall.tzinfo)
        row = conn.execute(
            "SELECT direction FROM punches WHERE employee_id = ? AND punched_at >= ? ORDER BY punched_at DESC, id DESC LIMIT 1",
            (employee_id, format_utc(day_start)),
        ).fetchone()
        return "out" if row and row[0] == "in" else "in"

    def _free_mb(self) -> float:
        try:
            return shutil.disk_usage(self.store.path.parent).free / 1_048_576
        except OSError:
            return float("inf")

    # -- the path ------------------------------------------------------------------------
    def punch(self, identity: Identity, direction: str | None = None) -> PunchResult:
        result = self._punch(identity, direction)
        self._notify(result)
        return result

    def _punch(self, identity: Identity, requested: str | None) -> PunchResult:
        lang = self.config.device.language
        employee = get_employee(self.store, identity.employee_id)
        if employee is None:
            return PunchResult(False, "unknown_employee", message=t("refuse.unknown_employee", lang))
        if not employee["active"]:
            return PunchResult(False, "inactive", employee, message=t("refuse.inactive", lang))
        if not self._allowed_here(employee):
            self._event_quietly("not_allowed", {"employee_number": employee["number"], "method": identity.method})
            return PunchResult(False, "not_allowed", employee, message=t("refuse.not_allowed", lang))
        if self._free_mb() < self.config.storage.min_free_mb:
            self._event_quietly("disk_low", {"free_mb": round(self._free_mb(), 1)}, severity="error")
            return PunchResult(False, "storage_full", employee, message=t("refuse.storage_full", lang))

        with self._lock:
            now = self.clock.now()
            clock_source = now.source
            implausible = not plausible_wall_time(now.wall)
            if implausible:
                now = replace(now, source="unsynced")
            try:
                with self.store.transaction() as conn:
                    last = conn.execute(
                        "SELECT id, punched_at, boot_id, monotonic_ns, direction FROM punches WHERE employee_id = ? "
                        "ORDER BY punched_at DESC, id DESC LIMIT 1", (employee["id"],)).fetchone()
                    if last is not None:
                        last_row = {"id": last[0], "punched_at": last[1], "boot_id": last[2], "monotonic_ns": last[3]}
                        since = self._seconds_since(last_row, now)
                        if 0 <= since < self.config.punch.debounce_s:
                            return PunchResult(False, "already_recorded", employee, previous_at=last[1],
                                               message=t("refuse.already_recorded", lang, name=employee["name"]),
                                               details={"seconds_ago": round(since, 1), "direction": last[4]})
                    punch = self._write(conn, employee, identity, now, self._direction(conn, employee["id"], now, requested))
                    report_clock = implausible and now.boot_id not in self._implausible_reported
                    if report_clock:
                        self._report_implausible(conn, now, clock_source)
                if report_clock:
                    self._implausible_reported.add(now.boot_id)
            except StorageFullError:
                log.error("storage full: punch for employee %s refused, nothing written", employee["number"])
                self._event_quietly("disk_low", {"free_mb": round(self._free_mb(), 1)}, severity="error")
                return PunchResult(False, "storage_full", employee, message=t("refuse.storage_full", lang))
            except StoreError:
                log.exception("store error while punching")
                return PunchResult(False, "storage_error", employee, message=t("refuse.storage_error", lang))
            except Exception as exc:  # sqlite errors of the driver
                if type(exc).__module__.startswith(("sqlcipher3", "sqlite3")):
                    log.error("database error while punching: %s", exc)
                    return PunchResult(False, "storage_error", employee, message=t("refuse.storage_error", lang))
                raise
        key = "punch.in" if punch["direction"] == "in" else "punch.out"
        log.info("punch %s: employee %s %s by %s", punch["id"], employee["number"], punch["direction"], identity.method)
        return PunchResult(True, "recorded", employee, punch, message=t(key, lang, name=employee["name"]))

    def _write(self, conn: Connection, employee: dict, identity: Identity, now: Timestamp, direction: Direction) -> dict:
        punch = {
            "id": uuid7(),
            "device_id": self.config.device.id,
            "employee_id": employee["id"],
            "employee_number": employee["number"],
            "direction": direction,
            "method": identity.method,
            "score": None if identity.score is None else round(float(identity.score), 4),
            "punched_at": now.iso(),
            "boot_id": now.boot_id,
            "monotonic_ns": now.monotonic_ns,
            "time_source": now.source,
            "original_punched_at": None,
            "restamped_at": None,
        }
        created = utc_now()
        conn.execute(
            "INSERT INTO punches (id, employee_id, employee_number, direction, method, score, punched_at, boot_id, "
            "monotonic_ns, time_source, device_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (punch["id"], employee["id"], employee["number"], direction, identity.method, punch["score"],
             punch["punched_at"], now.boot_id, now.monotonic_ns, now.source, punch["device_id"], created),
        )
        payload = {k: v for k, v in punch.items() if k != "employee_id"}
        conn.execute("INSERT INTO outbox (kind, ref_id, payload, created_at) VALUES ('punch', ?, ?, ?)",
                     (punch["id"], json.dumps(payload, ensure_ascii=False, sort_keys=True), created))
        self.store.audit("terminal", "punch", {"punch_id": punch["id"], "employee_id": employee["id"],
                                               "method": identity.method}, conn=conn)
        return punch

    def _report_implausible(self, conn: Connection, now: Timestamp, clock_source: str) -> None:
        """One ``clock_implausible`` event per boot (in the punch's transaction): the clock reads nonsense."""
        log.warning("wall clock reads %s (clock source %s), outside %s..%s: punches are stamped unsynced "
                    "until the clock is right", now.iso(), clock_source, format_utc(EARLIEST_PLAUSIBLE),
                    format_utc(LATEST_PLAUSIBLE))
        self.store.record_event("clock_implausible", {
            "wall": now.iso(), "source": clock_source, "boot_id": now.boot_id,
            "earliest": format_utc(EARLIEST_PLAUSIBLE), "latest": format_utc(LATEST_PLAUSIBLE),
        }, severity="warning", conn=conn)

    def _event_quietly(self, kind: str, payload: dict, severity: str = "warning") -> None:
        try:
            self.store.record_event(kind, payload, severity=severity)
        except Exception as exc:  # a full disk cannot take the event either; the log still can
            log.warning("could not record %s event: %s", kind, exc)

    def _notify(self, result: PunchResult) -> None:
        if self.feedback is not None:
            try:
                self.feedback.punch_result(result)
            except Exception:
                log.exception("feedback failed")
        for listener in list(self.listeners):
            try:
                listener(result)
            except Exception:
                log.exception("punch listener failed")
