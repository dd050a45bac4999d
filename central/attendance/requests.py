"""Leave and make-up punch requests, and overtime waiting for approval: filed, approved or rejected, each step
audited. Shift changes and swaps (调班, 换班) are filed in :mod:`central.attendance.shift_changes`, overtime asked for
ahead (加班申请) in :mod:`central.attendance.overtime_requests`, and decided and withdrawn here like the others.

An approved leave becomes daily records (source ``leave``: ``on_leave`` for a full day, ``half_day``
for a half) that win over punches, on the days it takes off: the employee's working days, or every day for a
leave type counted in calendar days (``counts_rest_days``, such as maternity leave); an approved make-up
punch (补卡) counts as a punch. Either way the employee's affected days are recomputed at once.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone as dj_timezone

from central.accounts import audit, scope
from central.attendance import closing, leave_balances, makeup_rules
from central.attendance import evidence as evidence_files
from central.attendance.errors import DecisionRefused
from central.attendance.evidence import Evidence, EvidenceError
from central.attendance.models import DailyRecord, LeaveRecord, LeaveType, MakeupPunch, OvertimeRequest, ShiftChange
from central.attendance.overtime_requests import decide_overtime_request, require_in_lieu_type
from central.attendance.selectors import leave_days_of
from central.attendance.services import AttendanceError, recompute
from central.attendance.shift_changes import check_partner_in_scope, decide_change
from central.people.models import Employee
from central.webhooks import events as webhook_events

MAX_LEAVE_DAYS = 366


Request = LeaveRecord | MakeupPunch | ShiftChange | OvertimeRequest  # what an employee files and withdraws
ALREADY = {LeaveRecord: "这条请假已处理 / This leave is already", MakeupPunch: "这条补卡已处理 / This make-up punch is already",
           ShiftChange: "这条调班已处理 / This shift change is already",
           OvertimeRequest: "这条加班申请已处理 / This overtime request is already"}


def _held_state(request: Request) -> str | None:
    """The request's state as stored, its row held to the end of the caller's transaction."""
    return type(request).objects.select_for_update().filter(pk=request.pk).values_list("state", flat=True).first()


def _require_own(user: Any, request: Request, refusal: str) -> None:
    """Only the employee who asked may act on a request this way: else :class:`DecisionRefused` with ``refusal``."""
    if user.employee_id is None or user.employee_id != request.employee_id:
        raise DecisionRefused(refusal)


def settle(request: Request, state: str, actor: str) -> None:
    """A pending request becomes ``state`` (approved, rejected, withdrawn), with who settled it and when, in the
    caller's transaction; its row held, so two people at once settle it once. Audited as
    ``attendance.leave_<state>``, ``attendance.makeup_<state>``, ``attendance.shift_change_<state>`` or
    ``attendance.overtime_request_<state>``."""
    held = _held_state(request)
    if held != "pending" or request.state != "pending":
        raise AttendanceError(f"{ALREADY[type(request)]} {held or request.state}")
    request.state = state
    request.approved_by, request.approved_at = actor[:150], dj_timezone.now()
    request.save(update_fields=["state", "approved_by", "approved_at"])
    if isinstance(request, LeaveRecord):
        audit.record(actor, f"attendance.leave_{state}", f"{request.employee.number} {request.start}..{request.end}",
                     {"id": request.pk, "type": request.leave_type.code, "half_day": request.half_day})
    elif isinstance(request, ShiftChange):
        audit.record(actor, f"attendance.shift_change_{state}", f"{request.employee.number} {request.start}..{request.end}",
                     {"id": request.pk, "partner": request.partner.number if request.partner else None})
    elif isinstance(request, OvertimeRequest):
        audit.record(actor, f"attendance.overtime_request_{state}", f"{request.employee.number} {request.date}",
                     {"id": request.pk, "minutes": request.minutes})
    else:
        audit.record(actor, f"attendance.makeup_{state}", f"{request.employee.number} {request.at.isoformat()}",
                     {"id": request.pk, "direction": request.direction})


def file_leave(employee: Employee, leave_type: LeaveType, start: date, end: date, *, half_day: bool = False,
               reason: str = "", actor: str, announce: bool = True, evidence: Evidence | None = None) -> LeaveRecord:
    """A pending leave, with its ``evidence`` kept when given (a type that needs evidence is approved only once it
    has some: :func:`decide_leave`); ``announce``: the ``request.filed`` webhook tells it (not for one decided in
    the same step)."""
    if end < start:
        raise AttendanceError("结束日期早于开始日期 / The end date is before the start date")
    if (end - start).days >= MAX_LEAVE_DAYS:
        raise AttendanceError("一次请假最多一年 / One leave covers at most a year")
    if half_day and end != start:
        raise AttendanceError("半天假只能是一天 / A half-day leave covers one day")
    closing.require_open(employee, start, end)
    days = leave_days_of(employee, start, end, natural=leave_type.counts_rest_days)
    if not days:
        raise AttendanceError("这段时间没有要上班的日子，无需请假 / "
                              "There is no working day in this period: nothing to take off")
    with transaction.atomic():
        # the employee's row held: two requests at once are checked against each other's days, one after the other
        Employee.objects.select_for_update().filter(pk=employee.pk).first()
        clash = (LeaveRecord.objects.filter(employee=employee, state__in=("pending", "approved"), start__lte=end,
                                            end__gte=start).order_by("start").first())
        if clash is not None:
            state = {"pending": ("待批", "pending"), "approved": ("已批", "approved")}[clash.state]
            raise AttendanceError(f"与 {clash.start} 至 {clash.end} 的请假（{state[0]}）重叠 / "
                                  f"Overlaps the leave of {clash.start} to {clash.end} ({state[1]})")
        leave_balances.check(employee, leave_type, days, half_day)
        leave = LeaveRecord.objects.create(employee=employee, leave_type=leave_type, start=start, end=end,
                                           half_day=half_day, reason=reason.strip()[:500])
        audit.record(actor, "attendance.leave_filed", f"{employee.number} {start}..{end}",
                     {"id": leave.pk, "type": leave_type.code, "half_day": half_day})
        if evidence is not None:
            evidence_files.attach(leave, evidence, actor)
        if announce:
            webhook_events.request_changed(leave)
    return leave


def settle_decision(request: Request, *, approve: bool, actor: str, first: date, last: date,
                    employees: Iterable[Employee], now: datetime | None = None) -> None:
    """A pending request approved or rejected (:func:`settle`) and told to the webhooks; approved, the days it decides,
    ``first``..``last`` of ``employees``, are recomputed at once. In the caller's transaction."""
    settle(request, "approved" if approve else "rejected", actor)
    webhook_events.request_changed(request)
    if approve:
        recompute(first, last, employees=Employee.objects.filter(pk__in=[emp.pk for emp in employees]), now=now)


def decide_leave(leave: LeaveRecord, *, approve: bool, actor: str, now: datetime | None = None,
                 evidence_required: bool = True) -> LeaveRecord:
    """Approve or reject a pending leave. Approved, its days are recomputed at once in the same transaction: the
    recompute lays the leave's records on the days it takes off (:func:`services.sync_leave_records`). A leave of a
    type that needs evidence is approved only once evidence is attached (unless not ``evidence_required``: leave HR
    records, having seen the paper); it may be rejected without."""
    if approve and evidence_required and leave.leave_type.needs_evidence and not evidence_files.has(leave):
        raise EvidenceError(f"这条{leave.leave_type.name}还没有证明，员工补交后才能批准 / This {leave.leave_type.name} has "
                            f"no evidence yet: it can be approved once the employee attaches it")
    if approve:
        closing.require_open(leave.employee, leave.start, leave.end)
    with transaction.atomic():
        settle_decision(leave, approve=approve, actor=actor, first=leave.start, last=leave.end,
                        employees=[leave.employee], now=now)
    return leave


def file_makeup_punch(employee: Employee, at: datetime, direction: str | None, *, reason: str, actor: str,
                      evidence: Evidence | None = None) -> MakeupPunch:
    """A pending make-up punch at ``at``; refused in the future, in a closed month, or beyond the site's make-up
    rules (:mod:`central.attendance.makeup_rules`)."""
    reason = reason.strip()
    if not reason:
        raise AttendanceError("请填写补卡原因 / A reason is required")
    if direction not in ("in", "out", None):
        raise AttendanceError("方向应为上班或下班 / The direction is in or out")
    if at > dj_timezone.now():
        raise AttendanceError("不能为将来补卡 / A make-up punch cannot be in the future")
    closing.require_open_at(employee, at)
    with transaction.atomic():
        Employee.objects.select_for_update().filter(pk=employee.pk).first()  # two at once: counted one after the other
        makeup_rules.check(employee, at)
        punch = MakeupPunch.objects.create(employee=employee, at=at, direction=direction, reason=reason[:500])
        audit.record(actor, "attendance.makeup_filed", f"{employee.number} {at.isoformat()}", {"id": punch.pk})
        if evidence is not None:
            evidence_files.attach(punch, evidence, actor)
        webhook_events.request_changed(punch)
    return punch


def decide_makeup_punch(punch: MakeupPunch, *, approve: bool, actor: str, now: datetime | None = None) -> MakeupPunch:
    """Approve (the punch counts from now on, its days recomputed) or reject a pending make-up punch."""
    if approve:
        closing.require_open_at(punch.employee, punch.at)
    with transaction.atomic():
        settle(punch, "approved" if approve else "rejected", actor)
        webhook_events.request_changed(punch)
        if approve:  # in the approval's commit: the punch never stands approved and uncounted
            day = punch.at.date()
            recompute(day - timedelta(days=2), day + timedelta(days=1),
                      employees=Employee.objects.filter(pk=punch.employee_id), now=now)
    return punch


def record_leave(employee: Employee, leave_type: LeaveType, start: date, end: date, *, half_day: bool = False,
                 reason: str, actor: str, now: datetime | None = None, evidence: Evidence | None = None) -> LeaveRecord:
    """A leave HR records for an employee, already agreed: filed and approved by ``actor`` in one step (both steps
    audited, the days recomputed)."""
    if not reason.strip():
        raise AttendanceError("请填写事由 / A reason is required")
    with transaction.atomic():
        leave = file_leave(employee, leave_type, start, end, half_day=half_day, reason=reason, actor=actor,
                           announce=False, evidence=evidence)
        return decide_leave(leave, approve=True, actor=actor, now=now, evidence_required=False)


def decide_overtime(record: DailyRecord, *, approve: bool, actor: str, minutes: int | None = None,
                    in_lieu: bool = False) -> DailyRecord:
    """Approve (paid) or reject (recorded, not paid) a day's overtime waiting for approval, or approve rest-day
    overtime as time off in lieu (``in_lieu``: 调休, not paid; its hours become days of the leave type kept for it,
    :mod:`central.attendance.leave_balances`). The decision stays while the day's overtime minutes stay the same; a
    recompute that changes them asks again (``services._keep_approval``). ``minutes``: what the person deciding was
    shown; refused when a recompute changed them since."""
    if in_lieu and not approve:
        raise AttendanceError("调休是批准的一种 / Time off in lieu is a way of approving")
    with transaction.atomic():
        fresh = DailyRecord.objects.select_for_update().select_related("employee").get(pk=record.pk)
        if fresh.overtime_state != "pending" or not fresh.overtime_min:
            raise AttendanceError(f"这条加班已处理 / This overtime is already {fresh.overtime_state or 'settled'}")
        closing.require_open(fresh.employee, fresh.date)
        if minutes is not None and minutes != fresh.overtime_min:
            raise AttendanceError(f"这天的加班已从 {minutes} 分钟变为 {fresh.overtime_min} 分钟，请核对后再审批 / "
                                  f"This day's overtime changed from {minutes} to {fresh.overtime_min} min since it "
                                  "was shown: look at it again before deciding")
        if in_lieu:
            _check_in_lieu(fresh)
        fresh.overtime_state = "in_lieu" if in_lieu else "approved" if approve else "rejected"
        fresh.save(update_fields=["overtime_state", "updated_at"])
        audit.record(actor, "attendance.overtime_" + fresh.overtime_state, f"{fresh.employee.number} {fresh.date}",
                     {"id": fresh.pk, "shift": fresh.shift_name, "minutes": fresh.overtime_min})
        if fresh.final:  # a final day changed: whoever follows ``record.final`` (payroll) hears of the decision
            webhook_events.records_written([(fresh.employee.number, fresh.employee.site_id, model_to_dict(fresh))])
    return fresh


def _check_in_lieu(record: DailyRecord) -> None:
    """Only rest-day overtime may be taken as time off in lieu (劳动法 第四十四条: work on a rest day is made up with
    time off, or paid double; work on a public holiday is paid three times and overtime after a working day one and
    a half, neither made up with time off), and only where a leave type takes it."""
    if record.overtime_kind != "rest_day":
        kind = {"holiday": ("节假日", "public holiday"), "workday": ("工作日", "workday")}.get(
            record.overtime_kind, (record.overtime_kind, record.overtime_kind))
        raise AttendanceError(f"只有休息日加班可以调休，这是{kind[0]}加班，须计薪 / Only rest-day overtime can be taken as time "
                              f"off in lieu: this is {kind[1]} overtime, which is paid")
    require_in_lieu_type()


def check_decider(user: Any, employee: Employee) -> None:
    """Whether ``user`` may decide a request of ``employee``: a superuser, HR admin or manager who sees the employee
    (the caller has already found the request among the employees it sees), and never on their own request."""
    if not scope.can_decide_requests(user):
        raise DecisionRefused("这个角色不能审批 / This role does not decide requests")
    if user.employee_id is not None and user.employee_id == employee.pk:
        raise DecisionRefused("不能审批自己的请求 / You cannot decide your own request")


def decide(user: Any, request: Request | DailyRecord, *, approve: bool,
           minutes: int | None = None, in_lieu: bool = False) -> None:
    """One decision, from the console's requests page or the API: who may take it (:func:`check_decider`, refused
    with :class:`DecisionRefused`), then the request's own service (an :class:`AttendanceError` once decided).
    ``minutes``: for overtime, the minutes the person deciding was shown; ``in_lieu``: overtime approved as time off
    in lieu (:func:`decide_overtime`)."""
    check_decider(user, request.employee)
    if in_lieu and not isinstance(request, DailyRecord):
        raise AttendanceError("只有加班可以调休 / Only overtime can be taken as time off in lieu")
    if isinstance(request, LeaveRecord):
        decide_leave(request, approve=approve, actor=user.username)
    elif isinstance(request, ShiftChange):
        check_partner_in_scope(user, request)
        decide_change(request, approve=approve, actor=user.username)
    elif isinstance(request, MakeupPunch):
        decide_makeup_punch(request, approve=approve, actor=user.username)
    elif isinstance(request, OvertimeRequest):
        decide_overtime_request(request, approve=approve, actor=user.username)
    else:
        decide_overtime(request, approve=approve, actor=user.username, minutes=minutes, in_lieu=in_lieu)


DECISIONS = ("approve", "reject", "in_lieu")  # the words a page or the API sends; in_lieu: overtime as time off (调休)


def decide_as(user: Any, request: Request | DailyRecord, decision: str, *,
              minutes: int | None = None) -> None:
    """:func:`decide` by one of DECISIONS."""
    if decision not in DECISIONS:
        raise ValueError(f"not a decision: {decision!r}")
    decide(user, request, approve=decision != "reject", minutes=minutes, in_lieu=decision == "in_lieu")


def attach_evidence(user: Any, request: LeaveRecord | MakeupPunch, evidence: Evidence) -> None:
    """The employee attaches evidence to their own request while it waits (the sick note comes after the doctor),
    replacing any attached before; audited. Someone else's request, or one already settled, is refused."""
    _require_own(user, request, "只能为自己的请求补交证明 / You can attach evidence to your own requests only")
    with transaction.atomic():
        held = _held_state(request)
        if held != "pending":
            raise AttendanceError(f"请求已处理，不能再补交证明 / The request is already {held}: no more evidence")
        evidence_files.attach(request, evidence, user.username)  # in place of any attached before


def withdraw(user: Any, request: Request) -> None:
    """The employee takes back their own request while it waits (a leave's held days are free again), audited and
    told to the webhooks as ``request.withdrawn``; someone else's request, or one already settled, is refused."""
    _require_own(user, request, "只能撤回自己的请求 / You can withdraw only your own request")
    with transaction.atomic():
        settle(request, "withdrawn", user.username)
        webhook_events.request_changed(request)
