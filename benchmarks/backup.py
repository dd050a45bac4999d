"""Backup benchmark (备份): ``seed-central backup create`` on a month of a large plant's punches, against copying the
file in the same run, and what a backup running beside the receiver does to the receiver's writes.

One child process, a throwaway SQLite database with the central's own settings and ``--punches`` punches (a month
of a 10,000-person plant on three shifts is about 1.2 M). Medians of ``--runs`` runs of each:

* **baseline**: the database file copied (``shutil.copyfile``): what any backup must at least spend;
* **backup**: :func:`central.backup.make_backup`: SQLite's online backup, integrity check, counts, SHA-256, fsync;
* **check**: :func:`central.backup.check_backup` (what ``backup check`` and every restore do first);
* **restore**: :func:`central.backup.restore_backup` into a new file;
* **the receiver beside it**: batches of 500 punches written with the ingest's ``store_punches`` every 50 ms, with
  the log checkpointed by a thread as ``seed-central run`` does, their write times with no backup running and
  while one runs (the backup must not stall the punches).

    python -m benchmarks.backup [--punches 1200000] [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

from benchmarks.central import RESULT_MARK, log, percentile, run_central_child
from benchmarks.common import print_table, write_json

BATCH = 500


def fill(db: Path, punches: int) -> None:
    """``punches`` rows of a month, written straight into the table (setting up, not measured)."""
    with closing(sqlite3.connect(db)) as con, con:
        rows = ((str(uuid.uuid4()), "plant", f"gate-{i % 8}", f"E{i % 10_000:05d}", "in" if i % 2 else "out", "face",
                 0.31, f"2026-03-{1 + i * 31 // punches:02d} 0{i % 10}:00:00", f"2026-03-{1 + i * 31 // punches:02d} "
                 f"0{i % 10}:00:01", "boot-1", i, "ntp", f"batch-{i // BATCH}", "") for i in range(punches))
        con.executemany("INSERT INTO ingest_punch (id, site, device_id, employee_number, direction, method, score, "
                        "punched_at, received_at, boot_id, monotonic_ns, time_source, batch_id, time_flag) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


class Receiver(threading.Thread):
    """Batches of 500 punches stored as the ingest stores them, one every 50 ms; the write time of each."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.times: list[tuple[float, float]] = []  # (started, seconds)

    def run(self) -> None:
        from django.db import connection, transaction
        from django.utils import timezone as dj_timezone

        from central.ingest.handler import store_punches

        n = 0
        try:
            while not self.stop.is_set():
                now = dj_timezone.now()
                batch = [{"id": str(uuid.uuid4()), "site": "plant", "device_id": "gate-9", "employee_number": "E00001",
                          "direction": "in", "method": "face", "score": 0.31, "punched_at": now, "boot_id": "boot-2",
                          "monotonic_ns": n + k, "time_source": "ntp", "original_punched_at": None,
                          "restamped_at": None, "batch_id": f"live-{n}", "received_at": now} for k in range(BATCH)]
                n += BATCH
                began = time.perf_counter()
                with transaction.atomic():
                    store_punches(batch)
                self.times.append((began, time.perf_counter() - began))
                self.stop.wait(0.05)
        finally:
            connection.close()


def child(args: argparse.Namespace) -> dict[str, Any]:
    from central.django_setup import migrate, setup

    setup(args.db)
    migrate()
    from central import backup

    db = Path(args.db)
    t0 = time.perf_counter()
    fill(db, args.punches)
    log(f"  {args.punches:,} punches written in {time.perf_counter() - t0:.0f} s; {db.stat().st_size / 1e6:.0f} MB")
    with closing(sqlite3.connect(db)) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    folder = db.parent / "backups"
    runs = []
    for run in range(args.runs):
        t0 = time.perf_counter()
        shutil.copyfile(db, db.parent / "plain-copy.db")
        t1 = time.perf_counter()
        (db.parent / "plain-copy.db").unlink()
        made = backup.make_backup(str(db), folder, keep=1)
        t2 = time.perf_counter()
        backup.check_backup(made.path)
        t3 = time.perf_counter()
        target = db.parent / f"restored-{run}.db"
        backup.restore_backup(made.path, str(target), folder)
        t4 = time.perf_counter()
        target.unlink()
        runs.append({"copy_s": t1 - t0, "backup_s": t2 - t1, "check_s": t3 - t2, "restore_s": t4 - t3,
                     "bytes": made.manifest["bytes"]})
        log(f"  run {run + 1}: copy {t1 - t0:.2f} s, backup {t2 - t1:.2f} s, check {t3 - t2:.2f} s, "
            f"restore {t4 - t3:.2f} s")
        time.sleep(1.1)  # one backup per second of its name

    from central.sqlite_checkpoints import CheckpointThread

    checkpoints = CheckpointThread(1.0).start()  # as in ``seed-central run``: the log copied back by a thread
    receiver = Receiver()
    receiver.start()
    time.sleep(8)  # the receiver alone
    spans = []
    for _ in range(args.runs):
        began = time.perf_counter()
        backup.make_backup(str(db), folder, keep=1)
        spans.append((began, time.perf_counter()))
        time.sleep(1.1)
    time.sleep(2)
    receiver.stop.set()
    receiver.join()
    checkpoints.stop()
    beside = [s for at, s in receiver.times if any(a <= at <= b for a, b in spans)]
    alone = [s for at, s in receiver.times if not any(a - 0.5 <= at <= b + 0.5 for a, b in spans)]
    return {"punches": args.punches, "runs": runs, "receiver_alone_ms": [s * 1000 for s in alone],
            "receiver_beside_backup_ms": [s * 1000 for s in beside],
            "backup_beside_receiver_s": [b - a for a, b in spans]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--punches", type=int, default=1_200_000, help="punches in the database")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(RESULT_MARK + json.dumps(child(args)), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="seed-bench-backup-") as tmp:
        result = run_central_child("benchmarks.backup", "backup", str(Path(tmp) / "central.db"),
                                   ["--punches", str(args.punches), "--runs", str(args.runs)])
    runs = result["runs"]

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    size = runs[0]["bytes"] / 1e6
    print_table(f"Backing up {result['punches']:,} punches ({size:.0f} MB), SQLite; medians of {len(runs)} runs", [
        {"step": "baseline: the file copied (shutil.copyfile)", "seconds": median("copy_s")},
        {"step": "backup create: online copy, integrity check, counts, SHA-256, fsync", "seconds": median("backup_s")},
        {"step": "backup check: SHA-256 and integrity check", "seconds": median("check_s")},
        {"step": "backup restore into a new file (check included)", "seconds": median("restore_s")},
        {"step": "backup create while the receiver writes beside it",
         "seconds": statistics.median(result["backup_beside_receiver_s"])},
    ], ["step", "seconds"])
    alone, beside = result["receiver_alone_ms"], result["receiver_beside_backup_ms"]
    print_table("The receiver's batches of 500 punches (store_punches), ms", [
        {"when": "no backup running", "batches": len(alone), "p50": statistics.median(alone),
         "p95": percentile(alone, 95), "max": max(alone)},
        {"when": "a backup running beside it", "batches": len(beside), "p50": statistics.median(beside),
         "p95": percentile(beside, 95), "max": max(beside)},
    ], ["when", "batches", "p50", "p95", "max"])
    write_json("backup", {**result, "medians": {k: median(k) for k in ("copy_s", "backup_s", "check_s", "restore_s")}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
