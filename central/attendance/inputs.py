"""The engine's plain data read from the database, in bulk: one query per kind per chunk of employees.

Selectors only: nothing here writes. Times leave here as the site's local wall time (naive),
which is what :mod:`central.attendance.engine` works in.
"""
from __future__ import annotations

import functools
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q

from central.attendance import engine as e
from central.attendance.models import (
    Assignment,
    AttendanceProfile,
    CalendarDay,
    DailyRecord,
    MakeupPunch,
    OvertimeRequest,
    Rotation,
    ShiftChange,
    ShiftType,
    SiteCalendar,
)
from central.attendance.pre_approval import Asked
from central.ingest.models import Punch
from central.people.models import Device, EmployeeMove, Site

log = logging.getLogger(__name__)
UTC = ZoneInfo("UTC")


def shift_of(row: ShiftType) -> e.Shift:
    """One shift type as the engine's rule set (its breaks were checked when saved)."""
    rule = row.overtime
    overtime = (e.OvertimeRule(rule.min_minutes, max(rule.step_min, 1), rule.before_start, rule.requires_approval,
                               rule.listed_only) if rule else e.OvertimeRule())
    breaks = tuple(e.Break(time.fromisoformat(b["start"]), time.fromisoformat(b["end"])) for b in row.breaks or [])
    return e.Shift(
        name=row.name, start=row.start, end=row.end, checkin_before_min=row.checkin_before_min,
        checkout_after_min=row.checkout_after_min, late_grace_min=row.late_grace_min,
        early_grace_min=row.early_grace_min, hours=row.hours,  # type: ignore[arg-type]
        direction=row.direction,  # type: ignore[arg-type]
        half_day_below_h=Decimal(row.half_day_below_h) if row.half_day_below_h is not None else None,
        absent_below_h=Decimal(row.absent_below_h) if row.absent_below_h is not None else None,
        count_on_holidays=row.count_on_holidays, breaks=breaks,
        rounding=e.Rounding(row.rounding_min, row.rounding_in, row.rounding_out)  # type: ignore[arg-type]
        if row.rounding_min else None,
        overtime=overtime, flex_min=row.flex_min)


Profile = tuple[date | None, date | None, int | None, bool, bool]  # joined, left, default shift, exempt, overtime list
# an employee's moves to another department or site (EmployeeMove), oldest first: (first day there, the site and the
# department they left)
Moves = tuple[tuple[date, int, int | None], ...]
NO_PROFILE: Profile = (None, None, None, False, False)


@dataclass
class Rules:
    """What every employee's run shares: shifts, rotations, calendars, department assignments, finality."""
    shifts: dict[str, e.Shift]
    shift_names: dict[int, str]
    rotations: dict[str, e.Rotation]
    rotation_names: dict[int, str]
    calendars: dict[int, e.Calendar]
    zones: dict[int, ZoneInfo]
    department_assignments: dict[int, list[e.Assignment]] = field(default_factory=dict)
    final_waits: dict[int, int] = field(default_factory=dict)  # site: hours after which its days are final anyway
    finality: dict[int, e.Finality] = field(default_factory=dict)
    # (own assignments, department, site, moves): one schedule object for equal ones, so the engine's memo finds them
    # by identity (a crew on one rotation shares one, not one per person)
    schedules: dict[tuple[tuple[e.Assignment, ...], int | None, int, Moves], e.Schedule] = field(default_factory=dict)
    # employee id: (attendance profile, own assignments, moves) as read by :func:`plans`, kept as long as these rules
    # are (the follower's, until an edit marks them changed: a profile, an assignment or a move saved is such an edit)
    people: dict[int, tuple[Profile, tuple[e.Assignment, ...], Moves]] = field(default_factory=dict)

    def zone(self, site_id: int) -> ZoneInfo:
        return self.zones.get(site_id, UTC)


def load_rules(now: datetime) -> Rules:
    """The rules as they stand, with each site's finality at ``now``."""
    rules = read_rules()
    rules.finality = finality_at(rules, now)
    return rules


def read_rules() -> Rules:
    """The rules without finality: what changes only when a person edits shifts, rotations, assignments, calendars
    or sites (:mod:`central.attendance.rules_cache` keeps them between the follower's passes)."""
    shift_rows = list(ShiftType.objects.select_related("overtime"))
    shifts = {row.name: shift_of(row) for row in shift_rows}
    shift_names = {row.pk: row.name for row in shift_rows}
    rotations: dict[str, e.Rotation] = {}
    rotation_names: dict[int, str] = {}
    for rot in Rotation.objects.all():
        pattern = tuple(shift_names.get(x) if isinstance(x, int) else None for x in rot.pattern or [])
        rotations[rot.name] = e.Rotation(rot.name, rot.anchor, pattern)
        rotation_names[rot.pk] = rot.name
    sites = list(Site.objects.all())
    zones = {s.pk: zone_named(s.time_zone) for s in sites}
    site_calendars = list(SiteCalendar.objects.all())
    weekly = {c.site_id: frozenset(int(d) for d in c.weekly_rest or [] if isinstance(d, int) and 0 <= d <= 6)
              for c in site_calendars}
    waits = {c.site_id: c.final_wait_h for c in site_calendars}
    holidays: dict[int, set[date]] = defaultdict(set)
    workdays: dict[int, set[date]] = defaultdict(set)
    for site_id, day, kind in CalendarDay.objects.values_list("site_id", "date", "kind"):
        (holidays if kind == "holiday" else workdays)[site_id].add(day)
    calendars = {s.pk: e.Calendar(frozenset(holidays[s.pk]), frozenset(workdays[s.pk]), weekly.get(s.pk, frozenset()),
                                  zones[s.pk]) for s in sites}
    rules = Rules(shifts, shift_names, rotations, rotation_names, calendars, zones, final_waits=waits)
    for a in Assignment.objects.filter(department__isnull=False):
        rules.department_assignments.setdefault(a.department_id, []).append(_assignment(rules, a, level=1))  # type: ignore[arg-type]
    return rules


def finality_at(rules: Rules, now: datetime) -> dict[int, e.Finality]:
    """Each site's finality at ``now``: how far every one of its terminals has reported an empty outbox (a site
    without terminals: ``now``, nothing more can arrive), and how far its maximum wait has run out."""
    drained: dict[int, list[datetime | None]] = defaultdict(list)
    for site_id, at in Device.objects.values_list("site_id", "drained_at"):
        drained[site_id].append(at)
    found = {}
    for site_id, zone in rules.zones.items():
        reports = drained.get(site_id)
        if not reports:
            reported: datetime | None = now  # no terminal: nothing more can arrive
        elif any(at is None for at in reports):
            reported = None
        else:
            reported = min(at for at in reports if at is not None)
        timeout = now - timedelta(hours=rules.final_waits.get(site_id, 168))
        found[site_id] = e.Finality(local(reported, zone) if reported else None, local(timeout, zone))
    return found


@functools.cache
def zone_named(name: str) -> ZoneInfo:
    """A site's time zone by name; an unknown name (a database edited by hand) is UTC, said once in the log."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # OSError: a folder of zones ("Europe")
        log.warning("unknown time zone %s: its dates are taken in UTC", name)
        return UTC


def local(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone).replace(tzinfo=None)


def aware(at: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if at is None else at.replace(tzinfo=zone)


def _assignment(rules: Rules, a: Assignment, level: int) -> e.Assignment:
    return _assignment_of(rules, a.start, a.end, a.shift_id, a.rotation_id, level)  # type: ignore[arg-type]


def _assignment_of(rules: Rules, start: date, end: date | None, shift_id: int | None, rotation_id: int | None,
                   level: int) -> e.Assignment:
    return e.Assignment(start, end, shift=rules.shift_names.get(shift_id) if shift_id else None,
                        rotation=rules.rotation_names.get(rotation_id) if rotation_id else None, level=level)


class Staff(Protocol):
    """What the engine's inputs need of an employee: an Employee, or a :class:`StaffRow` read plainly."""

    @property
    def pk(self) -> Any: ...
    @property
    def number(self) -> str: ...
    @property
    def site_id(self) -> int: ...
    @property
    def department_id(self) -> int | None: ...
    @property
    def active(self) -> bool: ...


class StaffRow(NamedTuple):
    pk: int
    number: str
    site_id: int
    department_id: int | None
    active: bool


STAFF_FIELDS = ("id", "number", "site", "department", "active")


@dataclass
class EmployeeInput:
    employee_id: int
    number: str
    site_id: int
    person: e.Person
    schedule: e.Schedule
    punches: list[e.PunchIn]
    records: list[tuple[int | None, e.Record]]  # (row id, record)
    first: date  # the occurrences to recompute: dated first..last
    last: date
    overtime_asked: dict[date, Asked] = field(default_factory=dict)  # approved overtime requests (加班申请): minutes a day


Moments = dict[int, list[datetime]]  # employee id: local times of new (or moved) punches


def plans(rules: Rules, employees: Sequence[Staff]) -> dict[int, tuple[e.Person, e.Schedule]]:
    """Each employee's engine :class:`~engine.Person` (employment dates, default shift, policies) and
    :class:`~engine.Schedule` (own assignments before the department's, the site's calendar): what decides the
    days they work, without their punches or records (the reports' planned rest days and holidays)."""
    known = rules.people
    missing = [emp.pk for emp in employees if emp.pk not in known]
    if missing:
        _read_people(rules, missing)
    found: dict[int, tuple[e.Person, e.Schedule]] = {}
    for emp in employees:
        (joined, left, default_id, exempt, listed), own, moves = known[emp.pk]
        default = rules.shift_names.get(default_id) if default_id else None
        person = e.Person(emp.number, joined, left, emp.active, default, exempt, listed)
        key = (own, emp.department_id, emp.site_id, moves)
        schedule = rules.schedules.get(key) or rules.schedules.setdefault(key, _schedule(rules, *key))
        found[emp.pk] = (person, schedule)
    return found


def _read_people(rules: Rules, ids: list[int]) -> None:
    """These employees' attendance profiles and own assignments, into ``rules.people``."""
    day = _parse_date
    profiles = {emp_id: (day(joined), day(left), default, bool(exempt), bool(listed))
                for emp_id, joined, left, default, exempt, listed in select_of(
                    AttendanceProfile, [db_column(AttendanceProfile, c) for c in
                                        ("employee", "joined", "left", "default_shift", "exempt", "overtime_listed")],
                    "employee", ids)}
    own: dict[int, list[e.Assignment]] = defaultdict(list)
    made: dict[tuple[Any, ...], e.Assignment] = {}  # a crew's assignments are one row each, all alike
    for emp_id, *row in select_of(
            Assignment, [db_column(Assignment, c) for c in ("employee", "start", "end", "shift", "rotation")],
            "employee", ids):
        key = tuple(row)
        found_one = made.get(key)
        if found_one is None:
            start, end, shift_id, rotation_id = row
            found_one = made[key] = _assignment_of(rules, day(start), day(end), shift_id, rotation_id, level=0)  # type: ignore[arg-type]
        own[emp_id].append(found_one)
    for emp_id, start, end, shift_id in _approved_changes(ids):
        own[emp_id].append(e.Assignment(start, end, shift=rules.shift_names.get(shift_id) if shift_id else None,
                                        changed=True))
    moves: dict[int, list[tuple[date, int, int | None]]] = defaultdict(list)
    for emp_id, since, site_id, department_id in sorted(select_of(
            EmployeeMove, [db_column(EmployeeMove, c) for c in ("employee", "since", "from_site", "from_department")],
            "employee", ids), key=lambda row: (row[0], str(row[1]))):
        moves[emp_id].append((day(since), site_id, department_id))  # type: ignore[arg-type]
    for emp_id in ids:
        rules.people[emp_id] = (profiles.get(emp_id, NO_PROFILE), tuple(own.get(emp_id, ())),
                                tuple(moves.get(emp_id, ())))


def _approved_changes(ids: Sequence[int]) -> Iterator[tuple[int, date, date, int | None]]:
    """The approved shift changes (调班) of these employees, asked by them or swapped with them: (employee id, first
    day, last day, the shift they work then or ``None`` for rest)."""
    wanted = set(ids)
    for asker, partner, start, end, shift_id, partner_shift_id in ShiftChange.objects.filter(
            Q(employee_id__in=wanted) | Q(partner_id__in=wanted), state="approved").values_list(
            "employee_id", "partner_id", "start", "end", "shift_id", "partner_shift_id"):
        if asker in wanted:
            yield asker, start, end, shift_id
        if partner in wanted:
            yield partner, start, end, partner_shift_id


def select_of(model: Any, columns: Sequence[str], key: str, ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    """:func:`select_in` by the ``key`` field's column, or the whole table filtered here when ``ids`` are many (a
    scan of a small per-employee table beats a dozen ``IN`` lists of 900 on SQLite)."""
    column = db_column(model, key)
    if len(ids) < WHOLE_TABLE_FROM:
        yield from select_in(model, columns, column, ids)
        return
    wanted = set(ids)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {column}, {', '.join(columns)} FROM {table}")
        while rows := cur.fetchmany(20000):
            yield from (row[1:] for row in rows if row[0] in wanted)


WHOLE_TABLE_FROM = 2000  # employees


def load_employees(rules: Rules, employees: Sequence[Staff], first: date, last: date,
                   moments: Moments | None = None) -> list[EmployeeInput]:
    """Everything the engine needs for these employees' occurrences dated ``first``..``last``.

    With ``moments`` (the follower's new punches), each employee's run is narrowed to the occurrences that
    can hold one of them (:func:`engine.touched`) and only their punches and records are read; an employee
    none of whose occurrences holds one is left out.

    Read with plain cursors on the models' own tables and columns, and times turned local with
    :class:`LocalClock`: Django's per-value conversion of ``values_list`` and model instances, and its
    preparation of every value of a long ``IN`` list, cost more than the engine itself on a month of
    punches and on a follower's batch (benchmarks/attendance.py).
    """
    people: dict[int, tuple[e.Person, e.Schedule, e.Touched]] = {}
    by_zone: dict[str, LocalClock] = {}
    clocks: dict[int, LocalClock] = {}
    whole = e.reach(e.Schedule(rules.shifts), first, last)
    planned = plans(rules, employees)
    for emp in employees:
        person, schedule = planned[emp.pk]
        if moments is None:
            span: e.Touched | None = e.Touched(first, last, *whole)
        else:
            span = e.touched(schedule, person, moments.get(emp.pk, ()), first, last)
        if span is None:
            continue
        people[emp.pk] = (person, schedule, span)
        zone = rules.zone(emp.site_id)
        clocks[emp.pk] = by_zone.setdefault(str(zone), LocalClock(zone))
    if not people:
        return []
    # the punches from the earliest window opening to the latest closing among them, in UTC (not a minute
    # more: the engine places every punch it is given, so each extra punch is extra work for it)
    staff = [emp for emp in employees if emp.pk in people]
    opens: dict[ZoneInfo, datetime] = {}
    closes: dict[ZoneInfo, datetime] = {}
    for emp in staff:
        span, zone = people[emp.pk][2], clocks[emp.pk].zone
        opens[zone] = min(opens.get(zone, span.opens), span.opens)
        closes[zone] = max(closes.get(zone, span.closes), span.closes)
    since = min(_utc(at, zone) for zone, at in opens.items())
    until = max(_utc(at, zone, last=True) for zone, at in closes.items()) + timedelta(seconds=1)
    numbers = {emp.number: emp.pk for emp in staff}
    punches: dict[int, list[e.PunchIn]] = defaultdict(list)
    for pid, number, at, way in _punch_rows(list(numbers), since, until):
        emp_id = numbers[number]
        punches[emp_id].append(e.PunchIn(pid, clocks[emp_id](at), way if way in ("in", "out") else None))
    adapt, parse = connection.ops.adapt_datetimefield_value, utc_value()
    at_column = db_column(MakeupPunch, "at")
    for mid, emp_id, at, direction in select_in(
            MakeupPunch, [db_column(MakeupPunch, "id"), db_column(MakeupPunch, "employee"), utc_sql(at_column),
                          db_column(MakeupPunch, "direction")], db_column(MakeupPunch, "employee"), list(people),
            where=f"{db_column(MakeupPunch, 'state')} = %s AND {at_column} >= %s AND {at_column} < %s",
            params=["approved", adapt(since), adapt(until)]):
        punches[emp_id].append(e.PunchIn(f"makeup-{mid}", clocks[emp_id](parse(at)),  # type: ignore[arg-type]
                                         direction if direction in ("in", "out") else None))
    records: dict[int, list[tuple[int | None, e.Record]]] = defaultdict(list)
    for row in _record_rows({emp_id: (span.first, span.last) for emp_id, (_, _, span) in people.items()}):
        span = people[row[1]][2]
        if span.first <= _parse_date(row[2]) <= span.last:  # type: ignore[operator]
            records[row[1]].append((row[0], _record_from_row(row, clocks[row[1]], parse)))
    asked = _overtime_asked({emp_id: (span.first, span.last) for emp_id, (_, _, span) in people.items()})
    found = []
    for emp in staff:
        person, schedule, span = people[emp.pk]
        mine_punches = punches.get(emp.pk, [])
        if moments is not None:  # the chunk read the widest window: keep this employee's own
            mine_punches = [p for p in mine_punches if span.opens <= p.at <= span.closes]
        found.append(EmployeeInput(emp.pk, emp.number, emp.site_id, person, schedule, mine_punches,
                                   records.get(emp.pk, []), span.first, span.last, asked.get(emp.pk, {})))
    return found


def _overtime_asked(spans: dict[int, tuple[date, date]]) -> dict[int, dict[date, Asked]]:
    """Approved overtime requests of these employees within their spans: employee id → day → what was asked (one a
    day at most: :func:`central.attendance.overtime_requests.file_overtime`)."""
    low, high = min(first for first, _ in spans.values()), max(last for _, last in spans.values())
    day = db_column(OvertimeRequest, "date")
    adapt = connection.ops.adapt_datefield_value
    found: dict[int, dict[date, Asked]] = defaultdict(dict)
    for emp_id, when, minutes, in_lieu in select_in(
            OvertimeRequest, [db_column(OvertimeRequest, c) for c in ("employee", "date", "minutes", "in_lieu")],
            db_column(OvertimeRequest, "employee"), list(spans),
            where=f"{db_column(OvertimeRequest, 'state')} = %s AND {day} >= %s AND {day} <= %s",
            params=["approved", adapt(low), adapt(high)]):
        parsed = _parse_date(when)
        first, last = spans[emp_id]
        if parsed is not None and first <= parsed <= last:
            found[emp_id][parsed] = Asked(int(minutes), bool(in_lieu))
    return found


def _schedule(rules: Rules, own: tuple[e.Assignment, ...], department_id: int | None, site_id: int,
              moves: Moves = ()) -> e.Schedule:
    """Own assignments before the department's, on the site's calendar. After moves (调动) each department's
    assignments hold only on the days the employee was in it, and each earlier site's calendar on the days they
    worked there."""
    calendar = rules.calendars.get(site_id, e.Calendar())
    if not moves:
        return e.Schedule(rules.shifts, rules.rotations,
                          own + tuple(rules.department_assignments.get(department_id or 0, [])), calendar)
    # the spans between moves: (first day or None, last day or None, site, department)
    spans: list[tuple[date | None, date | None, int, int | None]] = []
    start: date | None = None
    for since, left_site, left_department in moves:
        spans.append((start, since - timedelta(days=1), left_site, left_department))
        start = since
    spans.append((start, None, site_id, department_id))
    theirs = []
    for first, last, _site, department in spans:
        for a in rules.department_assignments.get(department or 0, []):
            low = max(a.start, first) if first else a.start
            high = min(x for x in (a.end, last) if x is not None) if (a.end or last) else None
            if high is None or low <= high:
                theirs.append(e.Assignment(low, high, a.shift, a.rotation, a.level))
    if any(site != site_id for _first, _last, site, _department in spans):
        # every earlier span, the current site's too: a day is the first span's that ends after it
        calendar = replace(calendar, earlier=tuple(
            (last + timedelta(days=1), rules.calendars.get(site, e.Calendar()))
            for first, last, site, _department in spans[:-1] if last is not None and (first is None or first <= last)))
    return e.Schedule(rules.shifts, rules.rotations, own + tuple(theirs), calendar)


def _utc(at: datetime, zone: ZoneInfo, last: bool = False) -> datetime:
    """The UTC time of local ``at`` (the earlier or, with ``last``, the later of an ambiguous one)."""
    found = [at.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1)]
    return max(found) if last else min(found)


# -- plain reads: the models' own tables and columns, times as naive UTC ------------------------------------
class LocalClock:
    """A zone's local wall time (naive) of naive UTC times: one offset per UTC day, as ``local()`` gives.

    A day whose offset at its start and at its end differ (a daylight-saving change) goes through
    ``astimezone`` punch by punch; every other day adds its one offset.
    """

    def __init__(self, zone: ZoneInfo):
        self.zone = zone
        self.offsets: dict[date, timedelta | None] = {}

    def __call__(self, at: datetime) -> datetime:
        day = at.date()
        try:
            offset = self.offsets[day]
        except KeyError:
            offset = self.offsets[day] = self._offset(day)
        if offset is None:
            return local(at.replace(tzinfo=UTC), self.zone)
        return at + offset

    def _offset(self, day: date) -> timedelta | None:
        start = datetime.combine(day, time(), UTC)
        before, after = start.astimezone(self.zone).utcoffset(), (start + timedelta(days=1)).astimezone(self.zone).utcoffset()
        return before if before == after else None


def db_column(model: Any, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def utc_sql(column: str) -> str:
    """A datetime column as naive UTC: SQLite's stored text as it is (no parsing by the driver), PostgreSQL's UTC."""
    return f"CAST({column} AS TEXT)" if connection.vendor == "sqlite" else f"({column} AT TIME ZONE 'UTC')"


def utc_value() -> Callable[[Any], datetime | None]:
    """What :func:`utc_sql` gives back, as a naive UTC datetime."""
    return _parse_sqlite if connection.vendor == "sqlite" else _as_is


def in_clauses(key: str, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
    """``key IN values`` as SQL and its parameters: one ``= ANY(array)`` on PostgreSQL (psycopg parses every
    placeholder of a query on the client, and a follower's batch names hundreds of employees), the array as
    one literal (:func:`pg_array`), 900 placeholders at a time on SQLite (its limit on parameters)."""
    if not values:
        return
    if connection.vendor == "postgresql":
        literal, kind = pg_array(values)
        yield f"{key} = ANY(%s::{kind}[])", [literal]
        return
    for i in range(0, len(values), 900):
        part = list(values[i:i + 900])
        yield f"{key} IN ({', '.join(['%s'] * len(part))})", part


def pg_array(values: Sequence[Any]) -> tuple[str, str]:
    """Integers, dates or strings as one PostgreSQL array literal, and the element type to cast it to.

    Django's psycopg cursor binds parameters on the client, and quotes each element of a list given as an array
    on its own: for the few hundred employees of a follower's batch that was 3 ms of its pass on PostgreSQL
    (benchmarks/attendance.py). One string is quoted once."""
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}", "bigint"
    if all(type(v) is date for v in values):
        return "{" + ",".join(v.isoformat() for v in values) + "}", "date"
    if all(isinstance(v, str) for v in values):
        quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
        return "{" + ",".join(quoted) + "}", "text"
    raise TypeError("an array of integers, dates or strings")


def select_in(model: Any, columns: Sequence[str], key: str, values: Sequence[Any], *, where: str = "",
              params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
    """Rows of ``columns`` (SQL expressions) of ``model``'s table whose ``key`` column is one of ``values``,
    plus an optional ``where`` with its ``params``."""
    table = connection.ops.quote_name(model._meta.db_table)
    extra = f" AND {where}" if where else ""
    for clause, part in in_clauses(key, values):
        with connection.cursor() as cur:
            cur.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {clause}{extra}", [*part, *params])
            while rows := cur.fetchmany(20000):
                yield from rows


def _punch_rows(numbers: list[str], since: datetime, until: datetime) -> Iterator[tuple[str, str, datetime, str]]:
    """(id, employee number, naive UTC time, direction) of these employees' punches in [since, until).

    A punch whose time no correct clock could have stamped (``time_flag``, central.ingest.plausibility) is
    left out: it is kept for review, never counted.
    """
    at, flag = db_column(Punch, "punched_at"), db_column(Punch, "time_flag")
    adapt, parse = connection.ops.adapt_datetimefield_value, utc_value()
    columns = [db_column(Punch, "id"), db_column(Punch, "employee_number"), utc_sql(at), db_column(Punch, "direction")]
    for pid, number, when, way in select_in(Punch, columns, db_column(Punch, "employee_number"), numbers,
                                            where=f"{at} >= %s AND {at} < %s AND {flag} = %s",
                                            params=[adapt(since), adapt(until), ""]):
        yield pid, number, parse(when), way  # type: ignore[misc]


RECORD_COLUMNS = ("id", "employee", "date", "shift_name", "status", "source", "half_day", "hours", "late", "early",
                  "late_min", "early_min", "overtime_min", "overtime_kind", "overtime_state", "first_in", "last_out",
                  "other_half", "missing_out", "day_kind", "final", "closed_by_timeout", "punch_ids")
TWO_PLACES = Decimal("0.01")


def _record_columns(table: str = "") -> list[str]:
    """RECORD_COLUMNS as SQL, of the table named ``table`` (``"r."``) or the only one."""
    return [utc_sql(table + db_column(DailyRecord, c)) if c in ("first_in", "last_out") else table + db_column(DailyRecord, c)
            for c in RECORD_COLUMNS]


# (employee, date) pairs read by key on PostgreSQL (a follower's batch, the recent days of a chunk turning final);
# more (a chunk's month) by range, where a month is within the statistics
MAX_RECORD_KEYS = 4_000


def _record_rows(spans: dict[int, tuple[date, date]]) -> Iterator[tuple[Any, ...]]:
    """DailyRecord rows of these employees (by id), each dated within its span (first, last), columns as in
    RECORD_COLUMNS (times naive UTC); rows of other dates within the widest span may come too.

    On PostgreSQL a few days at a time go by their (employee, date) keys: the days being filled are newer than
    the table's statistics, so for ``employee IN (...) AND date BETWEEN`` the planner took the date index and
    filtered that whole day's records, a scan that grew through the day (11 ms of a follower's pass at 10,000
    employees, benchmarks/attendance.py); by key it can only use the unique index."""
    day, employee = db_column(DailyRecord, "date"), db_column(DailyRecord, "employee")
    first, last = min(low for low, _ in spans.values()), max(high for _, high in spans.values())
    keys = [(emp_id, low + timedelta(days=k)) for emp_id, (low, high) in spans.items()
            for k in range((high - low).days + 1)] if connection.vendor == "postgresql" else []
    if keys and len(keys) <= MAX_RECORD_KEYS:
        table = connection.ops.quote_name(DailyRecord._meta.db_table)
        with connection.cursor() as cur:
            cur.execute(f"SELECT {', '.join(_record_columns('r.'))} "
                        f"FROM unnest(%s::bigint[], %s::date[]) AS k(employee, day) JOIN {table} AS r "
                        f"ON r.{employee} = k.employee AND r.{day} = k.day",
                        [pg_array([emp_id for emp_id, _ in keys])[0], pg_array([d for _, d in keys])[0]])
            while rows := cur.fetchmany(20000):
                yield from rows
        return
    adapt = connection.ops.adapt_datefield_value
    yield from select_in(DailyRecord, _record_columns(), employee, list(spans),
                         where=f"{day} >= %s AND {day} <= %s", params=[adapt(first), adapt(last)])


def _record_from_row(row: tuple[Any, ...], clock: LocalClock, parse: Callable[[Any], datetime | None]) -> e.Record:
    """One row of :func:`_record_rows` as the engine's record."""
    (_, _, day, shift_name, status, source, half_day, hours, late, early, late_min, early_min, overtime_min,
     overtime_kind, overtime_state, first_in, last_out, other_half, missing_out, day_kind, final, timeout, punch_ids) = row
    if isinstance(day, str):
        day = date.fromisoformat(day)
    if not isinstance(hours, Decimal):  # SQLite gives a number; the field keeps two places
        hours = Decimal(str(hours)).quantize(TWO_PLACES)
    if isinstance(punch_ids, (str, bytes)):
        punch_ids = json.loads(punch_ids)
    first_at, last_at = parse(first_in), parse(last_out)
    return e.Record(
        date=day, shift=shift_name or None, status=status, source=source, half_day=bool(half_day), hours=hours,
        late=bool(late), early=bool(early), late_min=late_min, early_min=early_min, overtime_min=overtime_min,
        overtime_kind=overtime_kind, overtime_state=overtime_state,
        first_in=clock(first_at) if first_at else None, last_out=clock(last_at) if last_at else None,
        other_half=other_half, missing_out=bool(missing_out), day_kind=day_kind, final=bool(final),
        closed_by_timeout=bool(timeout), punch_ids=tuple(punch_ids or ()))


def _parse_sqlite(value: Any) -> datetime | None:
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    return at if at.tzinfo is None else at.astimezone(UTC).replace(tzinfo=None)


def _as_is(value: Any) -> Any:
    return value


def _parse_date(value: Any) -> date | None:
    """A date column as read plainly: a date (SQLite's declared-type converter or PostgreSQL), or text."""
    return date.fromisoformat(value) if isinstance(value, str) else value
