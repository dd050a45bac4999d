"""Employees confirming their own month (考勤确认) before HR closes it.

Once a month is over at the employee's site, the employee says it is right (confirmed) or what is wrong with it
(disputed, with a note); HR (an HR admin who sees the employee, or a superuser) answers a dispute, and the employee
may then confirm, or dispute again. Every step is audited. A dispute waiting for HR's answer keeps the month from
being closed (:mod:`central.attendance.closing`); confirmations are counted on the month-close page, so HR signs
knowing how many employees agreed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone as dj_timezone

from central.accounts import audit, scope
from central.attendance.errors import AttendanceError
from central.attendance.inputs import local, zone_named
from central.attendance.models import DailyRecord, MonthConfirmation
from central.attendance.selectors import month_end
from central.people.models import Employee, Site

log = logging.getLogger(__name__)
MAX_NOTE = 500


def month_over(employee: Employee, month: date, now: datetime | None = None) -> bool:
    """Whether ``month`` (its first day) is over at the employee's site: its local date is past the month's last day."""
    return local(now or dj_timezone.now(), zone_named(employee.site.time_zone)).date() > month_end(month)


def _require_month_over(employee: Employee, month: date, now: datetime) -> None:
    from central.attendance.closing import month_text

    if not month_over(employee, month, now):
        zh, en = month_text(month)
        raise AttendanceError(f"{zh}还没过完，过完后才能确认 / {en} is not over yet: it can be confirmed once it is")


def _own(user: Any) -> Employee:
    employee = getattr(user, "employee", None)
    if employee is None:
        raise AttendanceError("只有员工本人可以确认自己的考勤 / Only the employee confirms their own attendance")
    return employee


def confirm(user: Any, month: date, *, now: datetime | None = None) -> MonthConfirmation:
    """The signed-in employee says their ``month`` (its first day) is right."""
    return _say(user, month, MonthConfirmation.CONFIRMED, "", now or dj_timezone.now())


def dispute(user: Any, month: date, note: str, *, now: datetime | None = None) -> MonthConfirmation:
    """The signed-in employee says what is wrong with their ``month``; HR answers (:func:`answer`)."""
    note = (note or "").strip()
    if not note:
        raise AttendanceError("请写明哪里不对 / Say what is wrong", "note")
    return _say(user, month, MonthConfirmation.DISPUTED, note[:MAX_NOTE], now or dj_timezone.now())


def _say(user: Any, month: date, state: str, note: str, now: datetime) -> MonthConfirmation:
    employee = _own(user)
    month = month.replace(day=1)
    _require_month_over(employee, month, now)
    with transaction.atomic():
        row, _ = MonthConfirmation.objects.select_for_update().update_or_create(
            employee=employee, month=month,
            defaults={"state": state, "note": note, "at": now, "answer": "", "answered_by": "", "answered_at": None})
        audit.record(user.username, f"attendance.month_{state}", f"{employee.number} {month:%Y-%m}",
                     {"note": note[:200]} if note else {})
    log.info("employee %s: %s %s", employee.number, month, state)
    return row


def answer(user: Any, row: MonthConfirmation, text: str, *, now: datetime | None = None) -> MonthConfirmation:
    """HR answers a dispute (what was done, or why the month stands); the employee may then confirm it."""
    if not scope.can_manage(user) or not scope.employees(user).filter(pk=row.employee_id).exists():
        raise AttendanceError("只有能管理这位员工的人事可以答复 / Only HR who manage this employee answer a dispute")
    if user.employee_id is not None and user.employee_id == row.employee_id:
        raise AttendanceError("不能答复自己的异议 / You cannot answer your own dispute")
    text = (text or "").strip()
    if not text:
        raise AttendanceError("请填写答复 / An answer is required", "answer")
    with transaction.atomic():
        fresh = MonthConfirmation.objects.select_for_update().select_related("employee").get(pk=row.pk)
        if fresh.state != MonthConfirmation.DISPUTED:
            raise AttendanceError("这条异议已答复或已撤回 / This dispute is already answered or taken back")
        fresh.state, fresh.answer = MonthConfirmation.ANSWERED, text[:MAX_NOTE]
        fresh.answered_by, fresh.answered_at = user.username[:150], now or dj_timezone.now()
        fresh.save(update_fields=["state", "answer", "answered_by", "answered_at"])
        audit.record(user.username, "attendance.month_answered", f"{fresh.employee.number} {fresh.month:%Y-%m}",
                     {"answer": fresh.answer[:200]})
    return fresh


def of(employee: Employee, month: date) -> MonthConfirmation | None:
    return MonthConfirmation.objects.filter(employee=employee, month=month.replace(day=1)).first()


@dataclass(frozen=True)
class Tally:
    """A site's month as its employees see it: how many have records, confirmed it, dispute it (waiting for HR)."""
    staff: int
    confirmed: int
    disputed: int


def tally(site: Site, month: date, last: date) -> Tally:
    staff = (DailyRecord.objects.filter(employee__site=site, date__range=(month, last))
             .values("employee_id").distinct().count())
    rows = MonthConfirmation.objects.filter(employee__site=site, month=month)
    return Tally(staff, rows.filter(state=MonthConfirmation.CONFIRMED).count(),
                 rows.filter(state=MonthConfirmation.DISPUTED).count())
