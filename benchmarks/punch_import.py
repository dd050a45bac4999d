"""Punch import benchmark (打卡记录导入): the largest file the console takes, checked and imported, against the bare
write of the same punches in the same run.

Measured in one child process on a throwaway SQLite database with the central's own settings, each run on a fresh
site of ``--employees`` people on 白班 09:00-18:00 (weekends off) and a CSV of their last ``--days`` days (an in and an
out each working day, about 20,000 rows for 450 people and 31 days, :data:`central.attendance.punch_import.MAX_CONSOLE_ROWS`):

* **read**: the CSV into rows (``punch_import.read``);
* **check**: what 检查 Check does, every row against the database (``punch_import.plan``);
* **import**: what 导入 Import does (``punch_import.apply``: the check again, the write, the audit entry, and the days
  recomputed, at once for a file this size);
* **the baseline in the same run**: ``store_punches`` of the same punches alone (the ingest's write), in one
  transaction: what any import must at least spend;
* **the follower's next pass**: ``Follower.tick()`` of the receiver right after the import, which sees the imported
  punches arrive (how long, and how many employees it recomputed: the import's own job has counted them).

The console's two requests are read + check and import: each must stay well inside gunicorn's 60 s. Medians of
``--runs`` runs.

    python -m benchmarks.punch_import [--employees 450] [--days 31] [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.central import RESULT_MARK, log, run_central_child
from benchmarks.common import print_table, write_json


def child(args: argparse.Namespace) -> dict[str, Any]:
    from central.django_setup import migrate, setup

    setup(args.db)
    migrate()
    from datetime import time as clock
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from django.db import transaction
    from django.utils import timezone as dj_timezone

    from central.accounts.models import Role, User
    from central.attendance import punch_import
    from central.attendance.models import AttendanceProfile, DailyRecord, RecomputeJob, ShiftType, SiteCalendar
    from central.attendance.services import WATERMARK_KEY, Follower
    from central.ingest.handler import store_punches
    from central.ingest.models import State
    from central.people.models import Employee, Site

    zone = ZoneInfo("Asia/Shanghai")
    root = User.objects.create_user("root", password="root-password-2026", is_superuser=True, role=Role.HR_ADMIN)
    shift = ShiftType.objects.create(name="白班", start=clock(9), end=clock(18), checkin_before_min=120,
                                     checkout_after_min=240, late_grace_min=5, early_grace_min=0)
    today = dj_timezone.now().astimezone(zone).date()
    days = [today - timedelta(days=d) for d in range(args.days, 0, -1)]
    workdays = [d for d in days if d.weekday() < 5]
    runs: list[dict[str, Any]] = []
    follower = Follower()
    for run in range(args.runs):
        site = Site.objects.create(code=f"plant-{run}", name=f"plant {run}", time_zone="Asia/Shanghai")
        SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
        staff = Employee.objects.bulk_create([Employee(number=f"R{run}-{i:04d}", name=f"员工{i}", site=site)
                                              for i in range(args.employees)])
        AttendanceProfile.objects.bulk_create([AttendanceProfile(employee=e, default_shift=shift) for e in staff])
        lines = ["工号,打卡时间,方向"]
        for i, employee in enumerate(staff):
            for d in workdays:
                lines.append(f"{employee.number},{d} 08:{(i + d.day) % 60:02d}:17,上班")
                lines.append(f"{employee.number},{d} 18:{(i * 7 + d.day) % 60:02d}:41,下班")
        data = ("\n".join(lines) + "\n").encode("utf-8")
        t0 = time.perf_counter()
        table = punch_import.read("transactions.csv", data)
        t1 = time.perf_counter()
        checked = punch_import.plan(root, table)
        t2 = time.perf_counter()
        if not checked.ok or len(checked.punches) != len(lines) - 1:
            raise RuntimeError("the generated file did not check clean")
        # the baseline: the same punches written alone, then taken back so the import finds none of them stored
        now = dj_timezone.now()
        values = [{**p, "id": f"base-{k}", "batch_id": "baseline", "received_at": now} for k, p in enumerate(checked.punches)]
        with transaction.atomic():
            t3 = time.perf_counter()
            for k in range(0, len(values), 1000):
                store_punches(values[k:k + 1000])
            t4 = time.perf_counter()
            transaction.set_rollback(True)
        # the receiver's follower is up to date before the import (its watermark now, nothing queued)
        State.objects.update_or_create(key=WATERMARK_KEY, defaults={"value": dj_timezone.now().isoformat()})
        while True:
            follower.tick()
            if not RecomputeJob.objects.filter(state__in=(RecomputeJob.PENDING, RecomputeJob.RUNNING)).exists():
                break
        t5 = time.perf_counter()
        done = punch_import.apply(root, table, source="transactions.csv", actor="bench")
        t6 = time.perf_counter()
        present = DailyRecord.objects.filter(employee__site=site, status="present").count()
        after = follower.tick()
        t7 = time.perf_counter()
        runs.append({"rows": len(lines) - 1, "read_s": t1 - t0, "check_s": t2 - t1, "import_s": t6 - t5,
                     "baseline_write_s": t4 - t3, "punches": done.punches, "present_records": present,
                     "recomputed_inline": not hasattr(done.recomputed, "pk"), "follower_pass_s": t7 - t6,
                     "follower_pass_employees": after.employees})
        log(f"  run {run + 1}: {len(lines) - 1:,} rows: read {t1 - t0:.2f} s, check {t2 - t1:.2f} s, import "
            f"{t6 - t5:.2f} s (write alone {t4 - t3:.2f} s); {present:,} present records; the follower's next pass "
            f"{t7 - t6:.2f} s ({after.employees} employees)")
    return {"employees": args.employees, "days": args.days, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.punch_import", description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=450, help="employees of the site, each in the file")
    parser.add_argument("--days", type=int, default=31, help="days back from yesterday the file covers")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(RESULT_MARK + json.dumps(child(args)), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="seed-bench-punch-import-") as tmp:
        options = ["--employees", str(args.employees), "--days", str(args.days), "--runs", str(args.runs)]
        result = run_central_child("benchmarks.punch_import", "punch_import", str(Path(tmp) / "central.db"), options)
    runs = result["runs"]

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    rows = runs[0]["rows"]
    print_table(f"Importing {rows:,} punches of {result['employees']} employees ({result['days']} days), SQLite; "
                f"medians of {len(runs)} runs", [
                    {"step": "read the CSV (punch_import.read)", "seconds": median("read_s")},
                    {"step": "check every row (punch_import.plan): the console's 检查", "seconds": median("check_s")},
                    {"step": "import: checked again, written, audited, days recomputed (the console's 导入)",
                     "seconds": median("import_s")},
                    {"step": "baseline: store_punches of the same punches alone", "seconds": median("baseline_write_s")},
                    {"step": f"the follower's next pass, seeing the punches arrive (recomputed "
                             f"{median('follower_pass_employees'):.0f} employees)", "seconds": median("follower_pass_s")},
                ], ["step", "seconds"])
    write_json("punch_import", {**result, "medians": {k: median(k) for k in
                                                      ("read_s", "check_s", "import_s", "baseline_write_s",
                                                       "follower_pass_s", "follower_pass_employees")}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
