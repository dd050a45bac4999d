"""排班导入 A schedule from a spreadsheet: HR plans who works which shift each day in Excel (or edits the schedule
report, :mod:`central.reports.schedule`) and brings it in; each day that differs from the plan as it stands becomes an
agreed shift change (调班), as when HR edits a cell of the team schedule.

:func:`read_grid` finds the sheet with a 工号 Number column, takes the columns whose headers are days (a date, or a day
of the month such as the schedule report's ``01 一``, counted from the month HR names and rolling into the next when
the numbers start again), and reads each cell: a shift's name, 休 for a rest day, or blank for no change. :func:`plan`
compares every cell with the plan and says what would change, naming the row and the day of each refusal;
:func:`apply` records all the changes or none, one approved change for each run of days an employee is given the same
shift, and recomputes their days once.

A cell holding what the plan already says changes nothing, so the report exported, edited and imported back changes
only the cells edited: a holiday (假) and a leave's type (年假 …) are accepted where the plan has them, and refused
elsewhere (holidays are set on the calendar, leave through requests). A day an employee already has a change on (a
swap, a change waiting or approved) cannot be changed by a file: it is refused on its cell.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone as dj_timezone

from central.accounts import audit, scope
from central.attendance import closing
from central.attendance.errors import AttendanceError
from central.attendance.models import ShiftChange, ShiftType
from central.attendance.selectors import Cell
from central.attendance.shift_changes import MAX_CHANGE_DAYS, standing
from central.attendance.team_schedule import planned_rows
from central.people.importing import ImportFileError, column_of, parse_date, sheets
from central.people.models import Employee

if TYPE_CHECKING:
    from central.accounts.models import User

MAX_DAYS = 62
RESTING = {"休", "休息", "rest", "off", "r"}
HOLIDAY = "假"
TOTAL = "合计"  # the schedule report's last line, under its sums


@dataclass(frozen=True)
class Grid:
    days: list[date]  # the day of each day column, in the file's order
    rows: list[tuple[int, str, list[str]]]  # (the row's number in the file, 工号, a cell per day)


def _header_day(header: str, month: date, last: date | None) -> date | None:
    """The day a header names: a full date (2026-03-01, 2026/3/1, a date cell), a month and day (3/1, 3月1日, 03-01)
    or a day of the month (01, 1日, the schedule report's ``01 一``); the last two counted from ``month``, after
    ``last``, the day of the column before (rolling into the next month or year when the numbers start again)."""
    text = header.strip()
    if not text:
        return None
    if re.match(r"^\d{4}[-/.年]|^\d{8}$", text):
        try:
            return parse_date(text.split()[0])
        except ValueError:
            return None
    found = re.fullmatch(r"(\d{1,2})[-/月](\d{1,2})日?(?:\s.*)?", text)
    if found is not None:
        month_no, day_no = int(found[1]), int(found[2])
        year = last.year if last is not None else month.year
        if last is not None and (month_no, day_no) < (last.month, last.day):
            year += 1
        return _valid(text, year, month_no, day_no)
    found = re.fullmatch(r"(\d{1,2})日?(?:\s+[一二三四五六日天])?", text)
    if found is None:
        return None
    day_no = int(found[1])
    base = last.replace(day=1) if last is not None else month
    if last is not None and day_no <= last.day:  # the numbers started again: the next month
        base = (last.replace(day=28) + timedelta(days=4)).replace(day=1)
    return _valid(text, base.year, base.month, day_no)


def _valid(header: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ImportFileError(f"表头“{header}”不是有效的日期（{year} 年 {month} 月没有这一天） / The header {header!r} is no "
                              f"day: {year}-{month:02d} has no day {day}") from None


def read_grid(name: str, data: bytes, month: date) -> Grid:
    """The schedule in a file: the first sheet with a 工号 Number column, its day columns from ``month`` on."""
    for rows in sheets(name, data):
        for index, row in enumerate(rows):
            if "number" not in [column_of(c) for c in row]:
                continue
            return _grid(rows, index, month)
    raise ImportFileError("找不到带“工号”列的表头 / No header with a 工号 Number column was found")


def _grid(rows: list[list[str]], index: int, month: date) -> Grid:
    header = rows[index]
    number_at = [column_of(c) for c in header].index("number")
    columns: list[tuple[int, date]] = []
    last: date | None = None
    for i, text in enumerate(header):
        if i == number_at:
            continue
        day = _header_day(text, month, last)
        if day is None:
            continue
        if last is not None and day <= last:
            raise ImportFileError(f"日期列不是依次排列的：{text} / The day columns are not in order: {text}")
        columns.append((i, day))
        last = day
    if not columns:
        raise ImportFileError("表头里没有日期列（如 2026-03-01、3/1 或 01） / The header has no day columns (2026-03-01, 3/1 "
                              "or 01, say)")
    if (columns[-1][1] - columns[0][1]).days >= MAX_DAYS:
        raise ImportFileError(f"一次最多导入 {MAX_DAYS} 天 / At most {MAX_DAYS} days at a time")
    found: list[tuple[int, str, list[str]]] = []
    for line, row in enumerate(rows[index + 1:], index + 2):
        number = row[number_at].strip() if number_at < len(row) else ""
        cells = [row[i].strip() if i < len(row) else "" for i, _d in columns]
        if (not number and not any(cells)) or number.startswith(TOTAL):  # a blank row, or the report's total line
            continue
        found.append((line, number, cells))
    if not found:
        raise ImportFileError("表头下面没有员工 / No employees below the header")
    return Grid([d for _i, d in columns], found)


# -- what each row would change -----------------------------------------------------------------------------------
@dataclass
class Run:
    start: date
    end: date
    shift: ShiftType | None  # None: rest
    was: list[str]  # what the plan said on each day, described

    @property
    def label(self) -> str:
        return self.shift.name if self.shift else "休"


@dataclass
class RowPlan:
    line: int
    number: str
    name: str = ""
    employee: Employee | None = None
    runs: list[Run] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (the day, or 工号; "中文 / English")

    @property
    def days_changed(self) -> int:
        return sum((r.end - r.start).days + 1 for r in self.runs)


@dataclass
class Plan:
    days: list[date]
    rows: list[RowPlan]

    @property
    def ok(self) -> bool:
        return not any(r.errors for r in self.rows)

    @property
    def changes(self) -> int:
        return sum(len(r.runs) for r in self.rows)

    @property
    def days_changed(self) -> int:
        return sum(r.days_changed for r in self.rows)

    @property
    def with_errors(self) -> int:
        return sum(1 for r in self.rows if r.errors)


def _require_hr(user: User) -> None:
    if not scope.can_manage(user):
        raise AttendanceError("只有人事可以导入排班 / Only HR imports a schedule")


def _current(cell: Cell) -> str:
    """What the plan says on a day, as the schedule report writes it."""
    if cell.leave:
        return cell.leave
    if cell.rest:
        return HOLIDAY if cell.kind == "holiday" else "休"
    return cell.name


def plan(user: User, grid: Grid) -> Plan:
    """What importing ``grid`` would change for ``user``; nothing is written."""
    _require_hr(user)
    shifts = {s.name: s for s in ShiftType.objects.all()}
    numbers = [number for _line, number, _cells in grid.rows]
    mine = {e.number: e for e in scope.employees(user).filter(number__in=numbers).select_related("site", "department")}
    rows: list[RowPlan] = []
    seen: dict[str, int] = {}
    for line, number, _cells in grid.rows:
        row = RowPlan(line, number)
        rows.append(row)
        if not number:
            row.errors.append(("", "缺少工号 / The number is missing"))
        elif number in seen:
            row.errors.append(("", f"与第 {seen[number]} 行工号重复 / The same number as row {seen[number]}"))
        elif number not in mine:
            row.errors.append(("", f"没有工号为 {number} 的员工（或不在您的管理范围内） / No employee {number} (or outside "
                                   "your scope)"))
        elif not mine[number].active:
            row.errors.append(("", f"{number} 已离职 / {number} is inactive"))
        else:
            row.employee, row.name = mine[number], mine[number].name
        seen.setdefault(number, line)
    staff = [r.employee for r in rows if r.employee is not None]
    planned = dict(zip([e.pk for e in staff], planned_rows(staff, grid.days), strict=True)) if staff else {}
    held = _changed_days(staff, grid.days[0], grid.days[-1])
    for row, (_line, _number, cells) in zip(rows, grid.rows, strict=True):
        if row.employee is None:
            continue
        _plan_row(row, cells, grid.days, planned[row.employee.pk].cells, shifts, held.get(row.employee.pk, set()))
    return Plan(grid.days, rows)


def _changed_days(staff: Sequence[Employee], first: date, last: date) -> dict[int, set[date]]:
    """The days each employee has a change waiting or approved on (theirs, or a swap with them)."""
    found: dict[int, set[date]] = {}
    rows = standing([e.pk for e in staff], first, last).values_list("employee_id", "partner_id", "start", "end")
    for emp, partner, start, end in rows:
        days = {start + timedelta(days=n) for n in range((end - start).days + 1)}
        for pk in (emp, partner):
            if pk is not None:
                found.setdefault(pk, set()).update(days)
    return found


def _plan_row(row: RowPlan, cells: list[str], days: list[date], plan_cells: list[Cell], shifts: dict[str, ShiftType],
              held: set[date]) -> None:
    assert row.employee is not None
    wanted: list[tuple[date, ShiftType | None, str]] = []  # the days that change: (day, shift, what the plan said)
    for day, text, cell in zip(days, cells, plan_cells, strict=True):
        if not text or text == _current(cell):
            continue
        where = day.isoformat()
        if cell.off:
            row.errors.append((where, "这天不在职或没有排班范围 / Not employed that day"))
        elif text == HOLIDAY:
            row.errors.append((where, "节假日在节假日页设置 / Holidays are set on the holidays page"))
        elif cell.leave:
            row.errors.append((where, f"这天已请{cell.leave}，请先处理请假 / On {cell.leave} that day: settle the leave "
                                      "first"))
        elif text.lower() not in RESTING and text not in shifts:
            row.errors.append((where, f"没有名为 {text} 的班次 / No shift named {text}"))
        elif day in held:
            row.errors.append((where, "这天已有调班或换班，请在排班表上处理 / A shift change or swap already stands that "
                                      "day: change it on the team schedule"))
        else:
            shift = None if text.lower() in RESTING else shifts[text]
            if (shift.name if shift else "") == ("" if cell.rest else cell.name):
                continue  # 休 written on a holiday, say: the day rests already
            wanted.append((day, shift, _current(cell)))
    if row.errors or not wanted:
        return
    try:
        closing.require_open(row.employee, wanted[0][0], wanted[-1][0])
    except AttendanceError as exc:
        row.errors.append((wanted[0][0].isoformat(), str(exc)))
        return
    for day, shift, was in wanted:
        last = row.runs[-1] if row.runs else None
        if last is not None and last.shift == shift and last.end == day - timedelta(days=1) \
                and (day - last.start).days < MAX_CHANGE_DAYS:
            last.end = day
            last.was.append(was)
        else:
            row.runs.append(Run(day, day, shift, [was]))


# -- doing it ------------------------------------------------------------------------------------------------------
class ScheduleRefused(AttendanceError):
    """A plan with errors: nothing was written."""


@dataclass(frozen=True)
class Outcome:
    employees: int
    changes: int
    days: int
    queued: bool  # the recompute was queued for the follower (else done at once)


def apply(user: User, grid: Grid, *, source: str) -> Outcome:
    """Record every change :func:`plan` finds for ``grid``, checked again now, as agreed shift changes approved by
    ``user``; refused whole while any row has an error."""
    from central.attendance.models import RecomputeJob
    from central.attendance.services import queue_for_employees, run_claimed

    checked = plan(user, grid)
    if not checked.ok:
        raise ScheduleRefused(f"有 {checked.with_errors} 行有错误，没有导入任何排班 / {checked.with_errors} rows have "
                              "errors: nothing was imported")
    changing = [r for r in checked.rows if r.runs and r.employee is not None]
    now = dj_timezone.now()
    reason = f"排班导入 {source} / schedule import"[:500]
    with transaction.atomic():
        staff = [r.employee for r in changing if r.employee is not None]
        list(Employee.objects.select_for_update().filter(pk__in=[e.pk for e in staff]))  # as file_change holds them
        held = _changed_days(staff, checked.days[0], checked.days[-1])
        if any(run.start + timedelta(days=n) in held.get(r.employee.pk, set())
               for r in changing if r.employee is not None for run in r.runs for n in range((run.end - run.start).days + 1)):
            raise ScheduleRefused("检查之后有人提交了调班，请重新检查 / A shift change was filed since the check: check again")
        ShiftChange.objects.bulk_create([
            ShiftChange(employee=r.employee, start=run.start, end=run.end, shift=run.shift,
                        was="; ".join(f"{run.start + timedelta(days=i):%m-%d} {w}" for i, w in enumerate(run.was))[:200]
                        if len(set(run.was)) > 1 else run.was[0][:200],
                        reason=reason, state="approved", approved_by=user.username[:150], approved_at=now)
            for r in changing for run in r.runs])
        audit.record(user.username, "attendance.schedule_import", source[:200], {
            "first": checked.days[0].isoformat(), "last": checked.days[-1].isoformat(),
            "employees": len(changing), "changes": checked.changes, "days": checked.days_changed,
            "numbers": [r.number for r in changing]})
        ids = [r.employee.pk for r in changing if r.employee]
        job = queue_for_employees(ids, checked.days[0], checked.days[-1], user.username,
                                  f"排班导入 {len(ids)} 人 / schedule import, {len(ids)} employees") if ids else None
    queued = isinstance(run_claimed(job), RecomputeJob)  # too big to wait for: left to the follower
    return Outcome(len(changing), checked.changes, checked.days_changed, queued)

