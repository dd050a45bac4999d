"""A department's month as planned (排班表): who works which shift on each day, for the manager who staffs the line
and for HR, who changes a day from the same page (a shift change HR records:
:func:`central.attendance.shift_changes.record_change`).

Each row is an active employee of the department the caller sees; each day is the engine's own schedule
(assignments, rotation, default shift, approved shift changes and swaps, the site's calendar:
:func:`central.attendance.selectors.employee_rows`), with a leave over the working days it takes off, approved or
still waiting. Below, how many work each day, by shift: leave approved takes a person off the count, leave
waiting does not yet. Nothing here writes.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from central.accounts import scope
from central.attendance.models import LeaveRecord, ShiftType
from central.attendance.selectors import (
    PREVIEW_EMPLOYEES,
    Cell,
    NamedStaff,
    ScheduleRow,
    employee_rows,
    month_days,
)
from central.people.models import Department, Employee

if TYPE_CHECKING:
    from central.accounts.models import User

LEAVE_STATES = ("approved", "pending")


@dataclass
class Staffed:
    """One day's count of people at work, and of each shift."""
    day: date
    total: int = 0
    by_shift: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class TeamMonth:
    department: Department
    days: list[date]
    rows: list[ScheduleRow]
    staffed: list[Staffed]
    more: int  # active employees of the department not shown (beyond PREVIEW_EMPLOYEES rows)


def departments(user: User) -> list[Department]:
    """The departments whose schedule the caller may see, by site and name."""
    return list(scope.departments(user).select_related("site").order_by("site__name", "name"))


def team_employees(user: User, department: Department) -> list[Employee]:
    """The active employees of ``department`` the caller sees, by number, at most PREVIEW_EMPLOYEES."""
    return list(scope.employees(user).filter(department=department, active=True)
                .select_related("site", "department").order_by("number")[:PREVIEW_EMPLOYEES])


def team_month(user: User, department: Department, first: date, staff: list[Employee] | None = None) -> TeamMonth:
    """The month from ``first`` of ``department``'s employees the caller sees (``staff``, when the caller read them
    already: :func:`team_employees`)."""
    days = month_days(first)
    staff = team_employees(user, department) if staff is None else staff
    rows = planned_rows(staff, days)
    total = scope.employees(user).filter(department=department, active=True).count()
    return TeamMonth(department, days, rows, staffed(days, rows), more=max(0, total - len(staff)))


def planned_rows(staff: Sequence[NamedStaff], days: list[date]) -> list[ScheduleRow]:
    """A row for each of ``staff`` (in its order) over ``days`` (consecutive): the planned shifts, leave laid over
    the working days it takes."""
    rows = employee_rows(staff, days, {s.name: s for s in ShiftType.objects.all()})
    _lay_leave(rows, staff, days)
    return rows


def staffed(days: list[date], rows: list[ScheduleRow]) -> list[Staffed]:
    """How many of ``rows`` work each of ``days``, in all and by shift."""
    return [_staffed(day, [row.cells[i] for row in rows]) for i, day in enumerate(days)]


def at_work(cell: Cell) -> bool:
    """Working that day by the plan: a shift on a working day, not on leave approved for all of it."""
    if cell.off or cell.rest or not cell.name:
        return False
    return not (cell.leave and not cell.leave_waiting and not cell.half_day)


def _lay_leave(rows: list[ScheduleRow], staff: Sequence[NamedStaff], days: list[date]) -> None:
    """Mark the working days each leave (approved or waiting) of these employees takes off in ``days``."""
    if not staff:
        return
    index = {emp.pk: row for emp, row in zip(staff, rows, strict=True)}
    first, last = days[0], days[-1]
    leaves = (LeaveRecord.objects.filter(employee__in=list(index), state__in=LEAVE_STATES, start__lte=last, end__gte=first)
              .select_related("leave_type").order_by("start", "pk"))
    for leave in leaves:
        row = index[leave.employee_id]
        for i in range((max(leave.start, first) - first).days, (min(leave.end, last) - first).days + 1):
            cell = row.cells[i]
            if cell.off or cell.rest or cell.leave:
                continue
            cell.leave = leave.leave_type.name + (" ½" if leave.half_day else "")
            cell.leave_waiting = leave.state == "pending"
            cell.half_day = leave.half_day


def _staffed(day: date, cells: list[Cell]) -> Staffed:
    working = [cell for cell in cells if at_work(cell)]
    by_shift = Counter(name for cell in working for name in cell.name.split(" / "))
    return Staffed(day, len(working), sorted(by_shift.items()))
