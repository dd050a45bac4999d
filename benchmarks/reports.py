"""Reports benchmark: the monthly sheet (考勤月报) of a generated month as XLSX and PDF, 1,000 and 10,000 employees.

The plant and its month are the attendance benchmark's (``benchmarks.attendance``: a three-shift rotation
and a day shift, about 110 punches per employee in March 2026 with absences, late and early punches,
missing outs, overtime), stored with the ingest's own ``store_punches`` and turned into daily records by
``services.recompute`` on SQLite: set-up, not measured.

Measured, each run in its own fresh process (Django set up, the database open) so that peak memory is the
run's own: ``registry.build("monthly", …)`` for March, then the writer to a file. Time of the build and of
the writer; memory as the process's peak RSS (``ru_maxrss``) against its RSS before the build. The
baseline, in the same run: the build alone (no writer) and the CSV writer, the simplest one. Medians of
``--runs`` runs (3), the formats interleaved. The aims (issue 11): 1,000 employees under 10 s for XLSX and
under 20 s for PDF on this machine; 10,000 without running out of memory.

    python -m benchmarks.reports [--employees 1000,10000] [--runs 3] [--formats build,csv,xlsx,pdf]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.attendance import child_seed, peak_rss_mb, rss_mb
from benchmarks.central import RESULT_MARK, run_central_child
from benchmarks.common import print_table, write_json

AIMS_S = {(1000, "xlsx"): 10.0, (1000, "pdf"): 20.0}
FIRST, LAST = date(2026, 3, 1), date(2026, 3, 31)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def child_seed_month(args: argparse.Namespace) -> dict[str, Any]:
    """The attendance benchmark's plant and March punches, then the month's daily records."""
    seeded = child_seed(args)
    from central.attendance.models import DailyRecord
    from central.attendance.services import recompute

    began = time.perf_counter()
    recompute(FIRST, LAST, actor="benchmark")
    seeded["recompute_s"] = time.perf_counter() - began
    seeded["records"] = DailyRecord.objects.count()
    log(f"  {seeded['records']:,} daily records in {seeded['recompute_s']:.0f} s")
    return seeded


def child_render(args: argparse.Namespace) -> dict[str, Any]:
    from central.django_setup import setup

    setup(args.db)
    from central.accounts.models import User
    from central.reports import registry
    from central.reports.registry import ReportParams

    User.objects.exists()  # the connection open and the models loaded before the baseline
    gc.collect()
    before = rss_mb()
    user = User(username="benchmark", is_superuser=True)
    began = time.perf_counter()
    report = registry.build("monthly", user, ReportParams(FIRST, LAST))
    built = time.perf_counter() - began
    result: dict[str, Any] = {"format": args.fmt, "build_s": built, "rows": len(report.parts[0].rows),
                              "columns": len(report.parts[0].columns)}
    if args.fmt != "build":
        path = Path(args.out)
        began = time.perf_counter()
        with path.open("wb") as out:
            registry.render(report, args.fmt, out)
        result["write_s"] = time.perf_counter() - began
        result["bytes"] = path.stat().st_size
        path.unlink()
    result["total_s"] = built + result.get("write_s", 0.0)
    result["rss_before_mb"] = before
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def med(values: list[float]) -> float:
    return statistics.median(values)


def measure(employees: int, tmp: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    db = str(tmp / f"central-{employees}.db")
    log(f"reports: seeding {employees:,} employees and March 2026 (set-up, not measured)")
    run_central_child("benchmarks.reports", "seed", db, ["--employees", str(employees)])
    runs: dict[str, list[dict[str, Any]]] = {fmt: [] for fmt in args.formats}
    for r in range(args.runs):
        for fmt in args.formats:
            one = run_central_child("benchmarks.reports", "render", db,
                                    ["--fmt", fmt, "--out", str(tmp / f"monthly.{fmt}")])
            runs[fmt].append(one)
            log(f"  {employees:,} employees, run {r + 1}/{args.runs}, {fmt}: {one['total_s']:.1f} s, "
                f"peak RSS {one['peak_rss_mb']:.0f} MB")
    rows = []
    for fmt, xs in runs.items():
        aim = AIMS_S.get((employees, fmt))
        rows.append({
            "employees": employees, "format": fmt if fmt != "build" else "build only (baseline)",
            "build s": med([x["build_s"] for x in xs]),
            "write s": med([x["write_s"] for x in xs]) if fmt != "build" else None,
            "total s": med([x["total_s"] for x in xs]),
            "min–max s": f"{min(x['total_s'] for x in xs):.1f}–{max(x['total_s'] for x in xs):.1f}",
            "peak RSS MB": med([x["peak_rss_mb"] for x in xs]),
            "RSS before MB": med([x["rss_before_mb"] for x in xs]),
            "file MB": med([x["bytes"] / 2**20 for x in xs]) if fmt != "build" else None,
            "aim": f"< {aim:.0f} s" if aim else "",
            "rows x columns": f"{xs[0]['rows']:,} x {xs[0]['columns']}",
            "runs": xs,
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reports", description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", default="1000,10000", help="comma-separated sizes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default="build,csv,xlsx,pdf")
    parser.add_argument("--child", choices=("seed", "render"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--fmt", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        if args.child == "seed":
            args.employees = int(args.employees)
        result = child_seed_month(args) if args.child == "seed" else child_render(args)
        print(RESULT_MARK + json.dumps(result, ensure_ascii=False, default=str), flush=True)
        return 0
    args.formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    sizes = [int(n) for n in args.employees.split(",")]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="seed-bench-reports-") as tmp:
        for n in sizes:
            rows += measure(n, Path(tmp), args)
    print_table(f"The monthly sheet of March 2026 on SQLite; medians of {args.runs} runs, each in its own process; "
                f"{os.cpu_count()} shared CPUs", rows,
                ["employees", "format", "rows x columns", "build s", "write s", "total s", "min–max s", "peak RSS MB",
                 "RSS before MB", "file MB", "aim"])
    write_json("reports", {"runs": args.runs, "results": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
