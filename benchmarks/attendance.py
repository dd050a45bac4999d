"""Attendance benchmark: a generated month of a three-shift plant, recomputed in bulk and followed batch by batch.

The plant: one site (Asia/Shanghai, weekly rest Saturday and Sunday), ``--employees`` employees
(10,000 by default): four crews (甲乙丙丁) on a three-shift rotation (三班倒, 四班三倒: morning
06:00-14:00, afternoon 14:00-22:00, night 22:00-06:00; two of each then two rest days, the crews
two days apart, assigned to the crew's department) and a fifth of the staff on a fixed day shift
(08:00-17:00, lunch 12:00-13:00, unpaid) as their default shift. Every worked occurrence has an in
and an out punch, a meal break out/in, on rotating shifts a short break out/in, with noise: absent
(3%), late (8%), early out (4%), missing out (3%), skipped breaks, overtime, double taps. About
1.1 million punches for March 2026, stored with ``store_punches`` (the ingest's own upsert) in
batches of 500, many to a transaction: the insert is set-up, not measured.

Measured, on SQLite and on PostgreSQL (a throwaway cluster, ``fsync=off``, as ``benchmarks.central``):

1. **The month**: ``services.recompute(2026-03-01, 2026-03-31)`` for every employee, once on an empty
   DailyRecord table and once more with nothing changed (it must write nothing). Each run is its own
   process: wall time of ``recompute()`` alone, and memory as the process's peak RSS
   (``resource.getrusage``, ``ru_maxrss``) against its RSS just before the call (Django loaded). RSS,
   not tracemalloc, because tracemalloc slows the run it measures several times over. ``--runs`` runs
   (3), interleaved: empty, unchanged, floor. The floor is reading the punches the month needs with a
   plain cursor (no engine, no writes).
2. **Incremental**: the following days' punches (April 1-2) as terminals send them, batches of 500 in
   time order, each through ``Ingest.handle()`` (the receiver's real path), then one ``Follower.tick()``.
   The tick's time per batch (median, p95) against the ingest time of the same batch. The follower's
   watermark starts at the month's last punch; its first passes (which also set each site's finality
   frontier and recompute the last days of everyone through the queue) are timed on their own, as are the
   passes after every terminal reports an empty outbox 8 hours later (a shift's days turning final across
   the site): how many, the longest (what a new punch may wait) and all together. On SQLite the write-ahead
   log is checkpointed by a thread every second, as ``seed-central run`` does (``central.sqlite_checkpoints``).

Each database runs in child processes (Django is set up once per process); children print one JSON line.
The machine is shared: compare rows of one run with each other.

    python -m benchmarks.attendance [--employees 10000] [--runs 3] [--batches 150] [--no-postgresql] [--profile] [--parts]
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks.central import RESULT_MARK, log, percentile, postgres_cluster, run_central_child
from benchmarks.common import print_table, write_json

REPO = Path(__file__).resolve().parent.parent
SITE = "plant"
BATCH = 500
GATES = [f"gate-{i:02d}" for i in range(1, 21)]
FIRST, LAST = date(2026, 3, 1), date(2026, 3, 31)
NEXT_DAYS = [date(2026, 4, 1), date(2026, 4, 2)]  # the incremental stream
OFFSET = timedelta(hours=8)  # Asia/Shanghai has no daylight saving
NOW_LOCAL = datetime(2026, 4, 3, 0, 0)  # the clock of every run: March is past, its last night still closing
DRAINED_LOCAL = datetime(2026, 4, 1, 7, 0)  # every terminal's last report of an empty outbox
MONTH_AIM_S = 60.0
TICK_AIM_MS = 50.0
UTC = timezone.utc
CREWS = ["甲班", "乙班", "丙班", "丁班"]
PATTERN = ["morning", "morning", "afternoon", "afternoon", "night", "night", None, None]


def utc(local: datetime) -> datetime:
    return (local - OFFSET).replace(tzinfo=UTC)


# -- the plant ---------------------------------------------------------------------------------------------
def seed_plant(employees: int) -> dict[str, Any]:
    from datetime import time as t

    from central.attendance.models import Assignment, AttendanceProfile, OvertimeRule, Rotation, ShiftType, SiteCalendar
    from central.people.models import Department, Device, Employee, Site

    site = Site.objects.create(code=SITE, name="苏州三厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6], final_wait_h=168)
    ot = OvertimeRule.objects.create(name="加班", min_minutes=30, step_min=30, requires_approval=True)
    common = {"checkin_before_min": 60, "checkout_after_min": 120, "late_grace_min": 5, "early_grace_min": 0,
              "overtime": ot}
    shifts = {
        "morning": ShiftType.objects.create(name="早班", start=t(6), end=t(14), hours="pairs",
                                            half_day_below_h="4.00", absent_below_h="1.00", **common),
        "afternoon": ShiftType.objects.create(name="中班", start=t(14), end=t(22), hours="pairs",
                                              half_day_below_h="4.00", absent_below_h="1.00", **common),
        "night": ShiftType.objects.create(name="夜班", start=t(22), end=t(6), hours="pairs",
                                          half_day_below_h="4.00", absent_below_h="1.00", **common),
        "day": ShiftType.objects.create(name="常日班", start=t(8), end=t(17), breaks=[{"start": "12:00", "end": "13:00"}],
                                        **common),
    }
    departments = []
    for i, crew in enumerate(CREWS):
        dept = Department.objects.create(site=site, name=f"生产{crew}")
        rotation = Rotation.objects.create(name=f"四班三倒{crew}", anchor=FIRST - timedelta(days=2 * i),
                                           pattern=[shifts[x].pk if x else None for x in PATTERN])
        Assignment.objects.create(department=dept, rotation=rotation, start=date(2026, 1, 1))
        departments.append(dept)
    day_dept = Department.objects.create(site=site, name="行政与仓储")
    rows = []
    for i in range(employees):
        on_day = i % 5 == 4
        rows.append(Employee(number=f"E{i:05d}", name=f"员工{i}", site=site,
                             department=day_dept if on_day else departments[i % 4], card=str(4_000_000_000 + i)))
    Employee.objects.bulk_create(rows, batch_size=1000)
    made = list(Employee.objects.order_by("pk"))
    AttendanceProfile.objects.bulk_create([
        AttendanceProfile(employee=emp, joined=date(2025, 1, 1), default_shift=shifts["day"] if emp.department_id == day_dept.pk
                          else None, overtime_listed=k % 3 == 0) for k, emp in enumerate(made)], batch_size=1000)
    now = utc(NOW_LOCAL)
    for gate in GATES:
        Device.objects.create(device_id=gate, site=site, online=True, first_seen_at=now, last_seen_at=now,
                              drained_at=utc(DRAINED_LOCAL))
    return {"site": site.pk}


def schedule_of(index: int, day: date) -> str | None:
    """What the generator makes employee ``index`` work on ``day`` (the plant's rules, repeated here)."""
    if index % 5 == 4:
        return "day" if day.weekday() < 5 else None
    anchor = FIRST - timedelta(days=2 * (index % 4))
    return PATTERN[(day - anchor).days % len(PATTERN)]


STARTS = {"morning": 6, "afternoon": 14, "night": 22, "day": 8}


def day_punches(rng: random.Random, employees: int, day: date) -> list[tuple[datetime, str, str]]:
    """(local time, employee number, direction) of every punch of the occurrences dated ``day``."""
    out: list[tuple[datetime, str, str]] = []
    for i in range(employees):
        kind = schedule_of(i, day)
        if kind is None or rng.random() < 0.03:  # rest, or absent
            continue
        number = f"E{i:05d}"
        start = datetime.combine(day, datetime.min.time()) + timedelta(hours=STARTS[kind])
        end = start + timedelta(hours=9 if kind == "day" else 8)
        marks: list[tuple[datetime, str]] = []
        late = rng.random() < 0.08
        marks.append((start + timedelta(minutes=rng.uniform(6, 40)) if late else start - timedelta(minutes=rng.uniform(1, 30)),
                      "in"))
        if kind == "day":
            if rng.random() < 0.85:
                out_at = start + timedelta(hours=4, minutes=rng.uniform(-10, 10))
                marks += [(out_at, "out"), (out_at + timedelta(minutes=rng.uniform(45, 65)), "in")]
        else:
            if rng.random() < 0.5:
                tea = start + timedelta(hours=2, minutes=rng.uniform(-20, 20))
                marks += [(tea, "out"), (tea + timedelta(minutes=rng.uniform(10, 15)), "in")]
            if rng.random() < 0.9:
                meal = start + timedelta(hours=4, minutes=rng.uniform(-15, 15))
                marks += [(meal, "out"), (meal + timedelta(minutes=rng.uniform(25, 35)), "in")]
        roll = rng.random()
        if roll >= 0.03:  # else the out is missing
            if roll < 0.07:
                leave = end - timedelta(minutes=rng.uniform(5, 60))
            elif roll < 0.12:
                leave = end + timedelta(minutes=rng.uniform(30, 110))
            else:
                leave = end + timedelta(minutes=rng.uniform(0, 25))
            marks.append((leave, "out"))
        for at, way in marks:
            out.append((at, number, way))
            if rng.random() < 0.08:  # a double tap
                out.append((at + timedelta(seconds=rng.uniform(3, 20)), number, way))
    out.sort()
    return out


def punch_row(at_local: datetime, number: str, way: str, gate: str, batch: str) -> dict[str, Any]:
    at = utc(at_local)
    return {"id": str(uuid.uuid4()), "site": SITE, "device_id": gate, "employee_number": number, "direction": way,
            "method": "face", "score": 0.31, "punched_at": at, "boot_id": "boot-1", "monotonic_ns": 0,
            "time_source": "ntp", "original_punched_at": None, "restamped_at": None, "batch_id": batch,
            "received_at": at + timedelta(seconds=3)}


def child_seed(args: argparse.Namespace) -> dict[str, Any]:
    from central.django_setup import migrate, setup

    setup(args.db)
    migrate()
    from django.db import connection, transaction

    from central.ingest.handler import store_punches

    began = time.perf_counter()
    seed_plant(args.employees)
    rng = random.Random(20260301)
    total, inserting = 0, 0.0
    day = FIRST
    while day <= LAST:
        punches = day_punches(rng, args.employees, day)
        started = time.perf_counter()
        for k in range(0, len(punches), 10 * BATCH):
            with transaction.atomic():
                for j in range(k, min(len(punches), k + 10 * BATCH), BATCH):
                    batch_id = str(uuid.uuid4())
                    store_punches([punch_row(at, number, way, GATES[(j // BATCH) % len(GATES)], batch_id)
                                   for at, number, way in punches[j:j + BATCH]])
        inserting += time.perf_counter() - started
        total += len(punches)
        day += timedelta(days=1)
    if connection.vendor == "postgresql":  # what autovacuum would have done after a month of inserts
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    log(f"  {connection.vendor}: {args.employees:,} employees, {total:,} punches in {time.perf_counter() - began:.0f} s")
    return {"database": connection.vendor, "employees": args.employees, "punches": total,
            "seed_s": time.perf_counter() - began, "insert_punches_s": inserting}


# -- the month -----------------------------------------------------------------------------------------------
def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def child_month(args: argparse.Namespace) -> dict[str, Any]:
    """One measured run in a fresh process: ``--state empty`` (records deleted first), ``unchanged`` or ``floor``."""
    from central.django_setup import setup

    setup(args.db)
    from django.db import connection

    from central.attendance.models import DailyRecord
    from central.attendance.services import recompute
    from central.ingest.models import Punch

    if args.state == "empty":
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {connection.ops.quote_name(DailyRecord._meta.db_table)}")
    list(DailyRecord.objects.all()[:1])  # the connection is open and the models loaded before the baseline
    gc.collect()
    before, peak_before = rss_mb(), peak_rss_mb()
    now = utc(NOW_LOCAL)
    began = time.perf_counter()
    profiler = cProfile.Profile() if args.profile and args.state != "floor" else None
    result: dict[str, Any] = {"database": connection.vendor, "state": args.state}
    if args.state == "floor":
        qn = connection.ops.quote_name
        meta = Punch._meta
        cols = ", ".join(qn(meta.get_field(n).column) for n in ("id", "employee_number", "punched_at", "direction"))
        adapt = connection.ops.adapt_datetimefield_value
        sql = (f"SELECT {cols} FROM {qn(meta.db_table)} WHERE {qn(meta.get_field('punched_at').column)} >= %s "
               f"AND {qn(meta.get_field('punched_at').column)} < %s")
        with connection.cursor() as cur:
            cur.execute(sql, [adapt(utc(datetime(2026, 2, 25))), adapt(utc(datetime(2026, 4, 4)))])
            n = 0
            while rows := cur.fetchmany(20000):
                n += len(rows)
        result["rows"] = n
    else:
        if profiler:
            profiler.enable()
        outcome = recompute(FIRST, LAST, now=now)
        if profiler:
            profiler.disable()
        result.update(employees=outcome.employees, written=outcome.written, deleted=outcome.deleted,
                      records=DailyRecord.objects.count())
    result.update(seconds=time.perf_counter() - began, rss_before_mb=before, peak_rss_mb=max(peak_rss_mb(), peak_before),
                  growth_mb=max(peak_rss_mb(), peak_before) - before)
    if profiler:
        result["profile"] = top_functions(profiler)
        result["profile_cumulative"] = top_functions(profiler, key=3)
    return result


def top_functions(profiler: cProfile.Profile, n: int = 25, key: int = 2) -> list[dict[str, Any]]:
    """The top ``n`` functions by own time (``key=2``) or cumulative time (3)."""
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda kv: kv[1][key], reverse=True)[:n]
    return [{"function": f"{Path(k[0]).name}:{k[1]}({k[2]})", "own_s": v[2], "cum_s": v[3], "calls": v[1]}
            for k, v in rows]


# -- incremental ---------------------------------------------------------------------------------------------
def settle(follower: Any, now: datetime) -> dict[str, Any]:
    """Follower passes until no recompute is queued (days turning final go through the queue a chunk of employees
    at a time): how many passes, the longest (what a new punch may wait), and all of them together."""
    from central.attendance.models import RecomputeJob

    passes: list[float] = []
    employees = written = 0
    while True:
        began = time.perf_counter()
        outcome = follower.tick(now=now)
        passes.append(time.perf_counter() - began)
        employees, written = employees + outcome.employees, written + outcome.written
        if not RecomputeJob.objects.filter(state__in=(RecomputeJob.PENDING, RecomputeJob.RUNNING)).exists():
            break
    return {"seconds": sum(passes), "ticks": len(passes), "longest_s": max(passes), "employees": employees,
            "written": written}


# what --parts times inside each tick: (module, function, label); indented labels are parts of the one above them
TICK_PARTS = (
    ("central.attendance.services", "_arrived", "the new punches and their employees (one join)"),
    ("central.attendance.rules_cache", "RulesCache.current", "the rules (kept; finality read every pass)"),
    ("central.attendance.services", "load_employees", "reading the touched employees' inputs"),
    ("central.attendance.inputs", "plans", "  profiles, assignments, schedules"),
    ("central.attendance.engine", "touched", "  the occurrences holding the new punches"),
    ("central.attendance.inputs", "_punch_rows", "  their punches (statement and rows)"),
    ("central.attendance.inputs", "_record_rows", "  their records (statement and rows)"),
    ("central.attendance.inputs", "_record_from_row", "  their records as the engine's"),
    ("central.attendance.services", "_run_one", "the rules for each employee (engine.evaluate)"),
    ("central.attendance.services", "_update_records", "UPDATE of the changed records"),
    ("central.attendance.services", "_insert_records", "INSERT of new records"),
    ("django.db.backends.base.base", "BaseDatabaseWrapper.commit", "the commit"),
    ("central.attendance.services", "_read_states", "reading the watermark, frontiers and rules token"),
    ("central.attendance.services", "_set_state", "writing the watermark"),
    ("central.attendance.services", "Follower.finality", "finality of the sites"),
)
DATABASE_PARTS = ("_arrived", "_punch_rows", "_record_rows", "_update_records", "_insert_records",
                  "BaseDatabaseWrapper.commit", "_read_states", "_set_state")  # statements, rows and their values


class TickParts:
    """``--parts``: wall time spent in each of TICK_PARTS during one tick, by wrapping those functions for the run
    (generators timed at each step). A measuring tool only: the wrappers add about a microsecond a call."""

    def __init__(self) -> None:
        self.now: dict[str, float] = {}
        self.ticks: list[dict[str, float]] = []
        self.saved: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> TickParts:
        import importlib
        import inspect
        for module_name, dotted, _label in TICK_PARTS:
            owner: Any = importlib.import_module(module_name)
            *path, name = dotted.split(".")
            for part in path:
                owner = getattr(owner, part)
            original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
            self.saved.append((owner, name, original))
            setattr(owner, name, self._wrap(dotted.split(".")[-1], original, inspect.isgeneratorfunction(original)))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self.saved):
            setattr(owner, name, original)

    def _wrap(self, key: str, f: Any, generator: bool) -> Any:
        spent = self.now

        def timed(*a: Any, **k: Any) -> Any:
            began = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - began

        def timed_steps(*a: Any, **k: Any) -> Any:
            steps = f(*a, **k)
            while True:
                began = time.perf_counter()
                try:
                    item = next(steps)
                except StopIteration:
                    spent[key] = spent.get(key, 0.0) + time.perf_counter() - began
                    return
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - began
                yield item
        return timed_steps if generator else timed

    def start_tick(self) -> None:
        self.now.clear()

    def end_tick(self, total_s: float) -> None:
        self.ticks.append({**self.now, "tick": total_s})

    def medians_ms(self) -> list[dict[str, Any]]:
        def median(key: str) -> float:
            return statistics.median(t.get(key, 0.0) for t in self.ticks) * 1000
        rows = [{"part": label, "p50 ms": median(dotted.split(".")[-1])} for _m, dotted, label in TICK_PARTS]
        top = [dotted.split(".")[-1] for _m, dotted, label in TICK_PARTS if not label.startswith(" ")]
        rest = statistics.median(t["tick"] - sum(t.get(k, 0.0) for k in top) for t in self.ticks) * 1000
        database = statistics.median(sum(t.get(k, 0.0) for k in DATABASE_PARTS) for t in self.ticks) * 1000
        return [{"part": "the whole tick", "p50 ms": median("tick")}, *rows,
                {"part": "the rest (comparing, preparing rows, local times, the loop)", "p50 ms": rest},
                {"part": "of the tick: statements, their rows and values (database)", "p50 ms": database}]


def child_incremental(args: argparse.Namespace) -> dict[str, Any]:
    from central.django_setup import setup

    setup(args.db)
    from django.db import connection
    from django.db.models import F, Max

    from central.attendance.services import WATERMARK_KEY, Follower
    from central.ingest.handler import Ingest
    from central.ingest.models import Punch, State
    from central.people.models import Device
    from central.sqlite_checkpoints import CheckpointThread
    from contract import protocol as p
    from terminal.ids import uuid7

    now = utc(NOW_LOCAL)
    # as in ``seed-central run``: SQLite's checkpoints in a thread, not inside the ingest's and the follower's commits
    checkpoints = CheckpointThread(1.0).start() if connection.vendor == "sqlite" else None
    connection.close()  # this thread's connection opened again, without checkpoints in its commits
    newest = Punch.objects.aggregate(m=Max("received_at"))["m"]
    State.objects.update_or_create(key=WATERMARK_KEY, defaults={"value": newest.isoformat()})
    ingest, follower = Ingest(), Follower()
    first_tick = settle(follower, now)
    log(f"  {connection.vendor}: first ticks {first_tick['seconds']:.1f} s in {first_tick['ticks']} passes, the longest "
        f"{first_tick['longest_s']:.2f} s ({first_tick['employees']:,} employees, {first_tick['written']:,} written)")

    rng = random.Random(20260401)
    stream = [x for day in NEXT_DAYS for x in day_punches(rng, args.employees, day)]
    bodies = []
    for k in range(0, min(len(stream), (args.batches + args.warmup) * BATCH), BATCH):
        gate = GATES[(k // BATCH) % len(GATES)]
        punches = [{"id": uuid7(), "device_id": gate, "employee_number": number, "direction": way, "method": "face",
                    "score": 0.31, "punched_at": p.utc_stamp(utc(at)), "boot_id": "boot-1", "monotonic_ns": k + j,
                    "time_source": "ntp", "original_punched_at": None, "restamped_at": None}
                   for j, (at, number, way) in enumerate(stream[k:k + BATCH])]
        bodies.append((p.device_topic(SITE, gate, "punches"), p.dumps({"batch": str(uuid.uuid4()), "punches": punches})))
    rows = []
    profiler = cProfile.Profile() if args.profile else None
    parts = TickParts() if args.parts else None
    for i, (topic, body) in enumerate(bodies):
        t0 = time.perf_counter()
        replies = ingest.handle(topic, body)
        t1 = time.perf_counter()
        if profiler and i >= args.warmup:
            profiler.enable()
        if parts and i >= args.warmup:
            with parts:
                parts.start_tick()
                outcome = follower.tick(now=now)
                parts.end_tick(time.perf_counter() - t1)
        else:
            outcome = follower.tick(now=now)
        if profiler:
            profiler.disable()
        t2 = time.perf_counter()
        if len(replies) != 1 or json.loads(replies[0].payload)["rejected"]:
            raise RuntimeError("a batch was not stored whole")
        if i >= args.warmup:
            rows.append({"ingest_ms": (t1 - t0) * 1000, "tick_ms": (t2 - t1) * 1000, "employees": outcome.employees,
                         "written": outcome.written})
    ingest_ms, tick_ms = [r["ingest_ms"] for r in rows], [r["tick_ms"] for r in rows]
    log(f"  {connection.vendor}: {len(rows)} batches, tick p50 {statistics.median(tick_ms):.1f} ms, "
        f"ingest p50 {statistics.median(ingest_ms):.1f} ms")
    Device.objects.update(drained_at=F("drained_at") + timedelta(hours=8))
    final_tick = settle(follower, now)
    if checkpoints:
        checkpoints.stop()
    result = {"database": connection.vendor, "batches": len(rows), "warmup_batches": args.warmup, "batch": BATCH,
              "tick_ms": {"median": statistics.median(tick_ms), "p95": percentile(tick_ms, 95), "max": max(tick_ms)},
              "ingest_ms": {"median": statistics.median(ingest_ms), "p95": percentile(ingest_ms, 95), "max": max(ingest_ms)},
              "employees_per_batch": statistics.median(r["employees"] for r in rows),
              "records_written_per_batch": statistics.median(r["written"] for r in rows),
              "first_tick": first_tick, "shift_turns_final_tick": final_tick}
    if parts:
        result["parts"] = parts.medians_ms()
    if checkpoints:
        result["checkpointed_pages"] = checkpoints.pages_copied
    if profiler:
        result["profile"] = top_functions(profiler)
        result["profile_cumulative"] = top_functions(profiler, key=3)
    return result


# -- parent ----------------------------------------------------------------------------------------------------
def run_child(kind: str, db: str, args: argparse.Namespace, state: str = "") -> dict[str, Any]:
    options = ["--employees", str(args.employees), "--batches", str(args.batches), "--warmup", str(args.warmup)]
    if state:
        options += ["--state", state]
    if args.profile:
        options.append("--profile")
    if args.parts:
        options.append("--parts")
    return run_central_child("benchmarks.attendance", kind, db, options)


def summary(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values}


def measure(db: str, args: argparse.Namespace) -> dict[str, Any]:
    seeded = run_child("seed", db, args)
    runs: dict[str, list[dict[str, Any]]] = {"empty": [], "unchanged": [], "floor": []}
    for r in range(args.runs):
        for state in runs:
            runs[state].append(run_child("month", db, args, state))
        log(f"  {seeded['database']} month run {r + 1}/{args.runs}: "
            + ", ".join(f"{k} {v[-1]['seconds']:.1f} s" for k, v in runs.items()))
    for one in runs["unchanged"]:
        if one["written"]:
            raise RuntimeError(f"a recompute with nothing changed wrote {one['written']} records")
    month = {state: {"seconds": summary([x["seconds"] for x in xs]), "peak_rss_mb": summary([x["peak_rss_mb"] for x in xs]),
                     "growth_mb": summary([x["growth_mb"] for x in xs]), "runs": xs} for state, xs in runs.items()}
    incremental = run_child("incremental", db, args) if args.batches else None
    return {"seed": seeded, "month": month, "incremental": incremental}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.attendance", description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of the month per database (each state)")
    parser.add_argument("--batches", type=int, default=150, help="measured incremental batches of 500 (0: none)")
    parser.add_argument("--warmup", type=int, default=5, help="incremental batches before the measured ones")
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the recompute and the ticks (slower runs)")
    parser.add_argument("--parts", action="store_true",
                        help="time the parts of each follower tick (its functions wrapped; the tick's own times are "
                             "then taken with the wrappers)")
    parser.add_argument("--child", choices=("seed", "month", "incremental"), help=argparse.SUPPRESS)
    parser.add_argument("--state", choices=("empty", "unchanged", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kinds = {"seed": child_seed, "month": child_month, "incremental": child_incremental}
        print(RESULT_MARK + json.dumps(kinds[args.child](args), ensure_ascii=False, default=str), flush=True)
        return 0

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="seed-bench-attendance-") as tmp, \
            postgres_cluster([] if args.no_postgresql else ["seed_attendance"]) as (pg, pg_note):
        if args.no_postgresql:
            pg_note = "PostgreSQL skipped (--no-postgresql)"
        print(pg_note)
        targets = {"sqlite": str(Path(tmp) / "central.db")}
        if pg:
            targets["postgresql"] = pg["seed_attendance"]
        for name, db in targets.items():
            log(f"attendance on {name}: seeding {args.employees:,} employees and a month of punches")
            results[name] = measure(db, args)

    rows = []
    labels = {"empty": "recompute(), empty DailyRecord table", "unchanged": "recompute() again, nothing changed",
              "floor": "floor: read the month's punches (plain cursor)"}
    for name, res in results.items():
        for state, label in labels.items():
            m = res["month"][state]
            rows.append({"database": name, "run": label, "median s": m["seconds"]["median"], "min s": m["seconds"]["min"],
                         "max s": m["seconds"]["max"], "peak RSS MB": m["peak_rss_mb"]["median"],
                         "growth MB": m["growth_mb"]["median"],
                         "written": statistics.median(x.get("written", 0) for x in m["runs"]) if state != "floor" else None,
                         "aim": f"< {MONTH_AIM_S:.0f} s" if state == "empty" else ""})
    first = next(iter(results.values()))["seed"]
    print_table(f"The month (March 2026), {first['employees']:,} employees, {first['punches']:,} punches; "
                f"medians of {args.runs} runs, each in its own process; {os.cpu_count()} shared CPUs", rows,
                ["database", "run", "median s", "min s", "max s", "peak RSS MB", "growth MB", "written", "aim"])
    irows = []
    for name, res in results.items():
        inc = res["incremental"]
        if not inc:
            continue
        irows.append({"database": name, "per batch of 500": "Ingest.handle() (baseline)", "p50 ms": inc["ingest_ms"]["median"],
                      "p95 ms": inc["ingest_ms"]["p95"], "max ms": inc["ingest_ms"]["max"], "aim": ""})
        irows.append({"database": name, "per batch of 500": "Follower.tick()", "p50 ms": inc["tick_ms"]["median"],
                      "p95 ms": inc["tick_ms"]["p95"], "max ms": inc["tick_ms"]["max"], "aim": f"< {TICK_AIM_MS:.0f}"})
    if irows:
        inc0 = next(r["incremental"] for r in results.values() if r["incremental"])
        print_table(f"Incremental: {inc0['batches']} batches of {BATCH} (after {inc0['warmup_batches']} warm-up), "
                    f"~{inc0['employees_per_batch']:.0f} employees touched per batch", irows,
                    ["database", "per batch of 500", "p50 ms", "p95 ms", "max ms", "aim"])
        print_table("Days turning final (through the recompute queue, a chunk of employees per pass)", [
            {"database": name, "when": label, "seconds": res["incremental"][key]["seconds"],
             "passes": res["incremental"][key]["ticks"], "longest pass s": res["incremental"][key]["longest_s"],
             "employees": res["incremental"][key]["employees"], "written": res["incremental"][key]["written"]}
            for name, res in results.items() if res["incremental"]
            for key, label in (("first_tick", "a new follower (finality frontier set: recent days of everyone)"),
                               ("shift_turns_final_tick", "terminals report 8 h later: those days turn final"))],
            ["database", "when", "seconds", "passes", "longest pass s", "employees", "written"])
    for name, res in results.items():
        if res["incremental"] and "parts" in res["incremental"]:
            print_table(f"{name} Follower.tick(), where the time goes (--parts: medians over the batches)",
                        res["incremental"]["parts"], ["part", "p50 ms"])
    if args.profile:
        for name, res in results.items():
            for state in ("empty", "unchanged"):
                print_table(f"{name} recompute ({state}), top functions by own time (cProfile, first run)",
                            res["month"][state]["runs"][0].get("profile", []), ["function", "own_s", "cum_s", "calls"])
            if res["incremental"] and "profile" in res["incremental"]:
                print_table(f"{name} Follower.tick(), top functions by own time (cProfile)", res["incremental"]["profile"],
                            ["function", "own_s", "cum_s", "calls"])
                print_table(f"{name} Follower.tick(), top functions by cumulative time (cProfile)",
                            res["incremental"]["profile_cumulative"], ["function", "own_s", "cum_s", "calls"])
    met = {name: {"month": res["month"]["empty"]["seconds"]["median"] < MONTH_AIM_S,
                  "tick": bool(res["incremental"]) and res["incremental"]["tick_ms"]["median"] < TICK_AIM_MS}
           for name, res in results.items()}
    write_json("attendance", {"results": results, "postgresql": pg_note, "employees": args.employees, "runs": args.runs,
                              "aims": {"month_s": MONTH_AIM_S, "tick_ms": TICK_AIM_MS}, "met": met,
                              "profiled": args.profile})
    missed = [f"{name} {k}" for name, m in met.items() for k, ok in m.items() if not ok]
    if missed:
        print(f"aims missed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
