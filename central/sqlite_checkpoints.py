"""SQLite's write-ahead log copied back into the database by a thread of ``seed-central run``, not by its commits.

By default SQLite checkpoints (copies the log into the database file and flushes both to disk) inside whichever
commit takes the log past 1,000 pages. With punches arriving all the time that was every other batch, and the
commit that paid was an ingest's (the terminal waits for its ack) or a follower's pass: 17 ms on top of a 48 ms
pass, and the ingest's p95 at 47 ms against a median of 18 (benchmarks/attendance.py). PostgreSQL checkpoints in a
process of its own; with :class:`CheckpointThread` SQLite does the same: the connections of this process no longer
checkpoint in their commits (:func:`defer_checkpoints`), and the thread runs a PASSIVE checkpoint every
``interval_s``, which never waits for a reader or a writer (what a reader still needs is copied next time).

Other processes on the same file (the web console) keep SQLite's own checkpoints: their commits are few and small.
Nothing changes for durability: a commit is on disk when the log is, and ingest commits flush the log.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from django.db import connection
from django.db.backends.signals import connection_created

from central.loop_thread import LoopThread

log = logging.getLogger(__name__)
LARGE_LOG_PAGES = 262_144  # 1 GiB of 4 KiB pages: a reader has kept the log from being copied for a long time
WARN_EVERY_S = 600.0
_UID = "seed-defer-checkpoints"


def _no_checkpoint_in_commits(sender: Any, connection: Any, **_kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("PRAGMA wal_autocheckpoint=0")


def defer_checkpoints() -> None:
    """Connections this process opens from now on leave checkpoints to :class:`CheckpointThread`."""
    connection_created.connect(_no_checkpoint_in_commits, dispatch_uid=_UID)


def restore_checkpoints() -> None:
    """Connections opened from now on checkpoint in their commits again (SQLite's default)."""
    connection_created.disconnect(dispatch_uid=_UID)


class CheckpointThread(LoopThread):
    """A PASSIVE checkpoint every ``interval_s``; on PostgreSQL it does nothing (the server checkpoints)."""
    name = "seed-checkpoint"

    def __init__(self, interval_s: float = 1.0) -> None:
        super().__init__(interval_s)
        self.pages_copied = 0
        self._warned_at: float | None = None

    def start(self) -> CheckpointThread:
        defer_checkpoints()
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        restore_checkpoints()

    def work(self) -> None:
        if connection.vendor != "sqlite":
            return
        with connection.cursor() as cur:
            cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
            row = cur.fetchone()
        if not row or row[1] < 0:  # not in WAL mode (an in-memory database)
            return
        _busy, pages, copied = row
        self.pages_copied += copied
        if pages > LARGE_LOG_PAGES and copied < pages:
            now = time.monotonic()
            if self._warned_at is None or now - self._warned_at >= WARN_EVERY_S:
                self._warned_at = now
                log.warning("the SQLite write-ahead log holds %s pages and %s could not be copied yet: a long read "
                            "is holding it", pages, pages - copied)
