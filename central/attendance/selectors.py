"""What the attendance console pages read: shifts, rotations and their calendar preview, assignments, site
calendars and each employee's month. Rows about people are read through :mod:`central.accounts.scope`;
shift types, overtime rules and rotations are company-wide. Nothing here writes.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from central.accounts import scope
from central.attendance import engine as e
from central.attendance import late_allowance, overtime_limit
from central.attendance.inputs import Staff, load_employees, load_rules, plans, shift_of, zone_named
from central.attendance.models import (
    Assignment,
    AttendanceProfile,
    CalendarDay,
    DailyRecord,
    LeaveRecord,
    LeaveType,
    MakeupPunch,
    OvertimeRule,
    RecomputeJob,
    Rotation,
    ShiftType,
    SiteCalendar,
)
from central.attendance.overtime_limit import MonthOvertime
from central.people.models import Employee, Site

if TYPE_CHECKING:
    from central.accounts.models import User

PREVIEW_EMPLOYEES = 200  # rows of a rotation's preview, at most
MAX_CREWS = 6
STATUS_SYMBOL = {"present": "✓", "absent": "✗", "half_day": "½", "on_leave": "○"}
STATUS_CLASS = {"present": "ok", "absent": "bad", "half_day": "warn", "on_leave": "info"}
ON_DUTY_SYMBOL = "→"
REST_COLOR = "#9aa5b1"


# -- months ------------------------------------------------------------------------------------------
def parse_month(text: str | None, today: date | None = None) -> date:
    """``YYYY-MM`` as the first day of that month; anything else is this month."""
    today = today or timezone.localdate()
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return date(year, month, 1)
    except ValueError:
        pass
    return today.replace(day=1)


def month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def month_days(first: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((month_end(first) - first).days + 1)]


def shift_month(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def zone_of(site: Site) -> ZoneInfo:
    return zone_named(site.time_zone)


# -- shifts and overtime rules -----------------------------------------------------------------------
def shift_list() -> QuerySet[ShiftType]:
    return ShiftType.objects.select_related("overtime").annotate(
        n_assignments=Count("assignments", distinct=True)).order_by("start", "name")


def overtime_rules() -> QuerySet[OvertimeRule]:
    return OvertimeRule.objects.annotate(n_shifts=Count("shifts")).order_by("name")


def leave_types() -> QuerySet[LeaveType]:
    return LeaveType.objects.annotate(n_leaves=Count("leaverecord", filter=Q(leaverecord__state="approved"))).order_by("code")


def shift_length_h(shift: ShiftType) -> Decimal:
    """The paid length the engine credits for the shift (its length less breaks)."""
    return shift_of(shift).paid_hours()


def breaks_text(breaks: list[dict[str, str]] | None) -> str:
    return ", ".join(f"{b.get('start', '')}-{b.get('end', '')}" for b in breaks or [])


# -- rotations -----------------------------------------------------------------------------------------
@dataclass
class Cell:
    """One day of a schedule row: a shift (name, colour) or a rest day; ``kind`` from the site's calendar."""
    name: str = ""
    color: str = REST_COLOR
    rest: bool = True
    kind: str = "workday"
    off: bool = False  # outside the employee's assignment or employment: nothing planned
    changed: bool = False  # an approved shift change or swap (调班, 换班) decides the day
    day: date | None = None  # the day, where a page links the cell to it
    leave: str = ""  # a leave taking the day off: its type's name (central.attendance.team_schedule)
    leave_waiting: bool = False  # that leave still waits for a decision
    half_day: bool = False  # that leave takes half the day


@dataclass
class ScheduleRow:
    label: str
    sub: str = ""
    cells: list[Cell] = field(default_factory=list)
    employee_id: int | None = None


def _shift_cells(pattern: list[Any], shifts: dict[int, ShiftType]) -> list[Cell]:
    cells = []
    for item in pattern or []:
        shift = shifts.get(item) if isinstance(item, int) else None
        cells.append(Cell(shift.name, shift.color, False) if shift else Cell())
    return cells


def rotation_list() -> list[dict[str, Any]]:
    shifts = {s.pk: s for s in ShiftType.objects.all()}
    rows = Rotation.objects.annotate(n_assignments=Count("assignments")).order_by("name")
    return [{"rotation": r, "cells": _shift_cells(r.pattern, shifts), "days": len(r.pattern or [])} for r in rows]


def crews(pattern: list[Any]) -> int:
    """How many crews a pattern serves: its length over the length of its first working run (at most 6)."""
    if not pattern:
        return 1
    first = next((i for i, x in enumerate(pattern) if x is not None), 0)
    run = 1
    while first + run < len(pattern) and pattern[first + run] == pattern[first]:
        run += 1
    return max(1, min(MAX_CREWS, len(pattern) // run)) if run < len(pattern) else 1


def rotation_preview(user: User, rotation: Rotation, first: date) -> dict[str, Any]:
    """A month of the rotation: one row per crew (the pattern started ``k`` runs later), then one per employee
    in the caller's scope it is assigned to (their own or their department's), as the engine schedules them."""
    days = month_days(first)
    shifts = {s.pk: s for s in ShiftType.objects.all()}
    names = {s.name: s for s in shifts.values()}
    pattern = tuple(shifts[x].name if isinstance(x, int) and x in shifts else None for x in rotation.pattern or [])
    n_crews = crews(list(rotation.pattern or []))
    step = len(pattern) // n_crews if n_crews > 1 else 0
    crew_rows = []
    for k in range(n_crews):
        plan = e.Rotation(rotation.name, rotation.anchor + timedelta(days=k * step), pattern)
        row = ScheduleRow(label=str(k + 1))
        for day in days:
            name = plan.shift_on(day)
            shift = names.get(name) if name else None
            row.cells.append(Cell(shift.name, shift.color, False) if shift else Cell())
        crew_rows.append(row)
    held = Assignment.objects.filter(rotation=rotation).filter(
        Q(end__isnull=True) | Q(end__gte=days[0]), start__lte=days[-1])
    employees = scope.employees(user).filter(
        Q(pk__in=held.filter(employee__isnull=False).values("employee_id"))
        | Q(department_id__in=held.filter(department__isnull=False).values("department_id")),
        active=True).select_related("department").order_by("department__name", "number")
    chosen = list(employees[:PREVIEW_EMPLOYEES])
    return {"days": days, "crews": crew_rows, "employees": employee_rows(chosen, days, names),
            "more": max(0, employees.count() - len(chosen))}


class NamedStaff(Staff, Protocol):
    """An employee as a schedule row shows them: an Employee, or a report's plain row."""

    @property
    def name(self) -> str: ...


def employee_rows(employees: Sequence[NamedStaff], days: list[date], shifts: dict[str, ShiftType]) -> list[ScheduleRow]:
    """Each employee's planned shifts, from the engine's own schedule (assignments, rotation, default shift,
    approved shift changes), without their punches or records."""
    if not employees:
        return []
    planned = plans(load_rules(timezone.now()), employees)
    rows = []
    for emp in employees:
        person, schedule = planned[emp.pk]
        row = ScheduleRow(label=emp.name, sub=emp.number, employee_id=emp.pk)
        for day in days:
            cell = _planned_cell(schedule, person, day, shifts)
            cell.day = day
            row.cells.append(cell)
        rows.append(row)
    return rows


def profile_initial(employee: Employee) -> dict[str, Any]:
    """An employee's attendance terms as the month page's form starts from (none saved yet: the defaults)."""
    profile = AttendanceProfile.objects.filter(employee=employee).first()
    if profile is None:
        return {}
    return {"joined": profile.joined, "work_started": profile.work_started, "left": profile.left, "exempt": profile.exempt,
            "overtime_listed": profile.overtime_listed,
            "default_shift": str(profile.default_shift_id) if profile.default_shift_id else ""}


def leave_days_of(employee: Employee, first: date, last: date, *, natural: bool) -> list[date]:
    """The days a leave of ``employee`` from ``first`` to ``last`` takes off, by their own schedule and their site's
    calendar (:func:`engine.leave_days`)."""
    person, schedule = plans(load_rules(timezone.now()), [employee])[employee.pk]
    return e.leave_days(schedule, person, first, last, natural=natural)


def _planned_cell(schedule: e.Schedule, person: e.Person, day: date, shifts: dict[str, ShiftType]) -> Cell:
    if not person.employed_on(day):
        return Cell(off=True)
    planned = e.shifts_on(schedule, person, day)
    changed = any(a.changed and a.covers(day) for a in schedule.assignments)
    if not planned:
        return Cell(kind=schedule.calendar.kind(day, weekly=False), changed=changed)
    shift, weekly = planned[0]
    row = shifts.get(shift.name)
    kind = schedule.calendar.kind(day, weekly=weekly)
    return Cell(" / ".join(s.name for s, _ in planned), row.color if row else REST_COLOR, kind != "workday", kind,
                changed=changed)


# -- assignments ---------------------------------------------------------------------------------------
def assignments(user: User, *, q: str = "", site: str = "", department: str = "", schedule: str = "",
                when: date | None = None) -> QuerySet[Assignment]:
    """The assignments of employees and departments the caller can see, filtered."""
    rows = Assignment.objects.filter(Q(employee__in=scope.employees(user)) | Q(department__in=scope.departments(user)))
    q = q.strip()
    if q:
        rows = rows.filter(Q(employee__number__icontains=q) | Q(employee__name__icontains=q)
                           | Q(department__name__icontains=q))
    if site:
        rows = rows.filter(Q(employee__site__code=site) | Q(department__site__code=site))
    if department.isdigit():
        rows = rows.filter(Q(department_id=int(department)) | Q(employee__department_id=int(department)))
    if schedule.startswith("shift-") and schedule[6:].isdigit():
        rows = rows.filter(shift_id=int(schedule[6:]))
    elif schedule.startswith("rotation-") and schedule[9:].isdigit():
        rows = rows.filter(rotation_id=int(schedule[9:]))
    if when is not None:
        rows = rows.filter(Q(end__isnull=True) | Q(end__gte=when), start__lte=when)
    return rows.select_related("employee", "employee__site", "department", "department__site", "shift",
                               "rotation").order_by("-start", "-pk")


def assignment_in_scope(user: User, pk: int) -> Assignment | None:
    return assignments(user).filter(pk=pk).first()


# -- holiday calendars -------------------------------------------------------------------------------
def calendar_of(site: Site) -> SiteCalendar:
    """The site's calendar, or an unsaved one with the defaults (nothing is written by reading)."""
    return SiteCalendar.objects.filter(site=site).first() or SiteCalendar(site=site)


def calendar_days(site: Site, year: int) -> QuerySet[CalendarDay]:
    return CalendarDay.objects.filter(site=site, date__year=year).order_by("date")


# -- one employee's month ----------------------------------------------------------------------------
@dataclass
class PunchLine:
    at: datetime
    device: str
    direction: str
    makeup: bool = False
    used: bool = True


@dataclass
class DayRecord:
    row: DailyRecord
    symbol: str
    css: str
    punches: list[PunchLine] = field(default_factory=list)
    let_go: bool = False  # late, and let go by the site's monthly allowance (人性化迟到)


@dataclass
class MonthDay:
    date: date
    in_month: bool
    today: bool
    planned: Cell | None = None
    records: list[DayRecord] = field(default_factory=list)
    loose: list[PunchLine] = field(default_factory=list)  # punches of the day no record counted


def month_leaves(employee: Employee, first: date) -> list[LeaveRecord]:
    """The employee's leave approved or waiting that overlaps the month from ``first``, by first day."""
    return list(LeaveRecord.objects.filter(employee=employee, state__in=("approved", "pending"), start__lte=month_end(first),
                                           end__gte=first).select_related("leave_type").order_by("start", "pk"))


def employee_month(user: User, employee: Employee, first: date) -> dict[str, Any]:
    """The employee's month as Monday-to-Sunday weeks: each day's plan, records, and the punches behind them
    (in the site's local time), with the month's totals."""
    last = month_end(first)
    grid_first = first - timedelta(days=first.weekday())
    grid_last = last + timedelta(days=6 - last.weekday())
    zone = zone_of(employee.site)
    today = timezone.localdate()
    rows = list(DailyRecord.objects.filter(employee=employee, date__gte=grid_first, date__lte=grid_last)
                .select_related("leave_type").order_by("date", "shift_name"))
    since = datetime.combine(grid_first - timedelta(days=1), time(), zone)
    until = datetime.combine(grid_last + timedelta(days=2), time(), zone)
    punches = {p.id: PunchLine(p.punched_at.astimezone(zone), p.device_id, p.direction) for p in
               scope.punches(user).filter(employee_number=employee.number, punched_at__gte=since, punched_at__lt=until)
               .order_by("punched_at")}
    for m in MakeupPunch.objects.filter(employee=employee, state="approved", at__gte=since, at__lt=until):
        punches[f"makeup-{m.pk}"] = PunchLine(m.at.astimezone(zone), "", m.direction or "", makeup=True)
    used: set[str] = set()
    by_day: dict[date, list[DayRecord]] = defaultdict(list)
    let_go = late_allowance.let_go_of({employee.pk: employee.site_id}, grid_first, grid_last).get(employee.pk, set())
    for row in rows:
        lines = [punches[pid] for pid in row.punch_ids or [] if pid in punches]
        used.update(pid for pid in row.punch_ids or [])
        symbol, css = STATUS_SYMBOL.get(row.status, "?"), STATUS_CLASS.get(row.status, "muted")
        if row.source == "on_duty":  # worked away from the site: marked apart from days punched at the door
            symbol, css = ON_DUTY_SYMBOL + (STATUS_SYMBOL["half_day"] if row.half_day else ""), "info"
        by_day[row.date].append(DayRecord(row, symbol, css, sorted(lines, key=lambda p: p.at),
                                          row.late and (row.date, row.shift_name) in let_go))
    loose: dict[date, list[PunchLine]] = defaultdict(list)
    for pid, line in punches.items():
        if pid not in used:
            loose[line.at.date()].append(PunchLine(line.at, line.device, line.direction, line.makeup, used=False))
    planned = _planned_month(employee, grid_first, grid_last)
    weeks: list[list[MonthDay]] = []
    day = grid_first
    while day <= grid_last:
        week = []
        for _ in range(7):
            week.append(MonthDay(day, first <= day <= last, day == today, planned.get(day), by_day.get(day, []),
                                 sorted(loose.get(day, []), key=lambda p: p.at)))
            day += timedelta(days=1)
        weeks.append(week)
    in_month = [r for r in rows if first <= r.date <= last]
    late = [r for r in in_month if r.late and (r.date, r.shift_name) not in let_go]  # the lates the month counts
    totals = {
        "present": sum(1 for r in in_month if r.status == "present"),
        "absent": sum(1 for r in in_month if r.status == "absent"),
        "half_day": sum(1 for r in in_month if r.status == "half_day"),
        "on_leave": sum(1 for r in in_month if r.status == "on_leave"),
        "on_duty": sum(Decimal("0.5") if r.half_day else Decimal(1) for r in in_month if r.source == "on_duty"),
        "hours": sum((Decimal(r.hours) for r in in_month), Decimal("0.00")),
        "late": len(late), "late_min": sum(r.late_min for r in late),
        "late_let_go": sum(1 for r in in_month if r.late) - len(late),
        "early": sum(1 for r in in_month if r.early), "early_min": sum(r.early_min for r in in_month),
        "overtime_min": sum(r.overtime_min for r in in_month),
        "overtime_month": MonthOvertime(sum(r.overtime_min for r in in_month
                                            if r.overtime_state in overtime_limit.COUNTED_STATES), overtime_limit.limit_h()),
        "provisional": sum(1 for r in in_month if not r.final),
    }
    return {"weeks": weeks, "totals": totals, "first": first, "last": last, "zone": str(zone),
            "previous": shift_month(first, -1), "next": shift_month(first, 1)}


def _planned_month(employee: Employee, first: date, last: date) -> dict[date, Cell]:
    shifts = {s.name: s for s in ShiftType.objects.all()}
    rules = load_rules(timezone.now())
    item = load_employees(rules, [employee], first, last)[0]
    plan = {}
    day = first
    while day <= last:
        plan[day] = _planned_cell(item.schedule, item.person, day, shifts)
        day += timedelta(days=1)
    return plan


def manual_shift_choices() -> list[ShiftType]:
    return list(ShiftType.objects.order_by("start", "name"))


# -- queued recomputes (services.run_queued) -------------------------------------------------------------------
JOB_DONE_SHOWN = timedelta(minutes=10)  # a finished or failed recompute stays on the pages this long
JOB_STALLED = timedelta(minutes=1)  # queued this long with nothing done: the follower is probably not running


@dataclass(frozen=True)
class JobRow:
    job: RecomputeJob
    stalled: bool


@dataclass(frozen=True)
class JobsShown:
    rows: list[JobRow]

    @property
    def open(self) -> bool:
        """Some are still queued or running: the page asks again for their progress."""
        return any(r.job.state in (RecomputeJob.PENDING, RecomputeJob.RUNNING) for r in self.rows)


def recompute_jobs_shown(now: datetime) -> JobsShown:
    """The recomputes of people's edits and of punches that came in bulk, still queued or running, and those that ended
    in the last ten minutes, oldest first. Not shown: the follower's own as days turn final (several times a day, not
    news to anyone), and a small edit's that its own request runs (services.run_claimed: its page says the days were
    recomputed) while the request holds it and once it is done; one whose request died is shown once its claim lapses,
    and one that failed always."""
    open_states = (RecomputeJob.PENDING, RecomputeJob.RUNNING)
    rows = (RecomputeJob.objects.filter(Q(state__in=open_states) | Q(finished_at__gte=now - JOB_DONE_SHOWN))
            .exclude(kind=RecomputeJob.TURNING_FINAL)
            .exclude(state__in=open_states, claimed_until__gte=now)
            .exclude(state=RecomputeJob.DONE, claimed_until__gte=F("finished_at"))
            .defer("employees").order_by("pk"))
    return JobsShown([JobRow(job, job.state == RecomputeJob.PENDING and job.done == 0
                             and job.created_at < now - JOB_STALLED) for job in rows[:20]])


def recompute_queued(actor: str, since: datetime) -> bool:
    """Whether ``actor`` queued a recompute for the follower since ``since`` (an edit just saved was too big to wait for:
    not one its request ran, services.run_claimed)."""
    return RecomputeJob.objects.filter(actor=actor[:150], created_at__gte=since, claimed_until__isnull=True).exists()
