"""Leave allowances and what is left of them: the days each employee may take of a leave type in a calendar year.

A leave type with ``yearly_days`` gives every employee that many days a year; a ``statutory`` one (法定年休假) gives
each employee the days their working life earns in that year (:mod:`central.attendance.annual_leave`); an employee's
own :class:`LeaveAllowance` for a type and year replaces either (days carried over, a year forfeited). What a leave
takes is counted as the records it lays down: the employee's working days by their own schedule and site calendar
(every day for a type counted in calendar days), half a day for a half-day leave, each day in the year it falls in.
Approved leave is *used*; pending leave is *waiting* and held, so two requests cannot together take more than is
left. A leave beyond what is left is refused when it is asked for (:func:`check`), with the numbers.
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
from central.attendance.annual_leave import entitlement
from central.attendance.inputs import load_rules, plans
from central.attendance.models import AttendanceProfile, LeaveAllowance, LeaveRecord, LeaveType
from central.attendance.services import AttendanceError
from central.people.models import Employee

HALF = Decimal("0.5")
MAX_DAYS = Decimal("366")


class AllowanceError(AttendanceError):
    """A leave beyond its allowance, or an allowance the product refuses."""


# where an allowance comes from
TYPE, OWN, STATUTORY, UNKNOWN = "type", "own", "statutory", "unknown"  # UNKNOWN: statutory, no dates to count from


@dataclass(frozen=True)
class Balance:
    leave_type: LeaveType
    year: int
    allowance: Decimal
    basis: str  # TYPE (its days a year), OWN (the employee's own for the year), STATUTORY or UNKNOWN
    used: Decimal  # approved
    waiting: Decimal  # pending, held
    working_years: int | None = None  # STATUTORY: full years of working life at the year's end (or the leaving day)

    @property
    def own(self) -> bool:
        return self.basis == OWN

    @property
    def left(self) -> Decimal:
        return self.allowance - self.used - self.waiting


def days_text(days: Decimal) -> str:
    """3.0 as "3", 2.5 as "2.5"."""
    return f"{days.normalize():f}"


def taken_by_year(days: Iterable[date], half_day: bool) -> dict[int, Decimal]:
    """Days of a leave per calendar year."""
    found: dict[int, Decimal] = {}
    for day in days:
        found[day.year] = found.get(day.year, Decimal(0)) + (HALF if half_day else Decimal(1))
    return found


def leave_days(staff: Sequence[Employee], leaves: Sequence[LeaveRecord]) -> dict[int, list[date]]:
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
    Allowance = tuple[Decimal, str, int | None]  # days, basis, working years
    shared: dict[tuple[int, int], Allowance] = {
        (pk, year): (t.yearly_days, TYPE, None) for pk, t in types.items()
        if t.yearly_days is not None and not t.statutory for year in wanted}
    allowances: dict[int, dict[tuple[int, int], Allowance]] = {emp.pk: dict(shared) for emp in staff}
    statutory = [pk for pk, t in types.items() if t.statutory]
    if statutory:
        dates = {pk: (started, joined, gone) for pk, started, joined, gone in AttendanceProfile.objects.filter(
            employee__in=[emp.pk for emp in staff]).values_list("employee_id", "work_started", "joined", "left")}
        for emp in staff:
            started, joined, gone = dates.get(emp.pk, (None, None, None))
            for year in wanted:
                earned = entitlement(year, started=started, joined=joined, left=gone)
                found = (Decimal(0), UNKNOWN, None) if earned is None else (Decimal(earned.days), STATUTORY, earned.years)
                allowances[emp.pk].update({(pk, year): found for pk in statutory})
    for row in LeaveAllowance.objects.filter(employee__in=[emp.pk for emp in staff], year__in=wanted):
        allowances[row.employee_id][(row.leave_type_id, row.year)] = (row.days, OWN, None)
    first, last = date(wanted[0], 1, 1), date(wanted[-1], 12, 31)
    leaves = list(LeaveRecord.objects.filter(employee__in=[emp.pk for emp in staff if allowances[emp.pk]],
                                             state__in=("approved", "pending"), start__lte=last, end__gte=first)
                  .select_related("leave_type"))
    days = leave_days(staff, leaves)
    taken: dict[tuple[int, int, int, str], Decimal] = {}  # (employee, type, year, state) → days
    for leave in leaves:
        for year, n in taken_by_year(days[leave.pk], leave.half_day).items():
            key = (leave.employee_id, leave.leave_type_id, year, leave.state)
            taken[key] = taken.get(key, Decimal(0)) + n
    zero = Decimal(0)
    return {emp.pk: [Balance(types[pk], year, days_, basis, taken.get((emp.pk, pk, year, "approved"), zero),
                             taken.get((emp.pk, pk, year, "pending"), zero), years)
                     for (pk, year), (days_, basis, years) in sorted(allowances[emp.pk].items(),
                                                                     key=lambda kv: (types[kv[0][0]].code, kv[0][1]))]
            for emp in staff}


def balances(employee: Employee, years: Iterable[int]) -> list[Balance]:
    """The employee's balance of every leave type that keeps an allowance for them, for each of ``years``."""
    return balances_of([employee], years)[employee.pk]


def check(employee: Employee, leave_type: LeaveType, days: Sequence[date], half_day: bool) -> None:
    """Refuse a new leave of ``days`` (its days off) that would take more than is left in any year it falls in. The
    caller holds the employee's row locked, so two requests at once are counted one after the other."""
    taking = taken_by_year(days, half_day)
    left = {(b.leave_type.pk, b.year): b for b in balances(employee, taking)}
    for year, need in sorted(taking.items()):
        balance = left.get((leave_type.pk, year))
        if balance is not None and need > balance.left and balance.basis == UNKNOWN:
            raise AllowanceError(
                f"{leave_type.name}按法定工作年限计算，但员工没有参加工作时间或入职日期，请人事在员工的月度页填写 / "
                f"{leave_type.name} is counted from the years of working life, and the employee has no date they started "
                f"working or joined: HR gives one on the employee's month page", "leave_type")
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
