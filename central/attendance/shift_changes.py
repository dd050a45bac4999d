"""Shift changes (调班) and swaps (换班): an employee asks to work other days' shifts, or to rest, and a manager or
HR decides, as with leave.

- **A change** (:func:`file_change`): from one day to at most MAX_CHANGE_DAYS days later, the employee works
  ``shift`` on each, or rests when there is none. It must change at least one of those days.
- **A swap** (:func:`file_swap`): one day, with a colleague of the same site; each works the shift the other was
  scheduled for (a rest day counts: the one who worked rests). The colleague is asked first
  (:func:`answer_swap`); only then can it be approved.
- **Approved** (:func:`decide_change`), the change decides its days before any assignment, rotation or default
  shift (:attr:`engine.Assignment.changed`), a shift worked whatever the weekly rest, and the days of both
  employees are recomputed at once. A swap is approved only while both schedules are still what they were when it
  was asked: the day's meaning would have changed otherwise.
- Days in a closed month cannot be changed (:func:`closing.require_open`); a change may not overlap another one
  waiting or approved, of either employee.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone as dj_timezone

from central.accounts import audit, scope
from central.attendance import closing
from central.attendance import engine as e
from central.attendance.errors import AttendanceError, DecisionRefused
from central.attendance.inputs import load_rules, plans
from central.attendance.models import ShiftChange, ShiftType
from central.people.models import Employee
from central.webhooks import events as webhook_events

MAX_CHANGE_DAYS = 31
REST = "休息 rest"


NOT_A_COLLEAGUE = "只能与同一地点在职的同事换班 / You can swap only with an active colleague of the same site"


class SwapRefused(DecisionRefused):
    """Only the colleague a swap names may answer it."""


def scheduled(employee: Employee, first: date, last: date) -> dict[date, list[str]]:
    """The shifts ``employee`` works on each day ``first``..``last`` by the schedule as it stands (assignments,
    rotation, default shift and approved changes) on the site's working days; an empty list: none (a rest day, a
    holiday, or not employed)."""
    return scheduled_all([employee], first, last)[employee.pk]


def scheduled_all(employees: list[Employee], first: date, last: date) -> dict[int, dict[date, list[str]]]:
    """:func:`scheduled` for each of ``employees`` (by pk), the rules read once."""
    found: dict[int, dict[date, list[str]]] = {}
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    for pk, (person, schedule) in plans(load_rules(dj_timezone.now()), employees).items():
        found[pk] = {day: [shift.name for shift, weekly in e.shifts_on(schedule, person, day)
                           if schedule.calendar.kind(day, weekly=weekly) == "workday"] for day in days}
    return found


def _described(names: list[str]) -> str:
    return " / ".join(names) if names else REST


def standing(employee_ids: Sequence[int], first: date, last: date) -> QuerySet[ShiftChange]:
    """The changes waiting or approved on any day of ``first``..``last`` that ``employee_ids`` asked for or are
    swapped in."""
    return ShiftChange.objects.filter(Q(employee__in=employee_ids) | Q(partner__in=employee_ids),
                                      state__in=("pending", "approved"), start__lte=last, end__gte=first)


def _check_free(employee: Employee, first: date, last: date) -> None:
    """No change of ``employee`` (asked by them or swapped with them) waits or stands on these days."""
    clash = standing([employee.pk], first, last).order_by("start").first()
    if clash is not None:
        zh, en = ("待批", "pending") if clash.state == "pending" else ("已批", "approved")
        raise AttendanceError(f"{employee.number} 在 {clash.start} 至 {clash.end} 已有调班（{zh}）/ {employee.number} "
                              f"already has a shift change on {clash.start} to {clash.end} ({en})")


def _hold(*employees: Employee) -> None:
    """These employees' rows held to the end of the transaction: two requests at once are checked one after the
    other."""
    list(Employee.objects.select_for_update().filter(pk__in=[emp.pk for emp in employees]).order_by("pk"))


def file_change(employee: Employee, start: date, end: date, shift: ShiftType | None, *, reason: str,
                actor: str, announce: bool = True) -> ShiftChange:
    """A pending change: ``employee`` works ``shift`` (``None``: rests) on every day ``start``..``end``;
    ``announce``: the ``request.filed`` webhook tells it (not for one decided in the same step)."""
    reason = reason.strip()
    if not reason:
        raise AttendanceError("请填写调班原因 / A reason is required")
    if end < start:
        raise AttendanceError("结束日期早于开始日期 / The end date is before the start date")
    if (end - start).days >= MAX_CHANGE_DAYS:
        raise AttendanceError(f"一次调班最多 {MAX_CHANGE_DAYS} 天，更长的请人事排班 / One shift change covers at most "
                              f"{MAX_CHANGE_DAYS} days: HR assigns longer ones")
    if not employee.active:
        raise AttendanceError("员工已停用 / The employee is inactive")
    closing.require_open(employee, start, end)
    wanted = [shift.name] if shift else []
    was = scheduled(employee, start, end)
    if all(names == wanted for names in was.values()):
        raise AttendanceError(f"这些天本来就是{_described(wanted)}，无需调班 / Those days are already "
                              f"{_described(wanted)}: nothing to change")
    with transaction.atomic():
        _hold(employee)
        _check_free(employee, start, end)
        change = ShiftChange.objects.create(employee=employee, start=start, end=end, shift=shift,
                                            was=_summary(was)[:200], reason=reason[:500])
        audit.record(actor, "attendance.shift_change_filed", f"{employee.number} {start}..{end}",
                     {"id": change.pk, "shift": shift.name if shift else None})
        if announce:
            webhook_events.request_changed(change)
    return change


def record_change(employee: Employee, start: date, end: date, shift: ShiftType | None, *, reason: str, actor: str,
                  now: datetime | None = None) -> ShiftChange:
    """A change HR records for an employee, already agreed: filed and approved by ``actor`` in one step (both steps
    audited, the days recomputed). A swap is recorded as one change for each of the two."""
    with transaction.atomic():
        change = file_change(employee, start, end, shift, reason=reason, actor=actor, announce=False)
        return decide_change(change, approve=True, actor=actor, now=now)


def _summary(days: dict[date, list[str]]) -> str:
    """What a schedule said, short: the shift when every day had the same (empty: every day was a rest day), else
    day by day."""
    described = {" / ".join(names) for names in days.values()}
    if len(described) == 1:
        return described.pop()
    return "; ".join(f"{day:%m-%d} {_described(names)}" for day, names in days.items())


def _one_shift(employee: Employee, names: list[str], day: date) -> ShiftType | None:
    if len(names) > 1:
        raise AttendanceError(f"{employee.number} 在 {day} 有 {len(names)} 个班次，不能换班，请人事调整 / {employee.number} "
                              f"works {len(names)} shifts on {day}: HR changes that day instead")
    return ShiftType.objects.get(name=names[0]) if names else None


def file_swap(employee: Employee, partner: Employee, day: date, *, reason: str, actor: str) -> ShiftChange:
    """A pending swap of ``day`` with ``partner``, who is asked first: ``employee`` works the partner's shift and
    the partner works the employee's."""
    reason = reason.strip()
    if not reason:
        raise AttendanceError("请填写换班原因 / A reason is required")
    if partner.pk == employee.pk:
        raise AttendanceError("不能和自己换班 / You cannot swap with yourself")
    if not partner.active or partner.site_id != employee.site_id:
        raise AttendanceError(NOT_A_COLLEAGUE)
    closing.require_open(employee, day)
    plan = scheduled_all([employee, partner], day, day)
    mine, theirs = plan[employee.pk][day], plan[partner.pk][day]
    if mine == theirs:
        raise AttendanceError(f"{day} 两人都是{_described(mine)}，无需换班 / On {day} both of you are "
                              f"{_described(mine)}: nothing to swap")
    own_shift, partner_shift = _one_shift(employee, mine, day), _one_shift(partner, theirs, day)
    with transaction.atomic():
        _hold(employee, partner)
        _check_free(employee, day, day)
        _check_free(partner, day, day)
        change = ShiftChange.objects.create(employee=employee, start=day, end=day, shift=partner_shift,
                                            was=" / ".join(mine), partner=partner, partner_shift=own_shift,
                                            partner_answer="asked", reason=reason[:500])
        audit.record(actor, "attendance.shift_swap_filed", f"{employee.number} {partner.number} {day}",
                     {"id": change.pk, "shift": partner_shift.name if partner_shift else None,
                      "partner_shift": own_shift.name if own_shift else None})
        webhook_events.request_changed(change)
    return change


def answer_swap(user: Any, change: ShiftChange, *, agree: bool) -> ShiftChange:
    """The colleague a swap names agrees (it then waits for a manager) or declines (it is rejected)."""
    if change.partner_id is None or user.employee_id != change.partner_id:
        raise SwapRefused("只有被邀请换班的同事可以答复 / Only the colleague asked can answer a swap")
    with transaction.atomic():
        fresh, now = ShiftChange.objects.select_for_update().get(pk=change.pk), dj_timezone.now()
        if fresh.state != "pending" or fresh.partner_answer != "asked":
            raise AttendanceError("这个换班已答复或已处理 / This swap is already answered or settled")
        if agree:
            fresh.partner_answer = "agreed"
            fresh.save(update_fields=["partner_answer"])
        else:
            fresh.partner_answer, fresh.state = "declined", "rejected"
            fresh.approved_by, fresh.approved_at = user.username[:150], now
            fresh.save(update_fields=["partner_answer", "state", "approved_by", "approved_at"])
            webhook_events.request_changed(fresh)
        webhook_events.swap_answered(fresh, user.username, now)
        audit.record(user.username, f"attendance.shift_swap_{fresh.partner_answer}",
                     f"{fresh.employee.number} {user.employee.number if user.employee else ''} {fresh.start}",
                     {"id": fresh.pk})
    change.refresh_from_db()
    return change


def check_partner_in_scope(user: Any, change: ShiftChange) -> None:
    """A swap changes the colleague's day too, and is found through either employee: who decides it must see both
    employees, and be neither."""
    if change.partner_id is None:
        return
    if user.employee_id == change.partner_id:
        raise DecisionRefused("不能审批自己参与的换班 / You cannot decide a swap you are part of")
    if scope.employees(user).filter(pk__in=(change.employee_id, change.partner_id)).count() < 2:
        raise DecisionRefused("换班的两人不都在你管理的范围内，请人事审批 / One of the two people of this swap is outside "
                              "what you manage: HR decides it")


def _still_as_asked(change: ShiftChange) -> None:
    """A swap is approved only on the schedules it was asked on: each still works what the other takes over."""
    if change.partner is None:
        return
    day = change.start
    plan = scheduled_all([change.employee, change.partner], day, day)
    mine, theirs = plan[change.employee_id][day], plan[change.partner.pk][day]
    asked_mine = [change.partner_shift.name] if change.partner_shift else []
    asked_theirs = [change.shift.name] if change.shift else []
    if mine != asked_mine or theirs != asked_theirs:
        raise AttendanceError(f"{day} 的排班在申请后变了，这个换班已不成立，请驳回后重新申请 / The schedules of {day} changed "
                              "since this swap was asked: reject it and ask again")


def decide_change(change: ShiftChange, *, approve: bool, actor: str, now: datetime | None = None) -> ShiftChange:
    """Approve or reject a pending change or swap (a swap once its colleague agreed). Approved, both employees'
    days are recomputed at once."""
    from central.attendance.requests import settle_decision  # requests imports this module

    people = [change.employee] + ([change.partner] if change.partner is not None else [])
    if approve:
        if change.partner_answer == "asked":
            raise AttendanceError("同事还没同意这个换班 / The colleague has not agreed to this swap yet")
        for person in people:
            closing.require_open(person, change.start, change.end)
    with transaction.atomic():
        if approve:
            _hold(*people)
            _still_as_asked(change)
        settle_decision(change, approve=approve, actor=actor, first=change.start, last=change.end, employees=people,
                        now=now)
    return change
