"""The attendance threads inside ``seed-central run``: the follower, so records follow punches within a second or
so, and the hourly deletion of evidence kept past its retention.

The follower reads punches by arrival time, so the receiver's ingest path does no attendance work at all and
keeps its speed; with several receivers on PostgreSQL only one follows at a time (an advisory lock).
"""
from __future__ import annotations

import logging

from django.db import connection
from django.utils import timezone

from central.attendance import evidence
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


class EvidenceRetentionThread(LoopThread):
    """Deletes the evidence whose retention ended (:func:`central.attendance.evidence.purge_expired`): at start, then
    every ``interval_s`` seconds."""
    name = "seed-evidence-retention"
    first_at_once = True

    def __init__(self, interval_s: float = 3600.0):
        super().__init__(interval_s)
        self.purged = 0

    def start(self) -> EvidenceRetentionThread:
        super().start()
        return self

    def work(self) -> None:
        purged = evidence.purge_expired(timezone.now())
        if purged:
            log.info("evidence retention: %s file(s) deleted", purged)
        self.purged += purged
