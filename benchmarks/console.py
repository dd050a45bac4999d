"""Console benchmark: the live dashboard's render time with 10,000 employees and a year of punches (issue 12).

The data (set-up, not measured), ``--employees`` employees (10,000) at three sites (Asia/Shanghai, weekly
rest Saturday and Sunday), six departments each, 3 doors or more per site:

* two shifts, a day shift (常日班 08:00-17:00, lunch 12:00-13:00) and a night shift across midnight
  (夜班 20:00-05:00); the production departments (a third of the staff) work a six-day rotation (两班倒:
  two days, two nights, two rest) in three crews two days apart, so every day and every night is worked,
  weekends too (an assignment per employee); the office departments work the day shift Monday to Friday
  (a weekly rotation, one assignment per department). The sites' calendars have no weekly rest day (the
  patterns hold the rest days), so a benchmark run on a Saturday still sees a working plant;
* ``--days`` days of punches (365) ending *today* (the real date, Asia/Shanghai), today's up to now: an in
  and an out per worked shift (absent 3 %, late 8 %, early out 4 %, a missing out 3 %) — about 5 million
  rows for 10,000 employees. They go straight into the ingest's table (``central.ingest.models.Punch``,
  every column filled as the receiver fills it, UUIDv7-like ids made from the punch time) in chunks:
  ``executemany`` on SQLite, ``COPY`` on PostgreSQL, with the table's secondary indexes dropped first and
  re-created afterwards from the very SQL the migrations made (``sqlite_master`` / ``pg_indexes``);
* daily records for the last ``--record-days`` days (36: five weeks and today) made by the engine itself,
  ``central.attendance.services.recompute`` (not a bulk insert);
* terminals with status: queue depth, clock offset, last seen; two offline (one for three hours, one for
  two days, with punches waiting); events of the last hour (tailgating, spoof_suspected, unknown_face) and
  a month of older ones;
* a superuser and an HR admin granted one site.

On SQLite the built file is kept between runs in ``$TMPDIR/seed-bench-console/`` (its name holds the
size, the days and today's date; ``--no-cache`` builds it anew): a later run of the same day reuses it,
applies any new migration, adds the punches made since it was built, re-dates the last hour's events and
the terminals' status, and recomputes yesterday and today. PostgreSQL is a throwaway cluster
(``benchmarks.central.postgres_cluster``, ``fsync=off``), built anew each run and ``VACUUM ANALYZE``-d as
autovacuum would after a bulk load; SQLite gets no ``ANALYZE`` (the product never runs one).

Measured, in one process per database (Django set up once): each page as a signed-in user through
``django.test.Client`` (server-side time, the request to the full response body), ``--warmup`` requests
(3) then ``--requests`` (30) timed requests per page, the pages interleaved request by request so that
a busy moment of the shared machine hits all of them alike. Median and p95 in ms, and the SQL queries of
one request (``CaptureQueriesContext``, on a warm-up request, so the timed ones carry no capture). The
baseline, in the same run: the console's sites page. A page whose p95 misses the aim (300 ms) is
profiled: its slowest queries (from the capture) and the top functions of one request under cProfile
(every page with ``--profile``).

    python -m benchmarks.console [--employees 10000] [--days 365] [--requests 30] [--db sqlite|postgresql|both]
                                 [--no-cache] [--profile]
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import importlib
import json
import os
import pstats
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.central import GIVEN, RESULT_MARK, SURNAMES, log, percentile, postgres_cluster, run_central_child
from benchmarks.common import print_table, write_json

AIM_MS = 300.0
ZONE = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
CACHE = Path(tempfile.gettempdir()) / "seed-bench-console"
CACHE_FORMAT = 2  # bump when the generated data changes
# (code, name, share of the staff, doors)
SITES = [("sz", "苏州工厂", 0.5, 8), ("wx", "无锡工厂", 0.3, 5), ("cd", "成都仓库", 0.2, 3)]
DEPARTMENTS = ["生产一部", "生产二部", "质检部", "仓储物流部", "设备维修部", "行政部"]
PRODUCTION = 2  # the first two departments work the rotation
ROTATION = ["day", "day", "night", "night", None, None]  # three crews two days apart: every day and night is worked
CREWS = 3
OFFICE = ["day"] * 5 + [None] * 2  # everyone else: Monday to Friday, a rotation anchored on a Monday
SHIFT_HOURS = {"day": (8, 9), "night": (20, 9)}  # start hour, length in hours
EVENT_KINDS = [("tailgating", "warning", 10), ("spoof_suspected", "error", 3), ("unknown_face", "info", 6)]
PUNCH_COLUMNS = ("id", "site", "device_id", "employee_number", "direction", "method", "score", "punched_at",
                 "boot_id", "monotonic_ns", "time_source", "original_punched_at", "restamped_at", "batch_id",
                 "received_at", "time_flag")
CHUNK = 100_000


# -- the plant ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    index: int
    number: str
    site: str
    crew: int | None  # None: the day shift, Monday to Friday; 0, 1, 2: the crews of the rotation, two days apart
    doors: tuple[str, ...]


def plan(employees: int) -> tuple[list[Person], dict[str, list[str]]]:
    """Who works where and on what, the same every time for the same size."""
    doors = {code: [f"{code}-door-{k:02d}" for k in range(1, n + 1)] for code, _, _, n in SITES}
    people = []
    bounds, acc = [], 0.0
    for code, _, share, _ in SITES:
        acc += share
        bounds.append((acc, code))
    for i in range(employees):
        where = (i + 0.5) / employees
        code = next(c for b, c in bounds if where <= b + 1e-9)
        dept = i % len(DEPARTMENTS)
        crew = (i // len(DEPARTMENTS)) % CREWS if dept < PRODUCTION else None
        own = doors[code]
        people.append(Person(i, f"E{i:05d}", code, crew, (own[i % len(own)], own[(i + 1) % len(own)])))
    return people, doors


def anchor_of(today: date) -> date:
    """Day 1 of the rotation: a Monday well before the data starts."""
    return date(2024, 1, 1)


def shift_of(person: Person, day: date) -> str | None:
    """What the generator makes ``person`` work on ``day`` (the plant's assignments, repeated here)."""
    if person.crew is None:
        return OFFICE[(day - anchor_of(day)).days % len(OFFICE)]
    return ROTATION[((day - anchor_of(day)).days + 2 * person.crew) % len(ROTATION)]


def seed_plant(employees: int, now: datetime) -> dict[str, Any]:
    """Sites, departments, shifts, the rotation, employees, terminals and the two users."""
    from central.accounts.models import Role, User
    from central.attendance.models import Assignment, AttendanceProfile, OvertimeRule, Rotation, ShiftType, SiteCalendar
    from central.people.models import Department, Device, Employee, Site

    people, doors = plan(employees)
    rnd = random.Random(20260412)
    ot = OvertimeRule.objects.create(name="加班", min_minutes=30, step_min=30, requires_approval=True)
    common = {"checkin_before_min": 60, "checkout_after_min": 120, "late_grace_min": 5, "early_grace_min": 0,
              "overtime": ot}
    day = ShiftType.objects.create(name="常日班", start=clock(8), end=clock(17),
                                   breaks=[{"start": "12:00", "end": "13:00"}], **common)
    night = ShiftType.objects.create(name="夜班", start=clock(20), end=clock(5), hours="first_last",
                                     half_day_below_h="4.00", absent_below_h="1.00", **common)
    ids = {"day": day.pk, "night": night.pk}
    anchor = anchor_of(now.date())
    crews = [Rotation.objects.create(name=f"两班倒{'甲乙丙'[c]}", anchor=anchor - timedelta(days=2 * c),
                                     pattern=[ids[x] if x else None for x in ROTATION]) for c in range(CREWS)]
    office = Rotation.objects.create(name="常日班周一至周五", anchor=anchor, pattern=[ids[x] if x else None for x in OFFICE])
    sites, departments = {}, {}
    start = (now - timedelta(days=800)).date()
    for code, name, _, _ in SITES:
        site = Site.objects.create(code=code, name=name, time_zone="Asia/Shanghai")
        SiteCalendar.objects.create(site=site, weekly_rest=[], final_wait_h=168)  # rest days come from the patterns
        sites[code] = site
        for k, dname in enumerate(DEPARTMENTS):
            dept = Department.objects.create(site=site, name=dname)
            departments[(code, k)] = dept
            if k >= PRODUCTION:  # the office departments: one assignment for the whole department
                Assignment.objects.create(department=dept, rotation=office, start=start)
    # the crews of a production department work the same rotation two days apart (each crew's anchored two
    # days earlier than the last): an assignment per employee, so the departments stay as HR has them
    rows = [Employee(number=p.number, name=rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2)))),
                     site=sites[p.site], department=departments[(p.site, p.index % len(DEPARTMENTS))],
                     card=str(5_000_000_000 + p.index), version=p.index + 1) for p in people]
    Employee.objects.bulk_create(rows, batch_size=1000)
    made = {e.number: e for e in Employee.objects.only("pk", "number")}
    AttendanceProfile.objects.bulk_create([
        AttendanceProfile(employee=made[p.number], joined=start) for p in people], batch_size=1000)
    Assignment.objects.bulk_create([Assignment(employee=made[p.number], rotation=crews[p.crew], start=start)
                                    for p in people if p.crew is not None], batch_size=1000)
    for code, site in sites.items():
        for k, device_id in enumerate(doors[code]):
            Device.objects.create(device_id=device_id, site=site, name=f"{site.name}{k + 1}号门", online=True)
    superuser = User.objects.create_superuser("bench-admin", email="", password=None)
    hr = User.objects.create_user("bench-hr", password=None, role=Role.HR_ADMIN)
    hr.sites.add(sites["wx"])
    device_status(now)
    return {"superuser": superuser.pk, "hr_admin": hr.pk}


OFFLINE = {"sz-door-03": timedelta(hours=3), "wx-door-02": timedelta(days=2)}


def device_status(now: datetime) -> None:
    """Every terminal's status as of ``now``: most online and drained, two offline with punches waiting."""
    from central.people.models import Device

    rnd = random.Random(7)
    for device in Device.objects.all():
        gone = OFFLINE.get(device.device_id)
        seen = now - (gone or timedelta(seconds=rnd.randint(2, 40)))
        device.online = gone is None
        device.first_seen_at = now - timedelta(days=400)
        device.last_seen_at = seen
        device.drained_at = seen - timedelta(minutes=1) if gone is None else seen - timedelta(hours=6)
        device.status = {"online": gone is None, "queue_depth": rnd.choice([0, 0, 0, 0, 2, 17]) if gone is None else 340,
                         "clock_offset_s": round(rnd.uniform(-0.08, 0.08), 3) if device.device_id != "sz-door-05" else 2.7,
                         "versions": {"terminal": "1.4.0", "sync": "1.4.0"}, "storage_free_mb": rnd.randint(9000, 20000)}
        device.save()


def occurrence_punches(rng: random.Random, person: Person, day: date) -> list[tuple[datetime, str]]:
    """(UTC time, direction) of one employee's punches for the shift dated ``day`` (empty: rest or absent)."""
    kind = shift_of(person, day)
    if kind is None or rng.random() < 0.03:
        return []
    hour, length = SHIFT_HOURS[kind]
    start = datetime(day.year, day.month, day.day, hour, tzinfo=ZONE).astimezone(UTC)
    end = start + timedelta(hours=length)
    late = rng.random() < 0.08
    first = start + timedelta(seconds=rng.randint(360, 2400)) if late else start - timedelta(seconds=rng.randint(60, 1500))
    out = [(first, "in")]
    roll = rng.random()
    if roll >= 0.03:  # else the out is missing
        if roll < 0.07:
            leave = end - timedelta(seconds=rng.randint(300, 3600))
        else:
            leave = end + timedelta(seconds=rng.randint(0, 1800))
        out.append((leave, "out"))
    return out


def punches_of_day(people: list[Person], day: date) -> list[tuple[datetime, str, str, str, str]]:
    """(UTC time, employee number, direction, site, door) of every punch of the shifts dated ``day``."""
    rng = random.Random(f"console-{day.isoformat()}")
    rows = []
    for person in people:
        for at, way in occurrence_punches(rng, person, day):
            rows.append((at.replace(microsecond=0), person.number, way, person.site, person.doors[way == "out"]))
    return rows


class PunchWriter:
    """Bulk rows into the ingest's punch table: executemany on SQLite, COPY on PostgreSQL, ``CHUNK`` at a time."""

    def __init__(self) -> None:
        from django.db import connection

        from central.ingest.models import Punch

        fields = tuple(f.column for f in Punch._meta.concrete_fields)
        if set(fields) != set(PUNCH_COLUMNS):
            raise RuntimeError(f"the punch table's columns changed ({fields}); teach benchmarks/console.py the new ones")
        self.connection = connection
        self.table = Punch._meta.db_table
        self.postgresql = connection.vendor == "postgresql"
        self.pending: list[tuple] = []
        self.written = 0
        self.rng = random.Random(99)
        self.seq = 0

    def punch_id(self, at: datetime) -> str:
        """A UUIDv7 (version 7, the time in its first 48 bits) as terminals make them."""
        ms = int(at.timestamp() * 1000)
        rand = self.rng.getrandbits(74)
        value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
        return str(uuid.UUID(int=value))

    def add(self, at: datetime, number: str, way: str, site: str, door: str) -> None:
        self.seq += 1
        received = at + timedelta(seconds=2 + self.seq % 5)
        self.pending.append((self.punch_id(at), site, door, number, way, "face" if self.seq % 7 else "card",
                             0.31 if self.seq % 7 else None, at, "boot-1", self.seq * 1_000_000, "ntp", None, None,
                             f"batch-{at:%Y%m%d%H}-{door}", received, ""))
        if len(self.pending) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        rows, self.pending = self.pending, []
        with self.connection.cursor() as cur:
            if self.postgresql:
                columns = ", ".join(PUNCH_COLUMNS)
                raw = cur.cursor  # psycopg's own cursor under Django's wrapper
                with raw.copy(f"COPY {self.table} ({columns}) FROM STDIN") as copy:
                    copy.write("".join("\t".join(_pg_text(v) for v in row) + "\n" for row in rows))
            else:
                marks = ", ".join(["%s"] * len(PUNCH_COLUMNS))
                cur.executemany(f"INSERT INTO {self.table} ({', '.join(PUNCH_COLUMNS)}) VALUES ({marks})",
                                [tuple(_sqlite_value(v) for v in row) for row in rows])
        self.written += len(rows)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):  # what Django's SQLite backend stores: naive UTC, str()
        return str(value.astimezone(UTC).replace(tzinfo=None))
    return value


def _pg_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@contextlib.contextmanager
def indexes_dropped(table: str) -> Iterator[None]:
    """Drop ``table``'s secondary indexes for a bulk load and make them again from the SQL the migrations made."""
    from django.db import connection

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS "
                        "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", [table])
        else:
            cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                        [table])
        made = list(cur.fetchall())
        for name, _ in made:
            cur.execute(f'DROP INDEX "{name}"')
    yield
    began = time.perf_counter()
    with connection.cursor() as cur:
        for name, sql in made:
            cur.execute(sql)
            log(f"    index {name} made again ({time.perf_counter() - began:.0f} s)")


def load_punches(people: list[Person], first: date, today: date, now: datetime,
                 since: datetime | None = None) -> int:
    """Every punch of the shifts dated ``first``..``today`` made before ``now`` (and after ``since``)."""
    from django.db import transaction

    writer = PunchWriter()
    day = first
    began = time.perf_counter()
    with transaction.atomic():
        while day <= today:
            for at, number, way, site, door in punches_of_day(people, day):
                if at > now or (since is not None and at <= since):
                    continue
                gone = OFFLINE.get(door)
                if gone and at > now - gone:  # still in that terminal's outbox
                    continue
                writer.add(at, number, way, site, door)
            if (day - first).days % 30 == 29 or day == today:
                writer.flush()
                log(f"    punches up to {day}: {writer.written:,} ({time.perf_counter() - began:.0f} s)")
            day += timedelta(days=1)
        writer.flush()
    return writer.written


def load_events(now: datetime, since: datetime | None = None) -> int:
    """The last hour's alerts at every site, and a month of older ones (only the last hour when ``since``)."""
    from central.ingest.models import Event
    from central.people.models import Device

    rnd = random.Random(int(now.timestamp()) // 3600)
    doors = list(Device.objects.filter(online=True).values_list("device_id", "site__code"))
    rows = []
    for kind, severity, per_site in EVENT_KINDS:
        for site in {s for _, s in doors}:
            mine = [d for d, s in doors if s == site]
            for _ in range(per_site):
                at = now - timedelta(seconds=rnd.randint(5, 3600))
                rows.append(Event(id=str(uuid.uuid4()), site=site, device_id=rnd.choice(mine), kind=kind,
                                  severity=severity, at=at, received_at=at + timedelta(seconds=1),
                                  payload={"faces": 2} if kind == "tailgating" else {}))
    if since is None:
        for _ in range(1500):
            device, site = rnd.choice(doors)
            kind, severity, _ = rnd.choice(EVENT_KINDS)
            at = now - timedelta(seconds=rnd.randint(3600, 30 * 86400))
            rows.append(Event(id=str(uuid.uuid4()), site=site, device_id=device, kind=kind, severity=severity, at=at,
                              received_at=at + timedelta(seconds=1), payload={}))
    Event.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def recompute_records(first: date, today: date, now: datetime) -> tuple[int, float]:
    from central.attendance.models import DailyRecord
    from central.attendance.services import recompute

    began = time.perf_counter()
    last_shown = [0.0]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last_shown[0] > 15 or done == total:
            last_shown[0] = time.perf_counter()
            log(f"    daily records {first}..{today}: {done:,}/{total:,} employees ({time.perf_counter() - began:.0f} s)")

    recompute(first, today, now=now, progress=progress, actor="benchmark")
    return DailyRecord.objects.filter(date__gte=first).count(), time.perf_counter() - began


def tune_for_load() -> None:
    from django.db import connection

    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("PRAGMA synchronous = OFF")
            cur.execute("PRAGMA cache_size = -1000000")  # 1 GB while loading


def child_build(args: argparse.Namespace) -> dict[str, Any]:
    from central.django_setup import migrate, setup

    setup(args.db)
    migrate()
    from django.db import connection

    from central.ingest.models import Punch

    tune_for_load()
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.astimezone(ZONE).date()
    first = today - timedelta(days=args.days - 1)
    timings: dict[str, float] = {}
    began = time.perf_counter()
    log(f"  {connection.vendor}: the plant, {args.employees:,} employees")
    users = seed_plant(args.employees, now)
    timings["plant_s"] = time.perf_counter() - began
    people, _ = plan(args.employees)
    log(f"  {connection.vendor}: punches {first}..{today} (now {now.astimezone(ZONE):%H:%M} local)")
    step = time.perf_counter()
    with indexes_dropped(Punch._meta.db_table):
        punches = load_punches(people, first, today, now)
        timings["punches_insert_s"] = time.perf_counter() - step
        step = time.perf_counter()
    timings["punches_indexes_s"] = time.perf_counter() - step
    events = load_events(now)
    step = time.perf_counter()
    records, timings["records_s"] = recompute_records(today - timedelta(days=args.record_days - 1), today, now)
    if connection.vendor == "postgresql":
        step = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        timings["vacuum_analyze_s"] = time.perf_counter() - step
    timings["total_s"] = time.perf_counter() - began
    log(f"  {connection.vendor}: built in {timings['total_s']:.0f} s: {punches:,} punches, {records:,} daily records")
    return {"database": connection.vendor, "employees": args.employees, "days": args.days, "first": first.isoformat(),
            "today": today.isoformat(), "built_until": now.isoformat(), "punches": punches, "events": events,
            "records": records, "record_days": args.record_days, "timings": timings, **users}


def child_refresh(args: argparse.Namespace) -> dict[str, Any]:
    """A cached database brought up to now: new migrations, today's punches since it was built, the last
    hour's events, the terminals' status, yesterday's and today's records."""
    from central.django_setup import migrate, setup

    setup(args.db)
    migrate()
    from django.db import connection

    from central.ingest.models import Event

    since = datetime.fromisoformat(args.since)
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.astimezone(ZONE).date()
    began = time.perf_counter()
    people, _ = plan(args.employees)
    added = load_punches(people, today - timedelta(days=1), today, now, since=since)
    Event.objects.filter(at__gte=since - timedelta(hours=1)).delete()
    load_events(now, since=since)
    device_status(now)
    records, _ = recompute_records(today - timedelta(days=1), today, now)
    log(f"  {connection.vendor}: cached database brought up to now in {time.perf_counter() - began:.0f} s "
        f"({added:,} punches since {since.astimezone(ZONE):%H:%M})")
    return {"added_punches": added, "built_until": now.isoformat(), "refresh_s": time.perf_counter() - began}


# -- measuring -------------------------------------------------------------------------------------------------
@dataclass
class Case:
    label: str
    who: str  # superuser, hr_admin, anonymous
    url: str
    headers: dict[str, str]
    baseline: bool = False


def display_urls(site_code: str) -> tuple[dict[str, str], str]:
    """The wall display's URLs (``display:wall``, ``display:wall_live``) for a token bound to ``site_code``, made
    by the product's own service (``central.live.display_services.create_display``); or why not."""
    from django.urls import NoReverseMatch, reverse

    try:
        services = importlib.import_module("central.live.display_services")
    except ImportError:
        return {}, "central.live.display_services is not there"
    from central.accounts.models import User
    from central.people.models import Site

    _token, clear = services.create_display(User.objects.get(username="bench-admin"), Site.objects.get(code=site_code),
                                            "大门电视 benchmark")
    urls = {}
    for name in ("display:wall", "display:wall_live"):
        with contextlib.suppress(NoReverseMatch):
            urls[name] = reverse(name, kwargs={"token": clear})
    return urls, "" if urls else "no display:wall URL"


def cases(department: dict[str, int]) -> tuple[list[Case], list[str]]:
    """Every page to measure that exists in this build, and notes on the ones that do not."""
    from django.urls import NoReverseMatch, reverse

    notes: list[str] = []
    out = [Case("console:sites (baseline)", "superuser", reverse("console:sites"), {}, baseline=True)]
    htmx = {"HX-Request": "true"}
    wanted = [
        ("console:home", "superuser", "", {}),
        ("console:home", "superuser", "?site=sz", {}),
        ("console:home", "superuser", f"?department={department['sz']}", {}),
        ("console:home", "hr_admin", "", {}),
        ("console:home", "hr_admin", f"?department={department['wx']}", {}),
        ("console:dashboard_live", "superuser", "", htmx),
        ("console:dashboard_live", "superuser", "?site=sz", htmx),
        ("console:dashboard_live", "hr_admin", "", htmx),
    ]
    for name, who, query, headers in wanted:
        try:
            url = reverse(name)
        except NoReverseMatch:
            if f"no {name}" not in notes:
                notes.append(f"no {name}")
            continue
        label = f"{name}{' ' + query if query else ''}, {who.replace('_', ' ')}"
        out.append(Case(label, who, url + query, headers))
    walls, why = display_urls("sz")
    for name, url in walls.items():
        out.append(Case(f"{name} (site sz, display token)", "anonymous", url, htmx if name.endswith("_live") else {}))
    if why:
        notes.append(f"display:wall not measured: {why}")
    return out, notes


def body_of(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def profile_request(fetch: Callable[[], Any]) -> list[dict[str, Any]]:
    profiler = cProfile.Profile()
    profiler.enable()
    fetch()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda kv: kv[1][3], reverse=True)
    keep = [kv for kv in rows if "/central/" in kv[0][0] or "/django/db/" in kv[0][0] or "sqlite3" in kv[0][0]
            or "psycopg" in kv[0][0] or "/django/template/" in kv[0][0]][:25]
    return [{"function": f"{'/'.join(Path(k[0]).parts[-3:])}:{k[1]}({k[2]})", "own_ms": v[2] * 1000,
             "cum_ms": v[3] * 1000, "calls": v[1]} for k, v in keep]


def child_measure(args: argparse.Namespace) -> dict[str, Any]:
    from central.django_setup import migrate, setup

    setup(args.db)
    migrate()  # the pages' own tables, when code landed after the data was built
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from central.accounts.models import User
    from central.attendance.models import DailyRecord
    from central.ingest.models import Punch
    from central.people.models import Department

    department = {code: Department.objects.filter(site__code=code, name=DEPARTMENTS[0]).values_list("pk", flat=True)[0]
                  for code in ("sz", "wx")}
    clients = {"anonymous": Client(SERVER_NAME="localhost")}
    for who, username in (("superuser", "bench-admin"), ("hr_admin", "bench-hr")):
        client = Client(SERVER_NAME="localhost")
        client.force_login(User.objects.get(username=username))
        clients[who] = client
    todo, notes = cases(department)
    for note in notes:
        log(f"  {connection.vendor}: {note}")

    def fetch(case: Case) -> bytes:
        response = clients[case.who].get(case.url, headers=case.headers)
        body = body_of(response)
        if response.status_code != 200:
            raise RuntimeError(f"{case.url} as {case.who}: status {response.status_code}")
        return body

    pages: list[dict[str, Any]] = []
    first_ms: list[float] = []
    for case in todo:
        began = time.perf_counter()
        fetch(case)  # the first request of this page in this process: whatever it builds once, it builds here
        first_ms.append((time.perf_counter() - began) * 1000)
        for _ in range(args.warmup - 2):
            fetch(case)
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            body = fetch(case)
            captured_ms = (time.perf_counter() - began) * 1000
        slowest = sorted(captured.captured_queries, key=lambda q: float(q["time"]), reverse=True)[:5]
        pages.append({"page": case.label, "url": case.url, "who": case.who, "baseline": case.baseline,
                      "queries": len(captured.captured_queries), "kb": len(body) / 1024, "times_ms": [],
                      "warm_captured_ms": captured_ms, "first_ms": first_ms[-1],
                      "slowest_queries": [{"ms": float(q["time"]) * 1000, "sql": q["sql"][:600]} for q in slowest]})
    for r in range(args.requests):
        for case, page in zip(todo, pages, strict=True):
            began = time.perf_counter()
            fetch(case)
            page["times_ms"].append((time.perf_counter() - began) * 1000)
        if (r + 1) % 10 == 0:
            log(f"  {connection.vendor}: request {r + 1}/{args.requests} of each page")
    for case, page in zip(todo, pages, strict=True):
        xs = page["times_ms"]
        page.update(median_ms=statistics.median(xs), p95_ms=percentile(xs, 95), max_ms=max(xs), requests=len(xs))
        if args.profile or (not case.baseline and page["p95_ms"] > AIM_MS):
            page["profile"] = profile_request(functools.partial(fetch, case))
        log(f"  {connection.vendor} {case.label}: median {page['median_ms']:.1f} ms, p95 {page['p95_ms']:.1f} ms, "
            f"{page['queries']} queries")
    return {"database": connection.vendor, "pages": pages, "notes": notes, "punches": Punch.objects.count(),
            "records": DailyRecord.objects.count()}


# -- parent ----------------------------------------------------------------------------------------------------
def child_options(args: argparse.Namespace, extra: list[str] | None = None) -> list[str]:
    return ["--employees", str(args.employees), "--days", str(args.days), "--record-days", str(args.record_days),
            "--requests", str(args.requests), "--warmup", str(args.warmup), *(["--profile"] if args.profile else []),
            *(extra or [])]


def sqlite_database(args: argparse.Namespace, folder: Path) -> tuple[str, dict[str, Any]]:
    """The SQLite file to measure: the cached one of today brought up to now, or a new one (then cached)."""
    today = datetime.now(ZONE).date()
    name = f"central-{args.employees}e-{args.days}d-{args.record_days}r-{today.isoformat()}-v{CACHE_FORMAT}.db"
    if args.no_cache:
        path = folder / name
        built = run_central_child("benchmarks.console", "build", str(path), child_options(args))
        return str(path), {"build": built, "cached": False}
    CACHE.mkdir(parents=True, exist_ok=True)
    path, meta_path = CACHE / name, CACHE / (name + ".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        log(f"console on sqlite: reusing {path} (built {meta['build']['built_until']})")
        refreshed = run_central_child("benchmarks.console", "refresh", str(path),
                                      child_options(args, ["--since", meta["last_until"]]))
        meta["last_until"] = refreshed["built_until"]
        meta_path.write_text(json.dumps(meta))
        return str(path), {**meta, "refresh": refreshed, "cached": True}
    for old in CACHE.glob("central-*.db*"):  # an older day's or size's file
        old.unlink()
    building = CACHE / (name + ".building")
    for suffix in ("", "-wal", "-shm"):
        Path(str(building) + suffix).unlink(missing_ok=True)
    try:
        built = run_central_child("benchmarks.console", "build", str(building), child_options(args))
        with contextlib.suppress(Exception):  # fold the WAL in so the cached file is whole
            import sqlite3

            with contextlib.closing(sqlite3.connect(building)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        building.rename(path)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(building) + suffix).unlink(missing_ok=True)
    meta = {"build": built, "last_until": built["built_until"]}
    meta_path.write_text(json.dumps(meta))
    return str(path), {**meta, "cached": False}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.console", description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365, help="days of punches, ending today")
    parser.add_argument("--record-days", type=int, default=36, help="days of daily records, ending today")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="requests per page before the timed ones")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--no-cache", action="store_true", help="build the SQLite database anew (and keep no copy)")
    parser.add_argument("--profile", action="store_true", help="cProfile one request of every page")
    parser.add_argument("--no-json", action="store_true", help=argparse.SUPPRESS)  # a quick run that must not replace the results file
    parser.add_argument("--child", choices=("build", "refresh", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--db-url", dest="db_url", help=argparse.SUPPRESS)
    parser.add_argument("--since", help=argparse.SUPPRESS)
    # run_central_child passes the database as --db: a child takes it as the URL
    raw = list(sys.argv[1:] if argv is None else argv)
    if "--child" in raw and "--db" in raw:
        raw[raw.index("--db")] = "--db-url"
    args = parser.parse_args(raw)
    if not args.child:  # a plain kill stops the run like Ctrl-C: the PostgreSQL cluster is stopped on the way out
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.warmup < 2:
        parser.error("--warmup must be at least 2 (the first request is timed on its own, the queries are counted on the last)")

    if args.child:
        args.db = args.db_url
        kinds = {"build": child_build, "refresh": child_refresh, "measure": child_measure}
        print(RESULT_MARK + json.dumps(kinds[args.child](args), ensure_ascii=False, default=str), flush=True)
        return 0

    wanted = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results: dict[str, Any] = {}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="seed-bench-console-") as tmp, \
            postgres_cluster(["seed_console"] if "postgresql" in wanted else []) as (pg, pg_note):
        if "postgresql" not in wanted:
            pg_note = "PostgreSQL not asked for (--db sqlite)"
        print(pg_note)
        for name in wanted:
            started = time.perf_counter()
            if name == "sqlite":
                db, data = sqlite_database(args, Path(tmp))
            elif pg:
                db = pg["seed_console"]
                log(f"console on postgresql: building {args.employees:,} employees and {args.days} days of punches")
                data = {"build": run_central_child("benchmarks.console", "build", db, child_options(args)),
                        "cached": False}
            else:
                continue
            log(f"console on {name}: measuring")
            measured = run_central_child("benchmarks.console", "measure", db, child_options(args))
            results[name] = {**data, **measured, "wall_s": time.perf_counter() - started}
    if not results:
        print("nothing measured")
        return 1

    rows = []
    for name, res in results.items():
        base = next(p["median_ms"] for p in res["pages"] if p["baseline"])
        for page in res["pages"]:
            rows.append({"database": name, "page": page["page"], "median ms": page["median_ms"], "p95 ms": page["p95_ms"],
                         "max ms": page["max_ms"], "first ms": page["first_ms"], "vs baseline": f"{page['median_ms'] / base:.1f}x",
                         "queries": page["queries"], "KB": page["kb"],
                         "aim": "" if page["baseline"] else ("met" if page["p95_ms"] < AIM_MS else "MISSED")})
    first = next(iter(results.values()))
    build = first["build"]
    print_table(f"Console pages through django.test.Client: {build['employees']:,} employees, "
                f"{first['punches']:,} punches ({build['first']}..{build['today']}), {first['records']:,} daily records; "
                f"{args.requests} requests per page after {args.warmup} warm-ups, interleaved; aim p95 < {AIM_MS:.0f} ms; "
                f"{os.cpu_count()} shared CPUs", rows,
                ["database", "page", "median ms", "p95 ms", "max ms", "first ms", "vs baseline", "queries", "KB", "aim"])
    print_table("Building the data (set-up, not measured)", [
        {"database": name, "cached": "reused, brought up to now" if res["cached"] else "built",
         **{k.removesuffix("_s") + " s": v for k, v in res["build"]["timings"].items()},
         "refresh s": res.get("refresh", {}).get("refresh_s")} for name, res in results.items()],
        ["database", "cached", "plant s", "punches_insert s", "punches_indexes s", "records s", "vacuum_analyze s",
         "total s", "refresh s"])
    for name, res in results.items():
        for page in res["pages"]:
            if "profile" in page:
                print_table(f"{name} {page['page']}: slowest queries of one request",
                            [{"ms": q["ms"], "sql": q["sql"][:160]} for q in page["slowest_queries"]], ["ms", "sql"])
                print_table(f"{name} {page['page']}: one request under cProfile, by cumulative time",
                            page["profile"][:15], ["function", "cum_ms", "own_ms", "calls"])
    missed = [f"{name}: {p['page']}" for name, res in results.items() for p in res["pages"]
              if not p["baseline"] and p["p95_ms"] >= AIM_MS]
    if not args.no_json:
        for res in results.values():
            for page in res["pages"]:
                page["times_ms"] = [round(x, 2) for x in page["times_ms"]]
        write_json("console", {"aim_p95_ms": AIM_MS, "employees": args.employees, "days": args.days,
                               "requests": args.requests, "warmup": args.warmup, "postgresql": pg_note,
                               "results": results, "missed": missed, "total_s": time.perf_counter() - began})
    if missed:
        print("p95 over the aim: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
