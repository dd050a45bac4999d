"""Leave allowances and what is left of them: the days each employee may take of a leave type in a calendar year.

A leave type with ``yearly_days`` gives every employee that many days a year; an employee's own
:class:`LeaveAllowance` for a type and year replaces it (more annual leave with more years of service, days carried
over). What a leave takes is counted as the records it lays down: the employee's working days by their own schedule
and site calendar (every day for a type counted in calendar days), half a day for a half-day leave, each day in the
year it falls in. Approved leave is *used*; pending leave is *waiting* and held, so two requests cannot together take
more than is left. A leave beyond what is left is refused when it is asked for (:func:`check`), with the numbers.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from central.accounts import audit
from central.attendance import engine as e
from central.attendance.inputs import load_rules, plans
from central.attendance.models import LeaveAllowance, LeaveRecord, LeaveType
from central.attendance.services import AttendanceError
from central.people.models import Employee

HALF = Decimal("0.5")
MAX_DAYS = Decimal("366")


class AllowanceError(AttendanceError):
    """A leave beyond its allowance, or an allowance the product refuses."""


@dataclass(frozen=True)
class Balance:
    leave_type: LeaveType
    year: int
    allowance: Decimal
    own: bool  # the employee's own allowance, not the type's
    used: Decimal  # approved
    waiting: Decimal  # pending, held

    @property
    def left(self) -> Decimal:
        return self.allowance - self.used - self.waiting


def days_text(days: Decimal) -> str:
    """3.0 as "3", 2.5 as "2.5"."""
    return f"{days.normalize():f}"


def _taken(days: Iterable[date], half_day: bool) -> dict[int, Decimal]:
    """Days of a leave per calendar year."""
    found: dict[int, Decimal] = {}
    for day in days:
        found[day.year] = found.get(day.year, Decimal(0)) + (HALF if half_day else Decimal(1))
    return found


def _leave_days(staff: Sequence[Employee], leaves: Sequence[LeaveRecord]) -> dict[int, list[date]]:
    """Each leave's days off (by pk), worked out with one read of the rules for everyone."""
    if not leaves:
        return {}
    wanted = {leave.employee_id for leave in leaves}
    planned = plans(load_rules(timezone.now()), [emp for emp in staff if emp.pk in wanted])
    found: dict[int, list[date]] = {}
    for leave in leaves:
        person, schedule = planned[leave.employee_id]
        found[leave.pk] = e.leave_days(schedule, person, leave.start, leave.end,
                                       natural=leave.leave_type.counts_rest_days)
    return found


def balances_of(staff: Sequence[Employee], years: Iterable[int]) -> dict[int, list[Balance]]:
    """Each employee's (by pk) balance of every leave type that keeps an allowance for them, in each of ``years``;
    by type code, then year. Four reads and one of the rules, however many employees."""
    wanted = sorted(set(years))
    if not staff or not wanted:
        return {emp.pk: [] for emp in staff}
    types = {t.pk: t for t in LeaveType.objects.all()}
    shared = {(pk, year): (t.yearly_days, False) for pk, t in types.items() if t.yearly_days is not None
              for year in wanted}
    allowances: dict[int, dict[tuple[int, int], tuple[Decimal, bool]]] = {emp.pk: dict(shared) for emp in staff}
    for row in LeaveAllowance.objects.filter(employee__in=[emp.pk for emp in staff], year__in=wanted):
        allowances[row.employee_id][(row.leave_type_id, row.year)] = (row.days, True)
    first, last = date(wanted[0], 1, 1), date(wanted[-1], 12, 31)
    leaves = list(LeaveRecord.objects.filter(employee__in=[emp.pk for emp in staff if allowances[emp.pk]],
                                             state__in=("approved", "pending"), start__lte=last, end__gte=first)
                  .select_related("leave_type"))
    days = _leave_days(staff, leaves)
    taken: dict[tuple[int, int, int, str], Decimal] = {}  # (employee, type, year, state) → days
    for leave in leaves:
        for year, n in _taken(days[leave.pk], leave.half_day).items():
            key = (leave.employee_id, leave.leave_type_id, year, leave.state)
            taken[key] = taken.get(key, Decimal(0)) + n
    zero = Decimal(0)
    return {emp.pk: [Balance(types[pk], year, days_, own, taken.get((emp.pk, pk, year, "approved"), zero),
                             taken.get((emp.pk, pk, year, "pending"), zero))
                     for (pk, year), (days_, own) in sorted(allowances[emp.pk].items(),
                                                            key=lambda kv: (types[kv[0][0]].code, kv[0][1]))]
            for emp in staff}


def balances(employee: Employee, years: Iterable[int]) -> list[Balance]:
    """The employee's balance of every leave type that keeps an allowance for them, for each of ``years``."""
    return balances_of([employee], years)[employee.pk]


def check(employee: Employee, leave_type: LeaveType, days: Sequence[date], half_day: bool) -> None:
    """Refuse a new leave of ``days`` (its days off) that would take more than is left in any year it falls in. The
    caller holds the employee's row locked, so two requests at once are counted one after the other."""
    taking = _taken(days, half_day)
    left = {(b.leave_type.pk, b.year): b for b in balances(employee, taking)}
    for year, need in sorted(taking.items()):
        balance = left.get((leave_type.pk, year))
        if balance is not None and need > balance.left:
            have = days_text(max(balance.left, Decimal(0)))
            raise AllowanceError(
                f"{leave_type.name}额度不足：{year} 年还剩 {have} 天，这次请假要 {days_text(need)} 天 / "
                f"Not enough {leave_type.name} left: {have} days left in {year}, this leave takes {days_text(need)}",
                "end")


def set_allowance(user: Any, employee: Employee, leave_type: LeaveType, year: int, days: Decimal | None) -> None:
    """An employee's own allowance of ``leave_type`` in ``year`` (``None``: back to the type's days a year), audited.
    Who may: those who manage the employee (the caller checked it)."""
    if not 2000 <= year <= 2100:
        raise AllowanceError("年份应在 2000 到 2100 之间 / The year is 2000 to 2100", "year")
    if days is not None and not (Decimal(0) <= days <= MAX_DAYS and days == days.quantize(HALF / 5)):
        raise AllowanceError("天数应在 0 到 366 之间，最多一位小数 / Days are 0 to 366, one decimal at most", "days")
    with transaction.atomic():
        before = LeaveAllowance.objects.filter(employee=employee, leave_type=leave_type, year=year).first()
        if days is None:
            LeaveAllowance.objects.filter(employee=employee, leave_type=leave_type, year=year).delete()
        else:
            LeaveAllowance.objects.update_or_create(employee=employee, leave_type=leave_type, year=year,
                                                    defaults={"days": days, "set_by": user.username})
        audit.record(user.username, "attendance.leave_allowance", f"{employee.number} {leave_type.code} {year}",
                     {"from": days_text(before.days) if before else None,
                      "to": days_text(days) if days is not None else None})
