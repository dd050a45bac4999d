"""The attendance follower's thread inside ``seed-central run``: records follow punches within a second or so.

It reads punches by arrival time, so the receiver's ingest path does no attendance work at all and
keeps its speed; with several receivers on PostgreSQL only one follows at a time (an advisory lock).
"""
from __future__ import annotations

import logging

from django.db import connection

from central.attendance.services import Follower
from central.loop_thread import LoopThread

log = logging.getLogger(__name__)
_PG_LOCK_KEY = 74_201_302


class AttendanceThread(LoopThread):
    name = "seed-attendance"

    def __init__(self, interval_s: float = 1.0):
        super().__init__(interval_s)
        self.follower = Follower()

    def start(self) -> AttendanceThread:
        super().start()
        return self

    def work(self) -> None:
        if not self._lock():
            return
        try:
            outcome = self.follower.tick()
            if outcome.written:
                log.info("attendance: %s record(s) written for %s employee(s)", outcome.written, outcome.employees)
        finally:
            self._unlock()

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
