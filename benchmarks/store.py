"""Store benchmark: punches per second (one transaction each, with outbox and audit rows),
database open time, and the size of 1,000,000 punches on disk.

The baseline is the same code path on an unencrypted SQLite file in the same process,
so the table shows what the encryption costs.

    python -m benchmarks.store [--punches-per-run 1000] [--runs 3] [--size-punches 1000000]
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.common import median_runs, print_table, write_json
from terminal.config import parse_config
from terminal.hardware.clock import SystemClock, format_utc
from terminal.ids import uuid7
from terminal.punch import Identity, PunchService
from terminal.store.audit import entry_hash
from terminal.store.database import Store


def open_encrypted(path: Path, key: bytes) -> Store:
    return Store.open(path, key)


def open_plain(path: Path, key: bytes) -> Store:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    store = Store(conn, path)
    store.migrate()
    return store


OPENERS = {"sqlcipher (terminal)": open_encrypted, "plain sqlite (baseline)": open_plain}


def punch_rate(opener, folder: Path, key: bytes, per_run: int, runs: int) -> dict:
    config = parse_config({"device": {"id": "bench", "timezone": "UTC"}, "storage": {"data_dir": str(folder), "min_free_mb": 0},
                           "punch": {"debounce_s": 0}})
    store = opener(folder / "rate.db", key)
    with store:
        ids = []
        with store.transaction() as conn:
            now = format_utc(datetime.now(timezone.utc))
            for i in range(50):
                cur = conn.execute("INSERT INTO employees (number, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                                   (f"E{i:04d}", f"Employee {i}", now, now))
                ids.append(cur.lastrowid)
        service = PunchService(store, config, SystemClock())

        def one_run() -> float:
            start = time.perf_counter()
            for i in range(per_run):
                result = service.punch(Identity(ids[i % len(ids)], "card"))
                assert result.accepted, result.reason
            return per_run / (time.perf_counter() - start)

        stats = median_runs(one_run, runs)
        rows = store.counts()
    assert rows["punches"] == rows["outbox"] == per_run * runs
    return stats


def open_time(opener, folder: Path, key: bytes, runs: int) -> dict:
    path = folder / "open.db"
    opener(path, key).close()

    def one() -> float:
        start = time.perf_counter()
        store = opener(path, key)
        store.query_one("SELECT count(*) FROM employees")
        elapsed = time.perf_counter() - start
        store.close()
        return elapsed * 1000

    return median_runs(one, runs)


def size_of_punches(opener, folder: Path, key: bytes, count: int) -> dict:
    """Bulk-load ``count`` punches with their audit entries (outbox already drained, as after sync)."""
    path = folder / "size.db"
    store = opener(path, key)
    start = time.perf_counter()
    chunk = 50_000
    prev = "0" * 64
    seq = 0
    base_mono = time.monotonic_ns()
    with store:
        for offset in range(0, count, chunk):
            punches, audits = [], []
            for i in range(offset, min(count, offset + chunk)):
                pid = uuid7()
                at = f"2026-03-{1 + (i // 40_000) % 28:02d}T{(i // 1700) % 24:02d}:{(i // 28) % 60:02d}:{i % 60:02d}.000000Z"
                punches.append((pid, i % 500, f"E{i % 500:04d}", "in" if i % 2 == 0 else "out", "face", 0.41, at,
                                "5f1c2a1e-7d0e-4e55-9a43-5d7a1f0c2b11", base_mono + i * 1_000_000, "ntp", "door-01", at))
                seq += 1
                details = json.dumps({"employee_id": i % 500, "method": "face", "punch_id": pid}, separators=(",", ":"), sort_keys=True)
                digest = entry_hash(prev, seq, at, "terminal", "punch", details)
                audits.append((seq, at, "terminal", "punch", details, prev, digest))
                prev = digest
            with store.transaction() as conn:
                conn.executemany(
                    "INSERT INTO punches (id, employee_id, employee_number, direction, method, score, punched_at, boot_id,"
                    " monotonic_ns, time_source, device_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", punches)
                conn.executemany("INSERT INTO audit_log (seq, at, actor, action, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 audits)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    load_s = time.perf_counter() - start
    size = path.stat().st_size
    return {"punches": count, "bytes": size, "mib": size / 1_048_576, "bytes_per_punch": size / count, "load_s": load_s}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.store", description=__doc__.split("\n\n")[0])
    parser.add_argument("--punches-per-run", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--open-runs", type=int, default=20)
    parser.add_argument("--size-punches", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    key = os.urandom(32)
    results: dict = {"punch_rate": {}, "open_ms": {}, "size": {}}
    rows = []
    with tempfile.TemporaryDirectory(prefix="seed-bench-", dir=os.environ.get("SEED_BENCH_DIR")) as tmp:
        for name, opener in OPENERS.items():
            folder = Path(tmp) / name.split()[0]
            folder.mkdir()
            rate = punch_rate(opener, folder, key, args.punches_per_run, args.runs)
            opening = open_time(opener, folder, key, args.open_runs)
            size = size_of_punches(opener, folder, key, args.size_punches)
            results["punch_rate"][name] = rate
            results["open_ms"][name] = opening
            results["size"][name] = size
            rows.append({"store": name, "punches/s (median)": rate["median"], "punches/s (min)": rate["min"],
                         "open ms (median)": opening["median"], f"size of {args.size_punches:,} punches (MiB)": size["mib"],
                         "bytes/punch": size["bytes_per_punch"]})
    enc, plain = rows[0], rows[1]
    results["encryption_cost"] = {
        "punch_rate_ratio": enc["punches/s (median)"] / plain["punches/s (median)"],
        "open_ms_extra": enc["open ms (median)"] - plain["open ms (median)"],
    }
    print_table(f"Store: one transaction per punch (punch + outbox + audit), {args.runs} runs of {args.punches_per_run}",
                rows, list(rows[0].keys()))
    print(f"\nencrypted/plain punch rate: {results['encryption_cost']['punch_rate_ratio']:.2f}")
    results["parameters"] = vars(args)
    write_json("store", results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
