"""The attendance follower's thread inside ``seed-central run``: records follow punches within a second or so.

It reads punches by arrival time, so the receiver's ingest path does no attendance work at all and
keeps its speed; with several receivers on PostgreSQL only one follows at a time (an advisory lock).
"""
from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connection
from django.db.utils import DatabaseError, InterfaceError

from central.attendance.services import Follower

log = logging.getLogger(__name__)
_PG_LOCK_KEY = 74_201_302


class AttendanceThread:
    def __init__(self, interval_s: float = 1.0):
        self.interval_s = interval_s
        self.follower = Follower()
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0
        self.passes = 0

    def start(self) -> AttendanceThread:
        self._thread = threading.Thread(target=self._run, name="seed-attendance", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.wake.wait(self.interval_s)
                self.wake.clear()
                if self._stop.is_set():
                    break
                self._pass()
        finally:
            connection.close()

    def _pass(self) -> None:
        try:
            if not self._lock():
                return
            try:
                outcome = self.follower.tick()
                if outcome.written:
                    log.info("attendance: %s record(s) written for %s employee(s)", outcome.written, outcome.employees)
            finally:
                self._unlock()
            self.passes += 1
        except (DatabaseError, InterfaceError):
            self.errors += 1
            log.exception("attendance follower: database error (will retry)")
            close_old_connections()
            if connection.connection is not None and not connection.is_usable():
                connection.close()
        except Exception:
            self.errors += 1
            log.exception("attendance follower error (will retry)")

    def _lock(self) -> bool:
        if connection.vendor != "postgresql":
            return True
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", [_PG_LOCK_KEY])
            row = cur.fetchone()
        return bool(row and row[0])

    def _unlock(self) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [_PG_LOCK_KEY])
