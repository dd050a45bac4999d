"""Trusted time: NTP checks, clock events, and re-stamping punches made before the first sync.

The offset is measured with ``ntplib`` against the configured servers and expressed
for the terminal's own clock: ``clock_offset_s = true time - terminal wall time``
(positive: the terminal is behind). An offset beyond ``max_offset_s`` becomes a
``clock_offset`` event; a step of the wall clock against the monotonic clock larger
than that bound becomes a ``clock_jump`` event.

Punches stamped ``unsynced`` in the current boot are re-stamped once a check
succeeds: ``true punch time = true now - (monotonic now - monotonic at the punch)``.
The old stamp moves to ``original_punched_at``, ``restamped_at`` records when, and the
punch is queued again so the central server gets both stamps. Punches of an earlier
boot cannot be placed (the monotonic clock restarted) and stay ``unsynced``.
"""
from __future__ import annotations

import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import ntplib

from sync_agent.outbox import PUNCH_FIELDS, punch_payload
from terminal.hardware.clock import Clock, format_utc
from terminal.store.connection import Connection
from terminal.store.database import Store, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimeCheck:
    server: str
    offset_s: float          # true time - terminal wall time
    delay_s: float
    stratum: int
    at: str                  # when (true UTC)
    restamped: int = 0


class Timekeeper:
    def __init__(self, store: Store, clock: Clock, servers: Sequence[str], *, port: int = 123,
                 max_offset_s: float = 2.0, timeout_s: float = 2.0):
        self.store = store
        self.clock = clock
        self.servers = list(servers)
        self.port = port
        self.max_offset_s = max_offset_s
        self.timeout_s = timeout_s
        self.last: TimeCheck | None = None
        self.last_error: str | None = None
        self._beyond = False
        self._base: tuple[str, float] | None = None  # (boot id, wall - monotonic) for jump detection
        self._client = ntplib.NTPClient()

    # -- offset -------------------------------------------------------------------------------------
    def query(self) -> tuple[str, Any] | None:
        """Ask each server in turn; the first good answer wins."""
        errors = []
        for server in self.servers:
            try:
                response = self._client.request(server, version=4, port=self.port, timeout=self.timeout_s)
            except (ntplib.NTPException, socket.gaierror, OSError) as exc:
                errors.append(f"{server}: {exc}")
                continue
            if response.leap == 3 or not 1 <= response.stratum <= 15:
                errors.append(f"{server}: not synchronised (stratum {response.stratum}, leap {response.leap})")
                continue
            return server, response
        self.last_error = "; ".join(errors)[:300] or "no NTP server configured"
        return None

    def check(self) -> TimeCheck | None:
        """One NTP check: offset, events, re-stamping. None when no server answered."""
        return self.apply(self.query())

    def apply(self, answer: tuple[str, Any] | None) -> TimeCheck | None:
        """Use the answer of :meth:`query` (which may run in another thread): offset, events, re-stamping."""
        if answer is None:
            log.warning("NTP check failed: %s", self.last_error)
            return None
        server, response = answer
        stamp = self.clock.now()
        system_now = time.time()
        true_now = system_now + response.offset
        offset = true_now - stamp.wall.timestamp()
        true_dt = datetime.fromtimestamp(true_now, timezone.utc)
        self.last_error = None
        beyond = abs(offset) > self.max_offset_s
        if beyond and not self._beyond:
            self.store.record_event("clock_offset", {"offset_s": round(offset, 3), "server": server,
                                                     "bound_s": self.max_offset_s}, severity="warning")
            log.warning("terminal clock is off by %.3f s (bound %.3f s)", offset, self.max_offset_s)
        self._beyond = beyond
        restamped = self.restamp(true_dt, stamp.monotonic_ns, stamp.boot_id)
        self.last = TimeCheck(server, offset, response.delay, response.stratum, format_utc(true_dt), restamped)
        log.info("NTP %s: offset %.3f s, delay %.3f s, stratum %s", server, offset, response.delay, response.stratum)
        return self.last

    # -- clock steps --------------------------------------------------------------------------------
    def watch_jumps(self) -> float | None:
        """Compare wall and monotonic time; a step beyond the bound is a ``clock_jump`` event (returns it)."""
        stamp = self.clock.now()
        base = stamp.wall.timestamp() - stamp.monotonic_ns / 1e9
        previous, self._base = self._base, (stamp.boot_id, base)
        if previous is None or previous[0] != stamp.boot_id:
            return None
        jump = base - previous[1]
        if abs(jump) > self.max_offset_s:
            self.store.record_event("clock_jump", {"jump_s": round(jump, 3), "at": stamp.iso()}, severity="warning")
            log.warning("wall clock stepped by %.3f s", jump)
            return jump
        return None

    # -- re-stamping ---------------------------------------------------------------------------------
    def restamp(self, true_now: datetime, monotonic_now_ns: int, boot_id: str) -> int:
        """Re-stamp this boot's ``unsynced`` punches from monotonic time; returns how many."""
        rows = self.store.query(
            "SELECT id, punched_at, monotonic_ns FROM punches WHERE time_source = 'unsynced' AND boot_id = ? "
            "AND monotonic_ns <= ?", (boot_id, monotonic_now_ns))
        if not rows:
            return 0
        now_text = format_utc(true_now)
        done = 0
        with self.store.transaction() as conn:
            for row in rows:
                corrected = format_utc(true_now - timedelta(microseconds=(monotonic_now_ns - row["monotonic_ns"]) // 1000))
                changed = conn.execute(
                    "UPDATE punches SET original_punched_at = punched_at, punched_at = ?, time_source = 'ntp', "
                    "restamped_at = ? WHERE id = ? AND time_source = 'unsynced'", (corrected, now_text, row["id"])).rowcount
                if not changed:
                    continue
                done += 1
                self._requeue(conn, row["id"])
            self.store.audit("sync", "punch.restamp", {"punches": done, "boot_id": boot_id}, conn=conn)
        log.info("re-stamped %s unsynced punch(es) of this boot", done)
        return done

    @staticmethod
    def _requeue(conn: Connection, punch_id: str) -> None:
        row = conn.execute(f"SELECT {', '.join(PUNCH_FIELDS)} FROM punches WHERE id = ?", (punch_id,)).fetchone()
        payload = punch_payload(row)
        # A queued copy is replaced (and its claim dropped, so a late ack of the old copy keeps it);
        # an already delivered punch is queued again as a correction.
        updated = conn.execute("UPDATE outbox SET payload = ?, batch_id = NULL WHERE ref_id = ? AND kind = 'punch'",
                               (payload, punch_id)).rowcount
        if not updated:
            conn.execute("INSERT INTO outbox (kind, ref_id, payload, created_at) VALUES ('punch', ?, ?, ?)",
                         (punch_id, payload, utc_now()))
