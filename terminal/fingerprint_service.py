"""The fingerprint sensor at the door: identification, and keeping its library in step with the database.

* :class:`FingerprintWorker` is the sensor's own thread: it waits for a finger (GenImg),
  converts and searches it on the sensor, maps the sensor position to an employee and
  hands ``(employee, score)`` to the :class:`~terminal.identify.Authenticator` (or the
  punch path), which stores the sensor's score with the punch. A sensor that stops
  answering is reported within the driver's probe timeout (status, event, health
  text), retried with doubling pauses up to ``retry_max_s``, and never holds up face,
  card or PIN, which run on their own threads.
* The database is the truth about which template sits where: ``finger_templates``
  keeps every template (uploaded from the sensor at enrolment, or received with the
  roster) and its ``sensor_position``. :func:`sync_sensor` brings the sensor in line
  (clears positions queued for purging, loads templates that have no position yet or
  whose position the sensor lost); :func:`restore_sensor` refills a new or replaced
  sensor completely, checking every template it keeps.
"""
from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from terminal.hardware.errors import HardwareError
from terminal.hardware.fingerprint import FingerprintError, FingerprintSensor, PoorImage, SensorUnavailable
from terminal.punch import Identity
from terminal.store.connection import Connection
from terminal.store.database import Store
from terminal.workers import LoopWorker

if TYPE_CHECKING:
    from terminal.feedback import DoorFeedback
    from terminal.identify import Authenticator, Outcome
    from terminal.punch import PunchResult, PunchService
    from terminal.runtime import Terminal

log = logging.getLogger(__name__)

# Sensor positions freed in the database (deleted employee, template replaced by the roster)
# but not yet cleared on the sensor; the sync agent appends to the same setting.
PURGE_KEY = "fingerprint.purge_positions"
SYNC_CHECK_S = 5.0


# -- the library: database ↔ sensor ------------------------------------------------------------
@dataclass
class SyncReport:
    purged: list[int] = field(default_factory=list)
    loaded: list[int] = field(default_factory=list)  # positions written from the database
    kept: int = 0
    replaced: list[int] = field(default_factory=list)  # occupied by a different template, overwritten
    foreign: list[int] = field(default_factory=list)  # on the sensor, unknown to the database
    pruned: list[int] = field(default_factory=list)
    not_loaded: int = 0  # templates left without a position (library full)

    @property
    def changed(self) -> bool:
        return bool(self.purged or self.loaded or self.replaced or self.pruned)


def queue_purge(store: Store, positions: Iterable[int], conn: Connection | None = None) -> None:
    """Remember sensor positions to clear when the sensor can next be reached."""
    positions = sorted({int(p) for p in positions})
    if not positions:
        return

    def write(c: Connection) -> None:
        row = c.execute("SELECT value FROM settings WHERE key = ?", (PURGE_KEY,)).fetchone()
        current = json.loads(row[0]) if row else []
        store.set_setting(PURGE_KEY, sorted(set(current) | set(positions)), conn=c)

    if conn is not None:
        write(conn)
    else:
        with store.transaction() as c:
            write(c)


def _referenced_positions(store: Store) -> set[int]:
    return {r["sensor_position"] for r in store.query(
        "SELECT sensor_position FROM finger_templates WHERE sensor_position IS NOT NULL")}


def clear_positions(sensor: FingerprintSensor, positions: Iterable[int]) -> list[int]:
    """Delete positions on the sensor, contiguous runs in one DeletChar each."""
    ordered = sorted(set(positions))
    runs: list[list[int]] = []
    for position in ordered:
        if runs and position == runs[-1][-1] + 1:
            runs[-1].append(position)
        else:
            runs.append([position])
    for run in runs:
        sensor.delete(run[0], len(run))
    return ordered


def apply_purges(store: Store, sensor: FingerprintSensor, used: set[int] | None = None) -> list[int]:
    """Clear the queued positions that no template in the database owns any more."""
    queued = [int(p) for p in store.get_setting(PURGE_KEY, []) or []]
    if not queued:
        return []
    used = set(sensor.template_positions()) if used is None else used
    owned = _referenced_positions(store)
    purge = [p for p in queued if p not in owned and p in used and 0 <= p < sensor.capacity]
    clear_positions(sensor, purge)
    with store.transaction() as conn:  # appends made meanwhile by the sync agent stay queued
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (PURGE_KEY,)).fetchone()
        current = json.loads(row[0]) if row else []
        store.set_setting(PURGE_KEY, sorted(set(current) - set(queued)), conn=conn)
        if purge:
            store.audit("terminal", "finger.sensor_purge", {"positions": purge}, conn=conn)
    if purge:
        log.info("cleared %d sensor position(s) freed in the database", len(purge))
    return purge


def _load(store: Store, sensor: FingerprintSensor, row: dict, taken: set[int], target: int | None) -> int | None:
    """Write one database template to the sensor at ``target`` (or the first position not
    ``taken``) and record the position; None when the library is full."""
    capacity = sensor.capacity
    if target is None or not 0 <= target < capacity:
        target = next((p for p in range(capacity) if p not in taken), None)
        if target is None:
            return None
    sensor.write_template(bytes(row["template"]), 1)
    sensor.store(target, 1)
    if row["sensor_position"] != target:
        with store.transaction() as conn:
            conn.execute("UPDATE finger_templates SET sensor_position = ? WHERE id = ?", (target, row["id"]))
    return target


def first_free_position(store: Store, sensor: FingerprintSensor) -> int | None:
    """A position free on the sensor and not promised to any template in the database."""
    taken = set(sensor.template_positions()) | _referenced_positions(store)
    return next((p for p in range(sensor.capacity) if p not in taken), None)


def sync_sensor(store: Store, sensor: FingerprintSensor) -> SyncReport:
    """Cheap reconciliation: purge freed positions, load templates the sensor does not have."""
    report = SyncReport()
    used = set(sensor.template_positions())
    report.purged = apply_purges(store, sensor, used)
    used -= set(report.purged)
    rows = store.query("SELECT id, employee_id, finger, sensor_position, template FROM finger_templates ORDER BY id")
    promised = {r["sensor_position"] for r in rows if r["sensor_position"] is not None}
    for row in rows:
        position = row["sensor_position"]
        if position is not None and position in used and position < sensor.capacity:
            report.kept += 1
            continue
        loaded = _load(store, sensor, row, used | promised, position)
        if loaded is None:
            report.not_loaded += 1
        else:
            used.add(loaded)
            promised.add(loaded)
            report.loaded.append(loaded)
    report.foreign = sorted(used - _referenced_positions(store))
    if report.not_loaded:
        log.error("fingerprint sensor library full: %d template(s) could not be loaded", report.not_loaded)
    if report.loaded:
        store.audit("terminal", "finger.sensor_load", {"positions": report.loaded})
        log.info("loaded %d template(s) onto the fingerprint sensor", len(report.loaded))
    return report


def restore_sensor(store: Store, sensor: FingerprintSensor, *, prune: bool = False, wipe: bool = False,
                   verify: bool = True, progress: Callable[[int, int], None] | None = None,
                   actor: str = "admin") -> SyncReport:
    """Refill a sensor from the database (a new or replaced sensor, or a second terminal's).

    Every template in ``finger_templates`` ends up on the sensor at its recorded
    position when that position is usable (or the first free one). With ``verify``
    a position already occupied is read back and overwritten if it holds a different
    template. ``prune`` deletes templates the database does not know; ``wipe`` clears
    the sensor first.
    """
    report = SyncReport()
    if wipe:
        sensor.clear()
    used = set(sensor.template_positions())
    report.purged = apply_purges(store, sensor, used)
    used -= set(report.purged)
    rows = store.query("SELECT id, employee_id, finger, sensor_position, template FROM finger_templates ORDER BY id")
    wanted = {r["sensor_position"] for r in rows if r["sensor_position"] is not None}
    claimed: set[int] = set()
    for done, row in enumerate(rows, 1):
        position = row["sensor_position"]
        usable = position is not None and 0 <= position < sensor.capacity and position not in claimed
        if usable and position in used:
            same = True
            if verify:
                sensor.load(position, 1)
                same = sensor.read_template(1) == bytes(row["template"])
            if same:
                report.kept += 1
                claimed.add(position)
                if progress:
                    progress(done, len(rows))
                continue
            report.replaced.append(position)
        # a position the database wants for another row is not free for this one
        taken = used | claimed | (wanted - {position})
        loaded = _load(store, sensor, row, taken, position if usable else None)
        if loaded is None:
            report.not_loaded += 1
        else:
            claimed.add(loaded)
            used.add(loaded)
            wanted.add(loaded)
            if loaded not in report.replaced:
                report.loaded.append(loaded)
        if progress:
            progress(done, len(rows))
    report.foreign = sorted(used - claimed)
    if prune and report.foreign:
        report.pruned = clear_positions(sensor, report.foreign)
    store.audit(actor, "finger.sensor_restore", {"loaded": len(report.loaded), "replaced": len(report.replaced),
                                                   "kept": report.kept, "pruned": len(report.pruned),
                                                   "not_loaded": report.not_loaded})
    return report


def employee_at_position(store: Store, position: int) -> dict | None:
    return store.query_one(
        "SELECT e.id, e.number, e.name, f.finger FROM finger_templates f JOIN employees e ON e.id = f.employee_id "
        "WHERE f.sensor_position = ?", (position,))


def library_signature(store: Store) -> tuple:
    """Changes whenever templates are added, removed, given positions, or purges are queued."""
    row = store.query_one(
        "SELECT count(*) AS n, coalesce(max(id), 0) AS last, coalesce(sum(sensor_position IS NULL), 0) AS unplaced, "
        "coalesce(sum(coalesce(sensor_position, -1) * id), 0) AS mix FROM finger_templates")
    assert row is not None  # an aggregate query always returns its one row
    purge = store.query_one("SELECT value FROM settings WHERE key = ?", (PURGE_KEY,))
    return (row["n"], row["last"], row["unplaced"], row["mix"], purge["value"] if purge else "")


# -- the worker ------------------------------------------------------------------------------------
@dataclass
class FingerRead:
    """One finger on the glass and what came of it."""

    outcome: str  # identified, unknown, unmapped, poor_image
    placed_at: float  # monotonic time the finger was seen
    decided_at: float
    position: int | None = None
    score: int | None = None
    employee_id: int | None = None
    result: Outcome | PunchResult | None = None  # the Authenticator's Outcome or the PunchResult


class FingerprintWorker:
    """The sensor's thread at the door. A :class:`~terminal.workers.Worker`."""

    name = "fingerprint"

    def __init__(self, sensor: FingerprintSensor, store: Store, *, authenticator: Authenticator | None = None,
                 punches: PunchService | None = None, feedback: DoorFeedback | None = None,
                 poll_timeout_s: float = 0.5, lift_timeout_s: float = 5.0,
                 retry_max_s: float = 30.0, sync_check_s: float = SYNC_CHECK_S,
                 monotonic: Callable[[], float] = time.monotonic):
        if authenticator is None and punches is None:
            raise ValueError("FingerprintWorker needs an Authenticator or a PunchService")
        self.sensor = sensor
        self.store = store
        self.authenticator = authenticator
        self.punches = punches
        self.feedback = feedback
        self.poll_timeout_s = poll_timeout_s
        self.lift_timeout_s = lift_timeout_s
        self.retry_max_s = retry_max_s
        self.sync_check_s = sync_check_s
        self.monotonic = monotonic
        self.listeners: list[Callable[[FingerRead], None]] = []
        self.state_listeners: list[Callable[[str, str | None], None]] = []
        self.state = "starting"  # starting, ready, unavailable
        self.reason: str | None = None
        self.reads = 0
        self.last_sync: SyncReport | None = None
        self._retry_delay = 1.0
        self._next_try = float("-inf")
        self._signature: tuple | None = None
        self._checked_at = float("-inf")
        self._use = threading.Lock()
        self._paused = threading.Event()
        self._loop = LoopWorker(self.name, self.step)

    @classmethod
    def for_terminal(cls, terminal: Terminal) -> FingerprintWorker | None:
        """The worker for a running Terminal, or None when it has no fingerprint sensor."""
        sensor: FingerprintSensor | None = terminal.hardware.fingerprint
        if sensor is None:
            return None
        settings = terminal.config.hardware.fingerprint
        return cls(sensor, terminal.store, authenticator=terminal.auth, feedback=terminal.feedback,
                   retry_max_s=settings.retry_max_s)

    # -- status ------------------------------------------------------------------------------
    def health(self) -> str:
        if self.state == "ready":
            return "ok"
        return f"{self.state}: {self.reason}" if self.reason else self.state

    def status(self) -> dict:
        info = getattr(self.sensor, "info", None)
        return {"state": self.state, "reason": self.reason, "reads": self.reads,
                "capacity": getattr(info, "capacity", None), "security_level": getattr(info, "security_level", None),
                "retry_in_s": max(0.0, round(self._next_try - self.monotonic(), 1)) if self.state == "unavailable" else None}

    def _set_state(self, state: str, reason: str | None) -> None:
        previous = self.state
        self.state, self.reason = state, reason
        if state == previous:
            return
        if state == "unavailable":
            log.error("fingerprint sensor unavailable: %s", reason)
            self._event("fingerprint_lost", {"reason": reason or ""}, "error")
        elif state == "ready" and previous == "unavailable":
            log.info("fingerprint sensor is back")
            self._event("fingerprint_back", {}, "info")
        for listener in list(self.state_listeners):
            try:
                listener(state, reason)
            except Exception:
                log.exception("fingerprint state listener failed")

    def _event(self, kind: str, payload: dict, severity: str) -> None:
        try:
            self.store.record_event(kind, payload, severity=severity)
        except Exception as exc:
            log.warning("could not record the %s event: %s", kind, exc)

    # -- exclusive use (enrolment on the admin screen) ----------------------------------------------
    @contextlib.contextmanager
    def paused(self) -> Iterator[FingerprintSensor]:
        """Stop identifying while the caller uses the sensor (an enrolment); resumes on exit."""
        self._paused.set()
        try:
            with self._use:
                yield self.sensor
        finally:
            self._paused.clear()
            self._checked_at = float("-inf")  # the library may have changed: check it at once

    # -- the loop --------------------------------------------------------------------------------
    def _connect(self) -> bool:
        try:
            self.sensor.probe()
            self.last_sync = sync_sensor(self.store, self.sensor)
            self._signature = library_signature(self.store)
            self._checked_at = self.monotonic()
        except SensorUnavailable as exc:
            self._lost(exc.reason)
            return False
        except HardwareError as exc:
            self._lost(str(exc))
            return False
        self._retry_delay = 1.0
        self._set_state("ready", None)
        return True

    def _lost(self, reason: str) -> None:
        self._next_try = self.monotonic() + self._retry_delay
        log.warning("fingerprint sensor: %s (next try in %.0f s)", reason, self._retry_delay)
        self._retry_delay = min(self._retry_delay * 2, self.retry_max_s)
        self._set_state("unavailable", reason)

    def _maybe_sync(self) -> None:
        now = self.monotonic()
        if now - self._checked_at < self.sync_check_s:
            return
        self._checked_at = now
        signature = library_signature(self.store)
        if signature != self._signature:
            self.last_sync = sync_sensor(self.store, self.sensor)
            self._signature = library_signature(self.store)

    def step(self, stop: threading.Event) -> FingerRead | None:
        """One round: (re)connect if needed, then wait briefly for a finger and act on it."""
        if self._paused.is_set():
            stop.wait(0.05)
            return None
        if self.state != "ready":
            wait = self._next_try - self.monotonic()
            if wait > 0:
                stop.wait(min(wait, 0.2))
                return None
        with self._use:
            if self._paused.is_set():
                return None
            if self.state != "ready" and not self._connect():
                return None
            try:
                self._maybe_sync()
                if not self.sensor.wait_for_finger(self.poll_timeout_s, stop):
                    return None
                placed = self.monotonic()
                read = self._identify(placed)
                self.sensor.wait_for_lift(self.lift_timeout_s, stop)
            except SensorUnavailable as exc:
                self._lost(exc.reason)
                return None
            except FingerprintError as exc:
                log.warning("fingerprint sensor error: %s", exc.reason)
                return None
        self.reads += 1
        for listener in list(self.listeners):
            try:
                listener(read)
            except Exception:
                log.exception("fingerprint read listener failed")
        return read

    def _identify(self, placed: float) -> FingerRead:
        try:
            match = self.sensor.identify()
        except PoorImage:
            self._refuse("not_recognised")
            return FingerRead("poor_image", placed, self.monotonic())
        if match is None:
            self._event("unknown_finger", {}, "warning")
            self._refuse("unknown_finger")
            return FingerRead("unknown", placed, self.monotonic())
        employee = employee_at_position(self.store, match.position)
        if employee is None:
            log.warning("sensor position %s matched but belongs to no employee", match.position)
            self._event("unknown_finger", {"sensor_position": match.position, "reason": "no employee"}, "warning")
            self._refuse("unknown_finger")
            return FingerRead("unmapped", placed, self.monotonic(), match.position, match.score)
        result: Outcome | PunchResult
        if self.authenticator is not None:
            result = self.authenticator.finger(employee["id"], match.score)
        else:
            assert self.punches is not None  # one of the two is required by __init__
            result = self.punches.punch(Identity(employee["id"], "finger", match.score))
        return FingerRead("identified", placed, self.monotonic(), match.position, match.score, employee["id"], result)

    def _refuse(self, key: str) -> None:
        if self.authenticator is not None:
            self.authenticator.refuse(key)  # feedback and an outcome for the screen
            return
        if self.feedback is not None:
            try:
                self.feedback.refusal(key)
            except Exception:
                log.exception("feedback failed")

    # -- Worker protocol -----------------------------------------------------------------------
    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def healthy(self) -> bool:
        """The thread runs (a lost sensor is reported by ``state``, events and health, not by dying)."""
        return self._loop.healthy()
