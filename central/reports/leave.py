"""The leave report (假期报表): each employee's allowance, taken, waiting and left of every leave type that keeps
one, in the year the range ends in, and every leave asked for in the range with its state.

At the year's end the left column of statutory annual leave is what the rules pay for when the company did not
arrange it (未休年休假, 《职工带薪年休假条例》 第五条); the basis column says where each allowance comes from (the
type's days a year, the employee's own, or the statutory days of their working life); a type that carries over shows
the days carried in from the year before, their last day and how many of them lapsed untaken. Counted by
:mod:`central.attendance.leave_balances`, as the requests page and the API count them. A type of days on duty away
(公出: business trips, field work) keeps no allowance, so it has no balance; its requests are listed with the others,
the type's name followed by 公出 On duty.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef
from django.utils import timezone

from central.attendance import leave_balances
from central.attendance.leave_balances import FORFEITED, IN_LIEU, OWN, STATUTORY, TYPE, UNKNOWN, Balance, forfeit_text
from central.attendance.models import LeaveRecord, LeaveType, RequestEvidence
from central.reports.document import Column, Flag, Part, ProgressFn, Report, Row, Value
from central.reports.registry import REPORTS, ReportParams
from central.reports.scoping import company_name, cover, naive_local, stamp

if TYPE_CHECKING:
    from central.accounts.models import User

CHUNK = 500  # employees whose balances are counted at once
PEOPLE = [Column("number", "工号 Number", "text", 9), Column("name", "姓名 Name", "text", 10),
          Column("site", "站点 Site", "text", 10), Column("department", "部门 Department", "text", 12)]
BALANCE_COLUMNS = [*PEOPLE, Column("leave_type", "假别 Leave type", "text", 12), Column("year", "年份 Year", "int", 6),
                   Column("allowance", "额度（天） Allowance (days)", "decimal", 10, "sum"),
                   Column("basis", "依据 Basis", "text", 16),
                   Column("carried", "结转（天） Carried over (days)", "decimal", 9, "sum"),
                   Column("carried_until", "结转至 Carried until", "date", 10),
                   Column("lapsed", "结转过期 Carried, lapsed", "decimal", 8, "sum"),
                   Column("taken", "已休 Taken", "decimal", 8, "sum"),
                   Column("waiting", "待批 Waiting", "decimal", 8, "sum"), Column("left", "剩余 Left", "decimal", 8, "sum")]
LEAVE_COLUMNS = [*PEOPLE, Column("leave_type", "假别 Leave type", "text", 12), Column("start", "开始 From", "date", 10),
                 Column("end", "结束 To", "date", 10), Column("days", "天数 Days", "decimal", 6, "sum"),
                 Column("state", "状态 State", "text", 8), Column("reason", "事由 Reason", "text", 20),
                 Column("decided_by", "审批人 Decided by", "text", 10),
                 Column("decided_at", "审批时间 Decided at", "datetime", 16),
                 Column("evidence", "证明 Evidence", "text", 6)]
STATES = {"pending": "待批 Pending", "approved": "已批 Approved", "rejected": "已拒 Rejected",
          "withdrawn": "已撤回 Withdrawn"}
STATE_FLAGS: dict[str, Flag] = {"pending": "warn", "rejected": "muted", "withdrawn": "muted"}


def basis_text(balance: Balance) -> str:
    if balance.basis == STATUTORY:
        return f"法定，工龄 {balance.working_years} 年 Statutory, {balance.working_years} years worked"
    if balance.basis == IN_LIEU:
        return f"调休，加班 {balance.banked_h} 小时 In lieu, {balance.banked_h} h of overtime"
    if balance.basis == FORFEITED and balance.forfeit is not None:
        zh, en = forfeit_text(balance.forfeit)
        return f"不享受：{zh} Forfeited: {en}"
    return {TYPE: "假别每年额度 Leave type's days a year", OWN: "个人额度 Own allowance",
            UNKNOWN: "法定，缺参加工作时间 Statutory, start of working life missing"}[balance.basis]


def type_text(leave_type: LeaveType) -> str:
    """A leave type as the list names it: a type of days on duty away (worked, not leave) says so."""
    return f"{leave_type.name}（公出 On duty）" if leave_type.on_duty else leave_type.name


def build(user: User, params: ReportParams, *, now: datetime | None = None,
          progress: ProgressFn | None = None) -> Report:
    coverage = cover(user, params)
    year = params.last.year
    today = timezone.localdate(now)  # carried days lapse after their day (now: None is the present)
    people = list(coverage.employees.filter(active=True).select_related("site", "department")
                  .order_by("site__code", "department__name", "number"))
    balances = Part("balances", f"假期余额 {year} Leave balances {year}", list(BALANCE_COLUMNS), freeze_columns=2,
                    note="天数按员工要上班的日子计，半天假计 0.5；待批的请假先占用额度 / days count the employee's working "
                         "days, a half-day leave 0.5; a leave waiting for approval already holds its days")
    for start in range(0, len(people), CHUNK):
        chunk = people[start:start + CHUNK]
        found = leave_balances.balances_of(chunk, [year], today=today)
        for emp in chunk:
            for b in found[emp.pk]:
                if b.leave_type.on_duty:  # days on duty away are worked: there is no allowance to show
                    continue
                carry = b.carry if b.carried else None
                values: tuple[Value, ...] = (
                    emp.number, emp.name, emp.site.name or emp.site.code, emp.department.name if emp.department else "",
                    b.leave_type.name, b.year, b.allowance, basis_text(b), b.carried,
                    carry.expires if carry is not None else None, carry.lapsed(today) if carry is not None else Decimal(0),
                    b.used, b.waiting, b.left)
                short = b.left < 0 or b.basis in (UNKNOWN, FORFEITED)  # more taken than allowed, or nothing to count from
                flags: tuple[Flag, ...] = tuple("bad" if short and i == len(values) - 1 else "" for i in range(len(values)))
                balances.rows.append(Row(values, flags))
        if progress is not None:
            progress(min(start + CHUNK, len(people)), len(people))
    leaves = list(LeaveRecord.objects.filter(employee__in=coverage.employees, start__lte=params.last,
                                             end__gte=params.first)
                  .select_related("employee", "employee__site", "employee__department", "leave_type")
                  .annotate(has_evidence=Exists(RequestEvidence.objects.filter(leave=OuterRef("pk"))))
                  .order_by("employee__site__code", "employee__department__name", "employee__number", "start", "pk"))
    taken = leave_balances.leave_days(list({leave.employee_id: leave.employee for leave in leaves}.values()), leaves)
    listing = Part("leave", "请假明细 Leave in the period", list(LEAVE_COLUMNS), freeze_columns=2)
    for leave in leaves:
        emp = leave.employee
        days = sum(leave_balances.taken_by_year(taken[leave.pk], leave.half_day).values(), Decimal(0))
        values = (emp.number, emp.name, emp.site.name or emp.site.code, emp.department.name if emp.department else "",
                  type_text(leave.leave_type), leave.start, leave.end, days, STATES.get(leave.state, leave.state),
                  leave.reason, leave.approved_by, naive_local(leave.approved_at, coverage.zone(emp.site_id)),
                  "有 Yes" if getattr(leave, "has_evidence", False) else "")
        flag = STATE_FLAGS.get(leave.state, "")
        listing.rows.append(Row(values, (flag,) * len(values) if flag else ()))
    spec = REPORTS["leave"]
    return Report(name=spec.name, title=spec.title, company=company_name(), scope=coverage.label,
                  first=params.first, last=params.last, generated_at=stamp(now), parts=[balances, listing],
                  notes=[f"余额为 {year} 年（期间结束的年份）；法定年休假年末的剩余天数即未休天数 / balances are for {year}, the "
                         "year the period ends in; at the year's end, statutory annual leave left is leave not taken"])
