"""An idle attendance follower: what each of its passes costs when nothing new arrived (``seed-central run`` makes one
every second, all day, also on a Raspberry Pi's SD card).

A new SQLite central (its schema made first, not measured): one site with no terminal of its own (head office, or
punches imported), whose days turn final after a 24-h wait, a shift, ``--employees`` employees on it, their records
of the last days computed. Then ``--passes`` follower passes at real time, 0.1 s apart (the site's finality frontier,
now less the wait, moves with the clock as in production; a site's terminals move it at each report of an empty
outbox, every 30 s), each measured:

* its wall time (median), against the baseline in the same run: one read of the follower's own state (one
  statement, the floor of any pass);
* the statements that write (INSERT, UPDATE, DELETE) and the bytes they add to SQLite's write-ahead log (automatic
  checkpoints off, so every byte stays countable), per pass and as a day of passes, one a second.

    python -m benchmarks.follower_idle [--employees 100] [--passes 30] [--code CHECKOUT]

``--code``: measure another checkout (``git worktree add /tmp/before REV``) in the same hour.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import print_table, write_json

REPO = Path(__file__).resolve().parent.parent
MARK = "RESULT "
WRITES = ("INSERT", "UPDATE", "DELETE")


def child(db: str, employees: int, passes: int) -> dict[str, Any]:
    from central.django_setup import migrate, setup

    setup(db)
    migrate()
    from datetime import time as clock
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from central.attendance import services
    from central.attendance.models import AttendanceProfile, ShiftType, SiteCalendar
    from central.people.models import Employee, Site

    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[], final_wait_h=24)
    shift = ShiftType.objects.create(name="白班", start=clock(9), end=clock(18))
    for i in range(employees):
        person = Employee.objects.create(number=f"E{i:04d}", name=f"员工{i}", site=site)
        AttendanceProfile.objects.create(employee=person, default_shift=shift)
    today = timezone.localdate()
    services.recompute(today - timedelta(days=3), today)
    follower = services.Follower()
    for _ in range(3):  # its first passes set the frontier and work the jobs they queue
        follower.tick()
    with connection.cursor() as cur:
        cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = Path(db + "-wal")
    wall, base, writes, grown = [], [], [], []
    for _ in range(passes):
        time.sleep(0.1)
        began = time.perf_counter()
        services._read_states()
        base.append(time.perf_counter() - began)
        size = wal.stat().st_size if wal.exists() else 0
        with CaptureQueriesContext(connection) as statements:
            began = time.perf_counter()
            follower.tick()
            wall.append(time.perf_counter() - began)
        writes.append(sum(1 for q in statements.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)))
        grown.append((wal.stat().st_size if wal.exists() else 0) - size)
    return {"pass_ms": statistics.median(wall) * 1000, "baseline_ms": statistics.median(base) * 1000,
            "writes_per_pass": statistics.mean(writes), "wal_bytes_per_pass": statistics.mean(grown)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.follower_idle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=100)
    parser.add_argument("--passes", type=int, default=30)
    parser.add_argument("--code", type=Path, help="the checkout measured (default: this one)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(MARK + json.dumps(child(args.child, args.employees, args.passes)), flush=True)
        return 0
    code = args.code.resolve() if args.code else REPO
    with tempfile.TemporaryDirectory(prefix="seed-bench-idle-") as tmp:
        env = {**os.environ, "PYTHONPATH": str(code)}
        done = subprocess.run([sys.executable, "-m", "benchmarks.follower_idle", "--child", str(Path(tmp) / "c.db"),
                               "--employees", str(args.employees), "--passes", str(args.passes)],
                              cwd=code, env=env, capture_output=True, text=True, check=False)
    found = [line[len(MARK):] for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode or not found:
        print(f"the measuring process failed (exit {done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr)
        return 1
    result = json.loads(found[0])
    print_table(f"An idle follower pass ({args.passes} passes, {args.employees} employees, SQLite; code: {code})", [
        {"measure": "one read of the follower's state (baseline)", "per pass": result["baseline_ms"], "unit": "ms"},
        {"measure": "Follower.tick(), nothing new (p50)", "per pass": result["pass_ms"], "unit": "ms"},
        {"measure": "write statements", "per pass": result["writes_per_pass"],
         "a day (one pass a second)": result["writes_per_pass"] * 86400, "unit": "statements"},
        {"measure": "bytes added to the write-ahead log", "per pass": result["wal_bytes_per_pass"],
         "a day (one pass a second)": result["wal_bytes_per_pass"] * 86400 / 2**20, "unit": "bytes (a day: MB)"},
    ], ["measure", "per pass", "a day (one pass a second)", "unit"])
    write_json("follower_idle", {"code": str(code), "employees": args.employees, "passes": args.passes, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
