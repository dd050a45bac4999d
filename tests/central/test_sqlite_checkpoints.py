"""SQLite's write-ahead log is copied back by the checkpoint thread of ``seed-central run``, not inside commits.

On the real SQLite file of the test database: the write-ahead log's size on disk and SQLite's own answers
(``PRAGMA wal_autocheckpoint``, ``PRAGMA wal_checkpoint``) are what is asserted.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from central.ingest.models import State
from central.sqlite_checkpoints import CheckpointThread

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def sqlite_only(transactional_db: Any) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: PostgreSQL checkpoints in a process of its own")


def in_a_new_thread(work: Callable[[], Any]) -> Any:
    """``work`` on a connection of its own, opened by a new thread as the service's threads open theirs."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(work())
        finally:
            connection.close()
    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return out[0]


def autocheckpoint() -> int:
    with connection.cursor() as cur:
        cur.execute("PRAGMA wal_autocheckpoint")
        return int(cur.fetchone()[0])


def keep_open() -> None:
    """This thread's connection open (and reading) while others write: the last connection to close would
    checkpoint the whole log and delete it."""
    State.objects.filter(key="none").exists()


def wal_bytes() -> int:
    wal = Path(str(connection.settings_dict["NAME"]) + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def write_pages(pages: int) -> None:
    """About ``pages`` pages of 4 KiB, committed a row at a time (each commit could checkpoint)."""
    for i in range(pages // 8):
        State.objects.update_or_create(key=f"bulk-{i}", defaults={"value": "x" * 32_000})


def test_connections_opened_while_it_runs_leave_checkpoints_to_it_and_later_ones_do_not() -> None:
    assert in_a_new_thread(autocheckpoint) == 1000  # SQLite's default
    thread = CheckpointThread(interval_s=60).start()
    try:
        assert in_a_new_thread(autocheckpoint) == 0
    finally:
        thread.stop()
    assert in_a_new_thread(autocheckpoint) == 1000


def test_commits_grow_the_log_and_the_thread_copies_it_back() -> None:
    thread = CheckpointThread(interval_s=60).start()  # passes only when woken, below
    try:
        keep_open()
        before = wal_bytes()
        in_a_new_thread(lambda: write_pages(2400))
        grown = wal_bytes()
        # past 1,000 pages no commit copied the log back (it would have been reused from its start, at ~4 MB)
        assert grown - before > 1500 * 4096, (before, grown)
        thread.wake.set()
        deadline = time.monotonic() + 20
        while thread.pages_copied == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert thread.pages_copied >= 1500
        assert thread.errors == 0
    finally:
        thread.stop()
    with connection.cursor() as cur:
        cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
        _busy, pages, copied = cur.fetchone()
    assert pages == copied  # nothing left behind
    assert State.objects.filter(key__startswith="bulk-").count() == 300  # and nothing lost


def test_without_the_thread_sqlite_checkpoints_in_commits_as_before() -> None:
    keep_open()
    in_a_new_thread(lambda: write_pages(2400))
    # the log was copied back and reused from its start at about 1,000 pages: it never held the 2,400
    assert 0 < wal_bytes() < 1500 * 4096
