"""额度导入 Leave allowances from a spreadsheet: when a company starts with Seed, HR brings each employee's allowance of
the year (annual leave agreed on top of the law, days already settled elsewhere) from the old system at once.

One row an employee, leave type and year: 工号 Number, 假别 Leave type (its code or name), 年份 Year (blank: this year)
and 额度 Days (the year's own allowance, as on the employee's month page; blank: back to the type's days). Read with
:func:`central.people.importing.read_table`, checked row by row (:func:`plan`: the employee within the caller's scope,
a type that keeps allowances, days 0–366 to a tenth, a row not repeated), and written all or none (:func:`apply`),
each allowance through :func:`central.attendance.leave_balances.set_allowance`, so each is audited as when HR sets it
by hand.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone as dj_timezone

from central.accounts import scope
from central.attendance.leave_balances import AllowanceError, check_allowance, days_text, set_allowance
from central.attendance.models import LeaveAllowance, LeaveType
from central.people.importing import ADD, CHANGE, ERROR, SAME, Column, Plan, RowPlan, Table, read_table
from central.people.models import Employee

if TYPE_CHECKING:
    from central.accounts.models import User

COLUMNS: tuple[Column, ...] = (
    Column("number", "工号", "Number", True, ("员工编号", "employee number"), "必填 / required"),
    Column("leave_type", "假别", "Leave type", True, ("假期类型", "请假类型", "type"), "假别的代码或名称 / the type's code or name"),
    Column("year", "年份", "Year", False, ("年度",), "空为今年 / empty: this year"),
    Column("days", "额度", "Days", True, ("天数", "额度天数", "allowance", "days a year"),
           "当年的个人额度，最多一位小数；空：恢复假别的额度 / the year's own allowance, to a tenth; empty: back to the "
           "type's"),
)


def read(name: str, data: bytes) -> Table:
    return read_table(name, data, COLUMNS)


def plan(user: User, table: Table) -> Plan:
    """What importing ``table`` would set for ``user``; nothing is written. A row's ``record`` keeps what to set."""
    scope.require_manage(user)
    numbers = [cells.get("number", "").strip() for _line, cells in table.rows]
    staff = {e.number: e for e in scope.employees(user).filter(number__in=numbers).select_related("site", "department")}
    types = {t.code: t for t in LeaveType.objects.all()}
    named = {t.name: t for t in types.values()}
    managed: dict[tuple[int, int | None], bool] = {}
    seen: dict[tuple[str, int, int], int] = {}
    this_year = dj_timezone.localdate().year
    rows: list[RowPlan] = []
    for line, cells in table.rows:
        number = cells.get("number", "").strip()
        employee = staff.get(number)
        row = RowPlan(line, number, employee.name if employee else "")
        rows.append(row)
        if employee is None:
            row.refuse("number", f"没有工号为 {number or '（空）'} 的员工（或不在您的管理范围内） / No employee {number} (or "
                                 "outside your scope)")
        else:
            key = (employee.site_id, employee.department_id)
            if key not in managed:
                try:
                    scope.check_site_allowed(user, employee.site, employee.department)
                    managed[key] = True
                except scope.ScopeDenied:
                    managed[key] = False
            if not managed[key]:
                row.refuse("number", "超出您的管理范围 / Outside your scope")
        text = cells.get("leave_type", "").strip()
        leave_type = types.get(text) or named.get(text)
        if leave_type is None:
            row.refuse("leave_type", f"没有代码或名称为 {text or '（空）'} 的假别 / No leave type {text!r}")
        year_text = cells.get("year", "").strip()
        year = this_year
        if year_text:
            try:
                year = int(Decimal(year_text))
            except (InvalidOperation, ValueError):
                row.refuse("year", f"年份不是数字：{year_text} / The year is not a number: {year_text}")
        days_cell = cells.get("days", "").strip()
        days: Decimal | None = None
        if days_cell:
            try:
                days = Decimal(days_cell)
            except InvalidOperation:
                row.refuse("days", f"额度不是数字：{days_cell} / The days are not a number: {days_cell}")
        if leave_type is not None and row.action != ERROR:
            try:
                check_allowance(leave_type, year, days)
            except AllowanceError as exc:
                row.refuse(exc.field if exc.field in ("year", "days") else "leave_type", str(exc))
        if employee is None or leave_type is None or row.action == ERROR:
            continue
        first = seen.setdefault((number, leave_type.pk, year), line)
        if first != line:
            row.refuse("number", f"与第 {first} 行重复（同一员工、假别和年份） / The same employee, type and year as row {first}")
            continue
        row.record = {"employee": employee.pk, "leave_type": leave_type.pk, "year": year,
                      "days": None if days is None else str(days)}
        _compare(row, employee, leave_type, year, days)
    return Plan(rows, table.ignored)


def _compare(row: RowPlan, employee: Employee, leave_type: LeaveType, year: int, days: Decimal | None) -> None:
    stored = LeaveAllowance.objects.filter(employee=employee, leave_type=leave_type, year=year).first()
    before = stored.days if stored is not None else None
    label = f"{leave_type.name} {year}"
    if before == days:
        row.action = SAME
        return
    row.action = ADD if before is None else CHANGE
    shown = [days_text(d) if d is not None else "假别额度 type's" for d in (before, days)]
    row.changes = [f"{label}：{shown[0]} → {shown[1]}" if before is not None else f"{label}：{shown[1]}"]


def apply(user: User, table: Table) -> int:
    """Set every allowance :func:`plan` finds for ``table``, checked again now; refused whole while any row has an
    error. The number of allowances set."""
    from central.people.importing import ImportRefused

    checked = plan(user, table)
    if not checked.ok:
        bad = checked.count(ERROR)
        raise ImportRefused(f"有 {bad} 行有错误，没有导入任何额度 / {bad} rows have errors: no allowance was imported")
    writes = checked.writes
    people = {e.pk: e for e in Employee.objects.filter(pk__in=[r.record["employee"] for r in writes])}
    types = {t.pk: t for t in LeaveType.objects.all()}
    with transaction.atomic():
        for row in writes:
            days = row.record["days"]
            set_allowance(user, people[row.record["employee"]], types[row.record["leave_type"]], row.record["year"],
                          None if days is None else Decimal(days))
    return len(writes)
