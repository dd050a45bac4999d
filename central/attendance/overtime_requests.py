"""Overtime asked for (加班申请): an employee asks for ``minutes`` of overtime on a day, before working it or soon
after, and a manager or HR decides, as with leave.

- **Filed** (:func:`file_overtime`): 30 minutes to 16 hours, with a reason, on a day of an open month no more than
  MAX_AHEAD_DAYS ahead; one request waiting or approved per employee and day. ``in_lieu`` asks for time off in
  lieu instead of pay (调休): only for a rest day (:func:`check_rest_day`; 劳动法 第四十四条 pays overtime after a
  working day and on a public holiday, and lets only rest-day work be made up with time off), and only where a leave
  type keeps time off in lieu.
- **Approved** (:func:`decide_overtime_request`), the employee's day is recomputed at once: overtime the engine
  finds on it, up to the minutes asked, is approved without a second decision
  (:func:`central.attendance.pre_approval.pre_approved`), now and whenever the day is recomputed; more than was asked
  waits on the requests page as before, with the request beside it. Asked as time off in lieu, rest-day overtime
  is approved as such (its hours become days of time off in lieu, :mod:`central.attendance.leave_balances`); should
  the day have become a working day or a holiday since, its overtime is approved as paid, as the law wants.
  Rejected, nothing changes: overtime worked that day waits for its own decision.
- Withdrawn, decided, audited and told to the webhooks like every request (:mod:`central.attendance.requests`).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone as dj_timezone

from central.accounts import audit
from central.attendance import closing
from central.attendance import engine as e
from central.attendance.errors import AttendanceError
from central.attendance.inputs import load_rules, plans
from central.attendance.models import LeaveType, OvertimeRequest
from central.people.models import Employee
from central.webhooks import events as webhook_events

MIN_MINUTES, MAX_MINUTES = 30, 16 * 60
MAX_AHEAD_DAYS = 92


def require_in_lieu_type() -> None:
    """Refused while no leave type keeps time off in lieu: its hours would become days of nothing."""
    if not LeaveType.objects.filter(in_lieu=True).exists():
        raise AttendanceError("还没有调休假别：请人事先在假别中添加一个「调休假」/ There is no leave type for time off in "
                              "lieu yet: HR adds one under leave types first", "in_lieu")


def check_rest_day(employee: Employee, day: date) -> None:
    """Refused unless ``day`` is a rest day of ``employee`` by the schedule as it stands: no shift to work on it (a
    weekly rest day, a rotation's day off, or a shift that counts rest days), and no public holiday."""
    person, schedule = plans(load_rules(dj_timezone.now()), [employee])[employee.pk]
    shifts = e.shifts_on(schedule, person, day)
    kinds = [(shift.name, schedule.calendar.kind(day, weekly=weekly)) for shift, weekly in shifts] or [
        ("", schedule.calendar.kind(day, weekly=True))]
    if any(kind == "holiday" for _, kind in kinds):
        raise AttendanceError(f"{day} 是法定节假日，加班须计薪，不能调休 / {day} is a public holiday: its overtime is paid, "
                              "not taken as time off in lieu", "in_lieu")
    working = [name for name, kind in kinds if kind == "workday" and name]
    if working:
        raise AttendanceError(f"{day} 是工作日（{'、'.join(working)}），延长工作时间须计薪，只有休息日加班可以调休 / {day} is a "
                              f"working day ({', '.join(working)}): overtime after it is paid; only rest-day overtime "
                              "can be taken as time off in lieu", "in_lieu")


def file_overtime(employee: Employee, day: date, minutes: int, *, reason: str, actor: str, in_lieu: bool = False,
                  today: date | None = None) -> OvertimeRequest:
    """A pending overtime request; refused with the reason a person reads."""
    if not employee.active:
        raise AttendanceError("员工已停用 / The employee is inactive")
    reason = reason.strip()
    if not reason:
        raise AttendanceError("请填写加班事由 / A reason is required")
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise AttendanceError(f"加班时长应在 {MIN_MINUTES // 60 or 0.5} 到 {MAX_MINUTES // 60} 小时之间 / Overtime is asked "
                              f"for between half an hour and {MAX_MINUTES // 60} hours")
    today = today or dj_timezone.localdate()
    if day > today + timedelta(days=MAX_AHEAD_DAYS):
        raise AttendanceError(f"最多提前 {MAX_AHEAD_DAYS} 天申请 / Overtime is asked for at most {MAX_AHEAD_DAYS} days ahead")
    closing.require_open(employee, day, day)
    if in_lieu:
        require_in_lieu_type()
        check_rest_day(employee, day)
    with transaction.atomic():
        Employee.objects.select_for_update().filter(pk=employee.pk).first()  # two requests at once: one after the other
        clash = OvertimeRequest.objects.filter(employee=employee, date=day, state__in=("pending", "approved")).first()
        if clash is not None:
            state = {"pending": ("待批", "waiting"), "approved": ("已批", "approved")}[clash.state]
            raise AttendanceError(f"{day} 已有加班申请（{clash.minutes} 分钟，{state[0]}） / There is already an overtime "
                                  f"request on {day} ({clash.minutes} min, {state[1]})")
        asked = OvertimeRequest.objects.create(employee=employee, date=day, minutes=minutes, reason=reason[:500],
                                               in_lieu=in_lieu)
        audit.record(actor, "attendance.overtime_request_filed", f"{employee.number} {day}",
                     {"id": asked.pk, "minutes": minutes, "in_lieu": in_lieu})
        webhook_events.request_changed(asked)
    return asked


def decide_overtime_request(asked: OvertimeRequest, *, approve: bool, actor: str,
                            now: datetime | None = None) -> OvertimeRequest:
    """Approve (the day recomputed at once, its overtime up to the minutes asked approved) or reject a pending
    overtime request."""
    from central.attendance.requests import settle_decision  # requests imports this module

    if approve:
        closing.require_open(asked.employee, asked.date, asked.date)
        if asked.in_lieu:
            require_in_lieu_type()
    with transaction.atomic():
        settle_decision(asked, approve=approve, actor=actor, first=asked.date, last=asked.date,
                        employees=[asked.employee], now=now)
    return asked
