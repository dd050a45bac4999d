"""The engine's plain data read from the database, in bulk: one query per kind per chunk of employees.

Selectors only: nothing here writes. Times leave here as the site's local wall time (naive),
which is what :mod:`central.attendance.engine` works in.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from central.attendance import engine as e
from central.attendance.models import (
    Assignment,
    AttendanceProfile,
    CalendarDay,
    DailyRecord,
    MakeupPunch,
    Rotation,
    ShiftType,
    SiteCalendar,
)
from central.ingest.models import Punch
from central.people.models import Device, Employee, Site

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
        overtime=overtime)


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
    finality: dict[int, e.Finality] = field(default_factory=dict)

    def zone(self, site_id: int) -> ZoneInfo:
        return self.zones.get(site_id, UTC)


def load_rules(now: datetime) -> Rules:
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
    zones = {s.pk: _zone(s.time_zone) for s in sites}
    weekly = {c.site_id: frozenset(int(d) for d in c.weekly_rest or [] if isinstance(d, int) and 0 <= d <= 6)
              for c in SiteCalendar.objects.all()}
    waits = dict(SiteCalendar.objects.values_list("site_id", "final_wait_h"))
    holidays: dict[int, set[date]] = defaultdict(set)
    workdays: dict[int, set[date]] = defaultdict(set)
    for site_id, day, kind in CalendarDay.objects.values_list("site_id", "date", "kind"):
        (holidays if kind == "holiday" else workdays)[site_id].add(day)
    calendars = {s.pk: e.Calendar(frozenset(holidays[s.pk]), frozenset(workdays[s.pk]), weekly.get(s.pk, frozenset()))
                 for s in sites}
    rules = Rules(shifts, shift_names, rotations, rotation_names, calendars, zones)
    for a in Assignment.objects.filter(department__isnull=False):
        rules.department_assignments.setdefault(a.department_id, []).append(_assignment(rules, a, level=1))  # type: ignore[arg-type]
    drained: dict[int, list[datetime | None]] = defaultdict(list)
    for site_id, at in Device.objects.values_list("site_id", "drained_at"):
        drained[site_id].append(at)
    for s in sites:
        zone = zones[s.pk]
        reports = drained.get(s.pk)
        if not reports:
            reported: datetime | None = now  # no terminal: nothing more can arrive
        elif any(at is None for at in reports):
            reported = None
        else:
            reported = min(at for at in reports if at is not None)
        timeout = now - timedelta(hours=waits.get(s.pk, 168))
        rules.finality[s.pk] = e.Finality(local(reported, zone) if reported else None, local(timeout, zone))
    return rules


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return UTC


def local(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone).replace(tzinfo=None)


def aware(at: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if at is None else at.replace(tzinfo=zone)


def _assignment(rules: Rules, a: Assignment, level: int) -> e.Assignment:
    return e.Assignment(a.start, a.end, shift=rules.shift_names.get(a.shift_id) if a.shift_id else None,  # type: ignore[arg-type]
                        rotation=rules.rotation_names.get(a.rotation_id) if a.rotation_id else None,  # type: ignore[arg-type]
                        level=level)


@dataclass
class EmployeeInput:
    employee_id: int
    number: str
    site_id: int
    person: e.Person
    schedule: e.Schedule
    punches: list[e.PunchIn]
    records: list[tuple[int | None, e.Record]]  # (row id, record)


def record_of(row: DailyRecord, zone: ZoneInfo) -> e.Record:
    return e.Record(
        date=row.date, shift=row.shift_name or None, status=row.status,  # type: ignore[arg-type]
        source=row.source, half_day=row.half_day, hours=Decimal(row.hours),  # type: ignore[arg-type]
        late=row.late, early=row.early, late_min=row.late_min, early_min=row.early_min, overtime_min=row.overtime_min,
        overtime_kind=row.overtime_kind, overtime_state=row.overtime_state,  # type: ignore[arg-type]
        first_in=local(row.first_in, zone) if row.first_in else None,
        last_out=local(row.last_out, zone) if row.last_out else None,
        other_half=row.other_half,  # type: ignore[arg-type]
        missing_out=row.missing_out, day_kind=row.day_kind,  # type: ignore[arg-type]
        final=row.final, closed_by_timeout=row.closed_by_timeout, punch_ids=tuple(row.punch_ids or ()))


def load_employees(rules: Rules, employees: Sequence[Employee], first: date, last: date) -> list[EmployeeInput]:
    """Everything the engine needs for these employees' occurrences dated ``first``..``last``."""
    ids = [emp.pk for emp in employees]
    profiles = {p.employee_id: p for p in AttendanceProfile.objects.filter(employee_id__in=ids)}
    own: dict[int, list[e.Assignment]] = defaultdict(list)
    for a in Assignment.objects.filter(employee_id__in=ids):
        own[a.employee_id].append(_assignment(rules, a, level=0))  # type: ignore[index]
    low, high = e.span_needed(e.Schedule(rules.shifts), first, last)
    # a day either side covers every time zone's offset from UTC
    since = datetime.combine(low - timedelta(days=1), time(), UTC)
    until = datetime.combine(high + timedelta(days=2), time(), UTC)
    numbers = {emp.number: emp.pk for emp in employees}
    punches: dict[int, list[tuple[str, datetime, str | None]]] = defaultdict(list)
    rows = (Punch.objects.filter(employee_number__in=list(numbers), punched_at__gte=since, punched_at__lt=until)
            .values_list("id", "employee_number", "punched_at", "direction"))
    for pid, number, at, way in rows.iterator(chunk_size=20000):
        punches[numbers[number]].append((pid, at, way))
    for mid, emp_id, at, direction in (MakeupPunch.objects.filter(employee_id__in=ids, state="approved",
                                                                   at__gte=since, at__lt=until)
                                       .values_list("pk", "employee_id", "at", "direction")):
        punches[emp_id].append((f"makeup-{mid}", at, direction))
    records: dict[int, list[tuple[int | None, DailyRecord]]] = defaultdict(list)
    for row in DailyRecord.objects.filter(employee_id__in=ids, date__gte=first, date__lte=last):
        records[row.employee_id].append((row.pk, row))
    found = []
    for emp in employees:
        zone = rules.zone(emp.site_id)
        profile = profiles.get(emp.pk)
        default = rules.shift_names.get(profile.default_shift_id) if profile and profile.default_shift_id else None
        person = e.Person(emp.number, profile.joined if profile else None, profile.left if profile else None, emp.active,
                          default, profile.exempt if profile else False, profile.overtime_listed if profile else False)
        assignments = tuple(own.get(emp.pk, [])) + tuple(rules.department_assignments.get(emp.department_id or 0, []))
        schedule = e.Schedule(rules.shifts, rules.rotations, assignments, rules.calendars.get(emp.site_id, e.Calendar()))
        found.append(EmployeeInput(
            emp.pk, emp.number, emp.site_id, person, schedule,
            [e.PunchIn(pid, local(at, zone), direction if direction in ("in", "out") else None)
             for pid, at, direction in punches.get(emp.pk, [])],
            [(pk, record_of(row, zone)) for pk, row in records.get(emp.pk, [])]))
    return found


def employees_touched(rows: Iterable[tuple[str, datetime]], zones: dict[str, ZoneInfo]) -> dict[str, tuple[date, date]]:
    """From (employee number, UTC time) of new punches: each employee's local days whose records can change."""
    spans: dict[str, tuple[date, date]] = {}
    for number, at in rows:
        day = local(at, zones.get(number, UTC)).date()
        lo, hi = spans.get(number, (day, day))
        spans[number] = (min(lo, day - timedelta(days=1)), max(hi, day))
    return spans
