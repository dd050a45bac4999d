"""Back from leave early (销假): an approved leave ends before its last day, or is called off before its first, because
the employee came back, or never went. 钉钉 and 企业微信 call it 销假; without it HR deleted and re-entered leave by
hand, and the balance kept days that were never taken.

- **Who**: HR or a manager who sees the employee (:func:`central.attendance.requests.check_decider`), never the
  employee on their own leave: they tell their manager, who records it.
- **What**: ``back_on``, the first day the employee is back, and a reason. A day after the leave's first day
  shortens it to end the day before; its first day calls it off (the leave is then ``withdrawn``, by the person
  who recorded it). A half-day leave, one day, can only be called off.
- **Effect**, in one transaction: the leave's records on the days given back are removed and those days recomputed
  from the punches (a day with none, once final, is absent, as any working day), the balance counts the days still
  taken, and the audit log keeps the old and the new end (``attendance.leave_ended_early`` or
  ``attendance.leave_called_off``); webhooks hear ``request.shortened`` (the new end and the old) or
  ``request.withdrawn``.
- **Refused**: a leave not approved, a day outside the leave, a day in a closed month (月结), no reason.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone as dj_timezone

from central.accounts import audit
from central.attendance import closing
from central.attendance.errors import AttendanceError
from central.attendance.models import DailyRecord, LeaveRecord
from central.people.models import Employee
from central.webhooks import events as webhook_events


def end_leave_early(user: Any, leave: LeaveRecord, back_on: date, *, reason: str,
                    now: datetime | None = None) -> LeaveRecord:
    """The employee of ``leave`` is back on ``back_on``: the leave ends the day before, or is called off."""
    from central.attendance.requests import check_decider
    from central.attendance.services import recompute

    check_decider(user, leave.employee)
    reason = reason.strip()
    if not reason:
        raise AttendanceError("请填写销假原因 / A reason is required", "reason")
    with transaction.atomic():
        held = LeaveRecord.objects.select_for_update().select_related("employee", "leave_type").get(pk=leave.pk)
        if held.state != "approved":
            raise AttendanceError("只有已批准的请假可以销假 / Only an approved leave can end early", "state")
        if not held.start <= back_on <= held.end:
            raise AttendanceError(f"回来的日期应在这次请假之内（{held.start} 至 {held.end}） / The day back is within the "
                                  f"leave ({held.start} to {held.end})", "back_on")
        closing.require_open(held.employee, back_on, held.end)
        was_end = held.end
        called_off = back_on == held.start
        if called_off:
            held.state, held.approved_by, held.approved_at = "withdrawn", user.username[:150], dj_timezone.now()
            held.save(update_fields=["state", "approved_by", "approved_at"])
            webhook_events.request_changed(held)
        else:
            held.end = back_on - timedelta(days=1)
            held.save(update_fields=["end"])
            webhook_events.leave_shortened(held, end_was=was_end, back_on=back_on, by=user.username,
                                           at=dj_timezone.now(), reason=reason[:500])
        DailyRecord.objects.filter(employee_id=held.employee_id, date__range=(back_on, was_end),
                                   source__in=("leave", "on_duty"), leave_type_id=held.leave_type_id,
                                   half_day=held.half_day).delete()
        audit.record(user.username, "attendance.leave_called_off" if called_off else "attendance.leave_ended_early",
                     f"{held.employee.number} {held.start}..{was_end}",
                     {"id": held.pk, "leave_type": held.leave_type.code, "end_was": was_end.isoformat(),
                      "back_on": back_on.isoformat(), "reason": reason[:500]})
        recompute(back_on, was_end, employees=Employee.objects.filter(pk=held.employee_id), now=now,
                  actor=user.username)
    return held
