"""/attendance/*: daily records, exceptions, leave, make-up punches, shift changes and overtime requests of the
caller's employees, a page at a time; leave, make-up punches, shift changes or swaps and overtime (加班申请) asked for
(one's own) or leave recorded (by HR), taken back while they wait, a swap answered by the colleague asked, and the
decision on a pending leave, make-up punch, shift change, overtime request or day's overtime.

Every list reads through :func:`central.accounts.scope.employees`: rows of employees outside the
caller's scope never appear, whatever the filters say (a swap appears to whoever sees either of its two
employees). Pages use an opaque cursor: records and overtime requests by (date, id), leave and shift changes by
(start, id), make-up punches by (time, id), exceptions by their place in the ordered list (date, site, employee,
shift, kind); pass ``next_cursor`` back for the next page.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db.models import Q, QuerySet
from ninja import Query, Router
from ninja import Status as Answer

from central.accounts import scope
from central.api import cursor as keyset
from central.api.attendance_schemas import (
    MONTH,
    BalancePage,
    ClosedMonthList,
    DecisionIn,
    EvidenceIn,
    ExceptionPage,
    LeaveIn,
    LeaveOut,
    LeavePage,
    LeaveReturnIn,
    MakeupIn,
    MakeupOut,
    MakeupPage,
    MonthConfirmationIn,
    MonthConfirmationOut,
    MonthConfirmationPage,
    OvertimeDecisionIn,
    OvertimeRequestIn,
    OvertimeRequestOut,
    OvertimeRequestPage,
    RecordOut,
    RecordPage,
    ShiftChangeIn,
    ShiftChangeOut,
    ShiftChangePage,
    SwapAnswerIn,
)
from central.api.auth import caller
from central.api.errors import ApiError, not_found
from central.api.routers.common import CODE, MAX_LIMIT, NUMBER, TEXT, cursor_param, limit_param
from central.api.schemas import ERRORS, ErrorOut
from central.attendance import confirmations, leave_balances, request_selectors
from central.attendance.anomalies import KINDS, STATES, Anomaly, anomalies
from central.attendance.closing import MonthClosed
from central.attendance.evidence import Evidence, prepared
from central.attendance.inputs import zone_named
from central.attendance.leave_returns import end_leave_early
from central.attendance.models import (
    ClosedMonth,
    DailyRecord,
    LeaveRecord,
    LeaveType,
    MakeupPunch,
    MonthConfirmation,
    OvertimeRequest,
    ShiftChange,
    ShiftType,
)
from central.attendance.overtime_requests import file_overtime
from central.attendance.requests import (
    DecisionRefused,
    decide_as,
    file_leave,
    file_makeup_punch,
    record_leave,
    withdraw,
)
from central.attendance.services import AttendanceError
from central.attendance.shift_changes import NOT_A_COLLEAGUE, answer_swap, file_change, file_swap
from central.people.models import Employee

router = Router(tags=["attendance 考勤"])
MAX_DAYS = 366
EX_FROM, EX_TO = "2026-03-01", "2026-03-31"
STATE_TEXT = ("状态 pending（待批）、approved（已批）、rejected（已拒）、withdrawn（员工已撤回）/ state: pending, approved, "
              "rejected, or withdrawn by the employee")
Status = Literal["present", "absent", "half_day", "on_leave"]
RequestState = Literal["pending", "approved", "rejected", "withdrawn"]
ExceptionKind = Literal["late", "early", "absent", "missing_out", "time_implausible"]
ExceptionState = Literal["open", "explained", "accepted"]


def _from_param(required: bool = False) -> Any:
    return Query(... if required else None, alias="from", max_length=40, example=EX_FROM,
                 description="开始日期（含，站点当地日期）YYYY-MM-DD / first day, inclusive, the site's local day"
                             + ("（必填 required）" if required else ""))


def _to_param(required: bool = False) -> Any:
    return Query(... if required else None, alias="to", max_length=40, example=EX_TO,
                 description="结束日期（含）YYYY-MM-DD / last day, inclusive" + ("（必填 required）" if required else ""))


def day(value: str | None, name: str) -> date | None:
    """``YYYY-MM-DD`` as a date; a 400 naming the parameter otherwise."""
    if value is None or value == "":
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{name}: 日期格式无效，应为 YYYY-MM-DD，如 2026-03-01 / not a date like 2026-03-01",
                       name) from None


def span(first: str | None, last: str | None, max_days: int | None = None) -> tuple[date | None, date | None]:
    """``from`` and ``to`` as dates, in order and at most ``max_days`` days apart; a 400 otherwise."""
    start, end = day(first, "from"), day(last, "to")
    if start and end and end < start:
        raise ApiError(400, f"结束日期早于开始日期 / 'to' ({end}) is before 'from' ({start})", "to")
    if max_days and start and end and (end - start).days + 1 > max_days:
        raise ApiError(400, f"日期范围过长，最多 {max_days} 天 / at most {max_days} days per call "
                            f"({start} – {end} is {(end - start).days + 1})", "to")
    return start, end


def _site_param() -> Any:
    return Query(None, pattern=CODE, example="sh-plant", description="站点代码 / site code")


def _department_param() -> Any:
    return Query(None, max_length=100, pattern=TEXT, example="装配 Assembly",
                 description="部门名称 / department name")


def _employee_param() -> Any:
    return Query(None, pattern=NUMBER, example="A001", description="工号 / employee number")


FROM, TO = _from_param(), _to_param()
FROM_REQUIRED, TO_REQUIRED = _from_param(required=True), _to_param(required=True)
SITE = _site_param()
DEPARTMENT = _department_param()
EMPLOYEE = _employee_param()
STATUS = Query(None, example="absent", description="状态 present（出勤）、absent（缺勤）、half_day（半天）、on_leave（请假）/ status")
KIND = Query(None, example="late", description="类型 / kind: " + ", ".join(KINDS))
EXCEPTION_STATE = Query(None, example="open", description="状态 / state: " + ", ".join(STATES))
REQUEST_STATE = Query(None, example="pending", description=STATE_TEXT)




def _after_day(rows: QuerySet, cursor: str | None, field: str) -> QuerySet:
    """Rows ordered by (``field``, id), a date field, after the cursor's ``[day, id]`` when there is one."""
    rows = rows.order_by(field, "id")
    if not cursor:
        return rows
    day, last_id = keyset._decode(cursor, 2)  # the cursor module's checks: size, strings, length
    try:
        moment, pk = date.fromisoformat(day), int(last_id)
    except ValueError:
        raise ApiError(400, keyset.BAD_CURSOR, "cursor") from None
    return rows.filter(Q(**{f"{field}__gt": moment}) | Q(**{field: moment, "id__gt": pk}))


PEOPLE = {"employee_number": "employee__number", "employee_name": "employee__name", "site": "employee__site__code",
          "department": "employee__department__name"}


def _people(row: dict[str, Any]) -> dict[str, Any]:
    out = {key: row.pop(field) for key, field in PEOPLE.items()}
    out["department"] = out["department"] or ""
    return out


RECORD_FIELDS = ("id", "date", "shift_name", "status", "source", "day_kind", "hours", "late", "late_min", "early",
                 "early_min", "missing_out", "overtime_min", "overtime_kind", "overtime_state", "leave_type__code",
                 "half_day", "first_in", "last_out", "final", "closed_by_timeout", "reason", "updated_at")


def _record(row: dict[str, Any]) -> dict[str, Any]:
    out = _people(row)
    hours: Decimal = row.pop("hours")
    out |= row | {"date": row["date"].isoformat(), "shift": row.pop("shift_name"), "hours": f"{hours:.2f}",
                  "leave_type": row.pop("leave_type__code"), "first_in": keyset.stamp(row["first_in"]),
                  "last_out": keyset.stamp(row["last_out"]), "updated_at": keyset.stamp(row["updated_at"])}
    return out


@router.get("/attendance/records", response={200: RecordPage, **ERRORS},
            summary="考勤日记录 / daily attendance records, by date",
            description="每人每班次一条，由考勤引擎根据打卡、排班、请假计算 / one per employee per shift, made by the "
                        "attendance engine from punches, schedules and leave")
def list_records(request,
                 first: str | None = FROM, last: str | None = TO,
                 site: str | None = SITE, department: str | None = DEPARTMENT,
                 employee: str | None = EMPLOYEE,
                 status: Status | None = STATUS,
                 final: bool | None = Query(None, example=True,
                                            description="只看已定稿（true）或未定稿（false）/ final (true) or provisional "
                                                        "(false) records only"),
                 limit: int = limit_param(), cursor: str | None = cursor_param()):
    rows = _on_days(DailyRecord.objects.filter(
        employee__in=scope.employees_in(caller(request), site, department, employee).values("pk")), span(first, last))
    if status:
        rows = rows.filter(status=status)
    if final is not None:
        rows = rows.filter(final=final)
    values = _after_day(rows, cursor, "date").values(*RECORD_FIELDS, *PEOPLE.values())
    items, next_cursor = keyset.page(values, limit, lambda r: (r["date"].isoformat(), str(r["id"])))
    return {"items": _records(items), "next_cursor": next_cursor}


def _records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records' rows as the API shows them, each saying whether its month is closed at its site."""
    out = [_record(r) for r in rows]
    sites = {rec["site"] for rec in out}
    closed = {(code, f"{month:%Y-%m}") for code, month in
              ClosedMonth.objects.filter(site__code__in=sites).values_list("site__code", "month")} if sites else set()
    for rec in out:
        rec["month_closed"] = (rec["site"], rec["date"][:7]) in closed
    return out


@router.get("/attendance/closed-months", response={200: ClosedMonthList, **ERRORS},
            summary="已月结的月份 / months HR has closed, by site",
            description="人事月结后，该站点这个月的考勤不再改变（工资可按此发放），直到重新开放；新的在前 / once HR closes a "
                        "site's month its attendance no longer changes (payroll can be paid on it) until HR reopens "
                        "it; newest first. The webhooks month.closed and month.reopened tell the same as it happens.")
def list_closed_months(request, site: str | None = SITE,
                       year: int | None = Query(None, ge=2000, le=2100, example=2026,
                                                description="只看这一年 / only this calendar year")):
    rows = ClosedMonth.objects.filter(site__in=scope.sites(caller(request)))
    if site:
        rows = rows.filter(site__code=site)
    if year:
        rows = rows.filter(month__year=year)
    return {"items": [{"site": row.site.code, "month": f"{row.month:%Y-%m}", "closed_at": keyset.stamp(row.closed_at),
                       "closed_by": row.closed_by, "note": row.note, "held_changes": len(row.held or [])}
                      for row in rows.select_related("site").order_by("-month", "site__code")]}


def _local_text(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


def _exception_key(a: Anomaly) -> tuple[str, ...]:
    """The anomaly's place in the ordered list, as the cursor stores it (no part may be empty)."""
    return (a.date.isoformat(), a.site, a.number, f"s{a.shift}"[:100], f"{KINDS.index(a.kind)}", f"d{a.detail}")


def _exception(a: Anomaly) -> dict[str, Any]:
    return {"employee_number": a.number, "employee_name": a.name, "site": a.site, "department": a.department,
            "date": a.date.isoformat(), "shift": a.shift, "kind": a.kind, "kind_label": a.kind_label,
            "minutes": a.minutes, "state": a.state, "state_label": a.state_label, "request_kind": a.request_kind,
            "request_id": a.request_id, "final": a.final, "first_in": _local_text(a.first_in),
            "last_out": _local_text(a.last_out), "detail": a.detail}


@router.get("/attendance/exceptions", response={200: ExceptionPage, **ERRORS},
            summary="考勤异常 / attendance exceptions with their state",
            description="迟到、早退、缺勤、缺下班卡、打卡时间存疑；状态 open（待处理）、explained（有待批申请）、accepted"
                        "（手工记录或已批申请）/ late, early, absent, missing out punch, implausible punch time; state open, "
                        "explained (a pending request covers it) or accepted (set by hand or an approved request). "
                        f"最多 {MAX_DAYS} 天 / at most {MAX_DAYS} days per call.")
def list_exceptions(request,
                    first: str = FROM_REQUIRED, last: str = TO_REQUIRED,
                    site: str | None = SITE, department: str | None = DEPARTMENT,
                    employee: str | None = EMPLOYEE,
                    kind: ExceptionKind | None = KIND, state: ExceptionState | None = EXCEPTION_STATE,
                    limit: int = limit_param(), cursor: str | None = cursor_param()):
    start, end = span(first, last, MAX_DAYS)
    assert start is not None and end is not None  # both required
    found = anomalies(caller(request), start, end, site=site or "", department=department or "",
                      employee=employee or "", kinds=(kind,) if kind else (), states=(state,) if state else ())
    if cursor:
        after = tuple(keyset._decode(cursor, 6))
        found = [a for a in found if _exception_key(a) > after]
    items = found[:limit]
    next_cursor = keyset.encode(*_exception_key(items[-1])) if len(found) > limit else None
    return {"items": [_exception(a) for a in items], "next_cursor": next_cursor}


LEAVE_FIELDS = ("id", "leave_type__code", "leave_type__name", "leave_type__paid", "leave_type__on_duty", "start", "end",
                "half_day", "state", "reason", "approved_by", "approved_at", "created_at", "evidence__id")


def _leave(row: dict[str, Any]) -> dict[str, Any]:
    out = _people(row)
    out |= {"id": row["id"], "leave_type": row["leave_type__code"], "leave_type_name": row["leave_type__name"],
            "paid": row["leave_type__paid"], "on_duty": row["leave_type__on_duty"], "start": row["start"].isoformat(),
            "end": row["end"].isoformat(), "half_day": row["half_day"], "state": row["state"], "reason": row["reason"],
            "approved_by": row["approved_by"], "approved_at": keyset.stamp(row["approved_at"]),
            "created_at": keyset.stamp(row["created_at"]), "has_evidence": row["evidence__id"] is not None}
    return out


@router.get("/attendance/leave", response={200: LeavePage, **ERRORS}, summary="请假记录 / leave, by first day",
            description="from/to 选出与该期间重叠的请假 / from and to select leave overlapping that span")
def list_leave(request,
               first: str | None = FROM, last: str | None = TO,
               site: str | None = SITE, department: str | None = DEPARTMENT,
               employee: str | None = EMPLOYEE,
               state: RequestState | None = REQUEST_STATE,
               leave_type: str | None = Query(None, max_length=16, pattern=TEXT, example="AL",
                                              description="假别代码 / leave type code"),
               limit: int = limit_param(), cursor: str | None = cursor_param()):
    between = span(first, last)
    rows = LeaveRecord.objects.filter(employee__in=scope.employees_in(caller(request), site, department, employee).values("pk"))
    if leave_type:
        rows = rows.filter(leave_type__code=leave_type)
    return _spans_page(rows, between, state, cursor, limit, LEAVE_FIELDS, _leave)


def _on_days(rows: Any, between: tuple[date | None, date | None]) -> Any:
    """The rows (of one day each: records, overtime requests) dated within ``between``; an open end is no bound."""
    start, end = between
    if start:
        rows = rows.filter(date__gte=start)
    if end:
        rows = rows.filter(date__lte=end)
    return rows


def _spans_page(rows: Any, between: tuple[date | None, date | None], state: str | None, cursor: str | None,
                limit: int, fields: tuple[str, ...], shown: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """One page of requests that cover days (leave, shift changes): those overlapping ``between`` in ``state``, by
    first day."""
    start, end = between
    if start:
        rows = rows.filter(end__gte=start)
    if end:
        rows = rows.filter(start__lte=end)
    return _page_by_day(rows, "start", state, cursor, limit, fields, shown)


def _page_by_day(rows: Any, day: str, state: str | None, cursor: str | None, limit: int, fields: tuple[str, ...],
                 shown: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """One page of requests in ``state`` ordered by their ``day`` field, then id."""
    if state:
        rows = rows.filter(state=state)
    values = _after_day(rows, cursor, day).values(*fields, *PEOPLE.values())
    items, next_cursor = keyset.page(values, limit, lambda r: (r[day].isoformat(), str(r["id"])))
    return {"items": [shown(r) for r in items], "next_cursor": next_cursor}


@router.get("/attendance/leave-balances", response={200: BalancePage, **ERRORS},
            summary="假期额度与余额 / leave allowances and what is left, by employee",
            description="有每年额度的假别（或为员工单独设置了额度的），每人每个假别一行：额度、已批、待批、剩余，按员工要上班的日子计，"
                        "半天假计 0.5 / one row per employee and leave type that keeps an allowance: allowed, taken "
                        "(approved), waiting (pending, held) and left, counted in the employee's working days, half a "
                        "day for a half-day leave")
def list_leave_balances(request,
                        year: int = Query(..., ge=2000, le=2100, example=2026, description="日历年 / calendar year"),
                        site: str | None = SITE, department: str | None = DEPARTMENT,
                        employee: str | None = EMPLOYEE,
                        limit: int = Query(100, ge=1, le=MAX_LIMIT, description=f"每页员工数 1–{MAX_LIMIT}，默认 100 / "
                                           f"employees per page, 1 to {MAX_LIMIT}, default 100"),
                        cursor: str | None = cursor_param()):
    staff = scope.employees_in(caller(request), site, department, employee).select_related("site", "department")
    people, next_cursor = keyset.page(keyset.after_key(staff, cursor, "number"), limit, lambda emp: (emp.number,))
    found = leave_balances.balances_of(people, [year])
    return {"items": [{"employee_number": emp.number, "employee_name": emp.name, "site": emp.site.code,
                       "department": emp.department.name if emp.department else "", "leave_type": b.leave_type.code,
                       "leave_type_name": b.leave_type.name, "year": b.year, "allowance": leave_balances.days_text(b.allowance),
                       "own": b.own, "basis": b.basis, "working_years": b.working_years,
                       "forfeited_by": b.forfeit.cause if b.forfeit else None,
                       "forfeit_reached": b.forfeit.reached if b.forfeit else None,
                       "carried": leave_balances.days_text(b.carried),
                       "carried_until": b.carry.expires if b.carry is not None and b.carried else None,
                       "carried_left": leave_balances.days_text(b.carried_left),
                       "banked_hours": leave_balances.days_text(b.banked_h),
                       "in_lieu_lapsing_on": b.lapsing[0] if b.lapsing else None,
                       "in_lieu_lapsing_hours": leave_balances.days_text(b.lapsing_h),
                       "in_lieu_lapsed_hours": leave_balances.days_text(b.lapsed_h), "taken": leave_balances.days_text(b.used),
                       "waiting": leave_balances.days_text(b.waiting), "left": leave_balances.days_text(b.left)}
                      for emp in people for b in found[emp.pk]],
            "next_cursor": next_cursor}


MAKEUP_FIELDS = ("id", "at", "direction", "reason", "state", "approved_by", "approved_at", "created_at", "evidence__id")


def _makeup(row: dict[str, Any]) -> dict[str, Any]:
    out = _people(row)
    out |= row | {"at": keyset.stamp(row["at"]), "approved_at": keyset.stamp(row["approved_at"]),
                  "created_at": keyset.stamp(row["created_at"]), "has_evidence": row["evidence__id"] is not None}
    return out


def _local_days(staff: QuerySet[Employee], first: date | None, last: date | None) -> Q:
    """Times from ``first`` to ``last`` (inclusive) as local days of each employee's own site."""
    q = Q(pk__in=[])
    zones = staff.values_list("site_id", "site__time_zone").distinct()
    for site_id, zone_name in zones:
        zone = zone_named(zone_name)
        span = Q(employee__site_id=site_id)
        if first:
            span &= Q(at__gte=datetime.combine(first, time.min, tzinfo=zone))
        if last:
            span &= Q(at__lt=datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone))
        q |= span
    return q


@router.get("/attendance/makeup-punches", response={200: MakeupPage, **ERRORS},
            summary="补卡申请 / make-up punch requests, by time",
            description="员工忘记打卡后申请补上的打卡；批准后考勤引擎把它当作打卡 / punches an employee forgot and asked "
                        "to add; once approved the attendance engine counts them as punches")
def list_makeup_punches(request,
                        first: str | None = FROM, last: str | None = TO,
                        site: str | None = SITE, department: str | None = DEPARTMENT,
                        employee: str | None = EMPLOYEE,
                        state: RequestState | None = REQUEST_STATE,
                        limit: int = limit_param(), cursor: str | None = cursor_param()):
    start, end = span(first, last)
    staff = scope.employees_in(caller(request), site, department, employee)
    rows = MakeupPunch.objects.filter(employee__in=staff.values("pk"))
    if start or end:
        rows = rows.filter(_local_days(staff, start, end))
    if state:
        rows = rows.filter(state=state)
    try:
        values = keyset.after_time(rows, cursor, "at").values(*MAKEUP_FIELDS, *PEOPLE.values())
    except ValueError:  # an id that is no number
        raise ApiError(400, keyset.BAD_CURSOR, "cursor") from None
    items, next_cursor = keyset.page(values, limit, lambda r: (keyset.stamp(r["at"]), str(r["id"])))
    return {"items": [_makeup(r) for r in items], "next_cursor": next_cursor}


CHANGE_FIELDS = ("id", "start", "end", "shift__name", "was", "partner__number", "partner_shift__name", "partner_answer",
                 "reason", "state", "approved_by", "approved_at", "created_at")


def _change(row: dict[str, Any]) -> dict[str, Any]:
    out = _people(row)
    out |= {"id": row["id"], "start": row["start"].isoformat(), "end": row["end"].isoformat(),
            "shift": row["shift__name"], "was": row["was"], "partner": row["partner__number"],
            "partner_shift": row["partner_shift__name"], "partner_answer": row["partner_answer"] or None,
            "reason": row["reason"], "state": row["state"], "approved_by": row["approved_by"],
            "approved_at": keyset.stamp(row["approved_at"]), "created_at": keyset.stamp(row["created_at"])}
    return out


@router.get("/attendance/shift-changes", response={200: ShiftChangePage, **ERRORS},
            summary="调班与换班 / shift changes and swaps, by first day",
            description="调班：员工在某些天改上另一个班次或休息；换班：与同一站点的同事对调一天的班次，先由同事同意。批准后这些天按"
                        "调班计算。看得到两人中任一人即可看到该换班。from/to 选出与该期间重叠的 / a change: an employee "
                        "works another shift, or rests, on some days; a swap: two colleagues of a site trade one day's "
                        "shifts, the colleague agreeing first. Once approved those days follow it. A swap is seen by "
                        "whoever sees either of its two employees, and the site, department and employee filters match "
                        "either. from and to select those overlapping that span")
def list_shift_changes(request,
                       first: str | None = FROM, last: str | None = TO,
                       site: str | None = SITE, department: str | None = DEPARTMENT,
                       employee: str | None = EMPLOYEE,
                       state: RequestState | None = REQUEST_STATE,
                       limit: int = limit_param(), cursor: str | None = cursor_param()):
    between = span(first, last)
    staff = scope.employees_in(caller(request), site, department, employee).values("pk")
    rows = ShiftChange.objects.filter(Q(employee__in=staff) | Q(partner__in=staff))
    return _spans_page(rows, between, state, cursor, limit, CHANGE_FIELDS, _change)


ASKED_FIELDS = ("id", "date", "minutes", "reason", "in_lieu", "state", "approved_by", "approved_at", "created_at")


def _asked(row: dict[str, Any]) -> dict[str, Any]:
    out = _people(row)
    out |= row | {"date": row["date"].isoformat(), "approved_at": keyset.stamp(row["approved_at"]),
                  "created_at": keyset.stamp(row["created_at"])}
    return out


@router.get("/attendance/overtime-requests", response={200: OvertimeRequestPage, **ERRORS},
            summary="加班申请 / overtime requests, by day",
            description="员工事先（或事后不久）申请某天加班若干分钟；批准后这天考勤引擎算出的加班不超过申请时长的直接算已批，"
                        "超过的仍等待审批（见 /attendance/records 的 overtime_state）。from/to 选出这些天的申请 / overtime an "
                        "employee asks for on a day, ahead or soon after; once approved, the overtime the attendance "
                        "engine finds on that day is approved without a second decision while it is no longer than "
                        "asked, and longer overtime waits as before (overtime_state in /attendance/records). from and "
                        "to select the requests of those days")
def list_overtime_requests(request,
                           first: str | None = FROM, last: str | None = TO,
                           site: str | None = SITE, department: str | None = DEPARTMENT,
                           employee: str | None = EMPLOYEE,
                           state: RequestState | None = REQUEST_STATE,
                           limit: int = limit_param(), cursor: str | None = cursor_param()):
    rows = _on_days(OvertimeRequest.objects.filter(
        employee__in=scope.employees_in(caller(request), site, department, employee).values("pk")), span(first, last))
    return _page_by_day(rows, "date", state, cursor, limit, ASKED_FIELDS, _asked)


# -- decisions ------------------------------------------------------------------------------------------------
DECISION_ERRORS = {**ERRORS, 409: ErrorOut}


# each request kind: what it is called when not found, its model, the columns read back, how they are shown
_DECIDED: dict[str, tuple[str, Any, tuple[str, ...], Any]] = {
    "leave": ("leave", LeaveRecord, LEAVE_FIELDS, _leave),
    "makeup": ("make-up punch", MakeupPunch, MAKEUP_FIELDS, _makeup),
    "overtime": ("daily record", DailyRecord, RECORD_FIELDS, lambda row: _records([row])[0]),
    "shift_change": ("shift change", ShiftChange, CHANGE_FIELDS, _change),
    "overtime_request": ("overtime request", OvertimeRequest, ASKED_FIELDS, _asked),
}


def _shown(kind: str, pk: int) -> dict[str, Any]:
    """The request as it now stands, as the lists show it."""
    _, model, fields, shown = _DECIDED[kind]
    return shown(model.objects.filter(pk=pk).values(*fields, *PEOPLE.values()).get())


def _acted(request, kind: str, pk: int, act: Callable[[Any, Any], None], conflict: str) -> dict[str, Any]:
    """``act(user, found)`` on request ``kind`` ``pk`` of an employee in the caller's scope (else 404, as if it did not
    exist), through the console's own services: 403 when it is not the caller's to do (a decision or withdrawal
    refused, a swap answered by someone not asked), 409 naming ``conflict`` when the request is settled already. The
    answer is the request as it now stands."""
    user = caller(request)
    found = request_selectors.find_request(user, kind, pk)
    if found is None:
        raise not_found(_DECIDED[kind][0], str(pk))
    try:
        act(user, found)
    except DecisionRefused as exc:  # a swap answered by someone not asked too (SwapRefused)
        raise ApiError(403, str(exc)) from None
    except AttendanceError as exc:
        raise ApiError(409, str(exc), conflict) from None
    return _shown(kind, found.pk)


def _decided(request, kind: str, pk: int, payload: DecisionIn | OvertimeDecisionIn) -> dict[str, Any]:
    """Approve or reject one pending request, as the console's requests page does, the token's user deciding: 403 for
    a role that does not decide or one's own request, 409 once decided."""
    minutes = payload.minutes if isinstance(payload, OvertimeDecisionIn) else None

    def act(user: Any, found: Any) -> None:
        decide_as(user, found, payload.decision, minutes=minutes)

    return _acted(request, kind, pk, act, "decision")


@router.post("/attendance/leave/{leave_id}/decision", response={200: LeaveOut, **DECISION_ERRORS},
             summary="审批请假 / approve or reject a pending leave",
             description="经理（本部门）、人事管理员（其范围）与超级管理员可审批；不能审批自己的请求；已处理的返回 409 / "
                         "managers (their departments), HR admins (their scope) and superusers decide; never their "
                         "own request; one already decided answers 409")
def decide_leave_request(request, leave_id: int, payload: DecisionIn):
    return _decided(request, "leave", leave_id, payload)


@router.post("/attendance/makeup-punches/{punch_id}/decision", response={200: MakeupOut, **DECISION_ERRORS},
             summary="审批补卡 / approve or reject a pending make-up punch",
             description="批准后该补卡计为一次打卡，当天重新计算 / once approved it counts as a punch and its days are "
                         "recomputed. 谁可审批同请假 / who decides: as for leave")
def decide_makeup_request(request, punch_id: int, payload: DecisionIn):
    return _decided(request, "makeup", punch_id, payload)


@router.post("/attendance/overtime/{record_id}/decision", response={200: RecordOut, **DECISION_ERRORS},
             summary="审批加班 / approve or reject a day's overtime waiting for approval",
             description="批准的加班计入工资，拒绝的只记录不计薪，休息日加班可批为调休（不计薪，折成调休假）；分钟数不变时决定"
                         "一直有效，重新计算改变分钟数后需再次审批。没有待批加班或分钟数已变（见 minutes）返回 409 / approved "
                         "overtime is paid, rejected overtime is recorded and not paid, rest-day overtime may be approved "
                         "as time off in lieu (not paid, banked as days of the leave type for it); the decision stays "
                         "while the minutes stay the same, and a recompute that changes them asks again. 409 when the "
                         "record has no overtime waiting or its minutes changed (see minutes). 谁可审批同请假 / who "
                         "decides: as for leave")
def decide_overtime_request(request, record_id: int, payload: OvertimeDecisionIn):
    return _decided(request, "overtime", record_id, payload)


@router.post("/attendance/shift-changes/{change_id}/decision", response={200: ShiftChangeOut, **DECISION_ERRORS},
             summary="审批调班或换班 / approve or reject a pending shift change or swap",
             description="批准后这些天按调班计算，两人的考勤立即重新计算。换班须先由同事同意，否则返回 409；换班的审批人须能看到两人，"
                         "且不是其中任何一人（否则 403）；提交后排班已变的换班不能批准（409，请驳回）。谁可审批同请假 / once "
                         "approved those days follow the change and both employees' days are recomputed at once. A swap "
                         "is decided only once the colleague agreed (409 before); whoever decides a swap must see both "
                         "employees and be neither (else 403); a swap whose schedules changed since it was asked cannot "
                         "be approved (409: reject it). Who decides: as for leave")
def decide_shift_change_request(request, change_id: int, payload: DecisionIn):
    return _decided(request, "shift_change", change_id, payload)


@router.post("/attendance/overtime-requests/{request_id}/decision", response={200: OvertimeRequestOut, **DECISION_ERRORS},
             summary="审批加班申请 / approve or reject a pending overtime request",
             description="批准后员工这天的考勤立即重新计算：不超过申请时长的加班直接算已批，以后重新计算也一样；超过的仍等待审批。"
                         "拒绝后这天的加班照常等待审批。所在月份已月结的不能批准（409）。谁可审批同请假 / once approved the "
                         "employee's day is recomputed at once: its overtime up to the minutes asked is approved, now "
                         "and whenever the day is recomputed, and longer overtime waits for a decision as before. "
                         "Rejected, the day's overtime waits for its own decision. A request of a closed month cannot "
                         "be approved (409). Who decides: as for leave")
def decide_asked_overtime(request, request_id: int, payload: DecisionIn):
    return _decided(request, "overtime_request", request_id, payload)


@router.post("/attendance/leave/{leave_id}/early-end", response={200: LeaveOut, **DECISION_ERRORS},
             summary="销假 / end an approved leave early, or call it off",
             description="员工提前回来或没有去：请假在 back_on 前一天结束（back_on 为第一天则整条取消，状态变为 withdrawn），"
                         "之后的日子按打卡重新计算，额度退回，写入审计日志。谁可操作同审批，员工本人不能（403）；请假未批准或所在月份"
                         "已月结返回 409；日期不在请假之内返回 400 / the employee came back early, or never went: the leave "
                         "ends the day before back_on (back_on its first day calls it off: state withdrawn), the days "
                         "after are recomputed from the punches, the allowance gets them back, and it is audited. Who "
                         "may: as for decisions, never the employee on their own leave (403); a leave not approved or a "
                         "closed month answers 409; a day outside the leave 400")
def end_leave_early_request(request, leave_id: int, payload: LeaveReturnIn):
    user = caller(request)
    found = request_selectors.find_request(user, "leave", leave_id)
    if not isinstance(found, LeaveRecord):
        raise not_found("leave", str(leave_id))
    try:
        end_leave_early(user, found, payload.back_on, reason=payload.reason)
    except DecisionRefused as exc:
        raise ApiError(403, str(exc)) from None
    except MonthClosed as exc:
        raise ApiError(409, str(exc), "back_on") from None
    except AttendanceError as exc:
        raise ApiError(409 if exc.field == "state" else 400, str(exc), exc.field or "back_on") from None
    return _shown("leave", leave_id)


# -- asking, recording, taking back -----------------------------------------------------------------------------
NO_OWN = ("令牌的用户没有员工档案，没有自己的请求 / The token's user has no employee record, so no requests of "
          "their own")


def _own(user: Any) -> Employee:
    if user.employee_id is None:
        raise ApiError(403, NO_OWN)
    return user.employee


def _evidence(sent: EvidenceIn | None) -> Evidence | None:
    """The evidence of a request body as kept, or a 400 naming ``evidence``."""
    if sent is None:
        return None
    try:
        data = base64.b64decode(sent.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "证明的内容不是有效的 Base64 / The evidence is not valid Base64", "evidence") from None
    try:
        return prepared(sent.name, data)
    except AttendanceError as exc:
        raise ApiError(400, str(exc), "evidence") from None


def _refused(exc: AttendanceError, field: str) -> ApiError:
    """A request the rules refuse (dates, the allowance, a time in the future): 400 naming the field."""
    return ApiError(400, str(exc), exc.field or field)


@router.post("/attendance/leave", response={201: LeaveOut, **ERRORS},
             summary="请假 / ask for leave, or record it for an employee",
             description="不填 employee：令牌用户本人请假，等待审批（经理和人事会收到通知）。人事管理员填写其范围内员工的工号：登记已同意的"
                         "请假，直接生效并重算考勤。超出假期额度、没有要上班的日子等返回 400 并指明字段 / without employee: "
                         "the token's own employee asks for leave, waiting for approval (their manager and HR are "
                         "told). An HR admin naming an employee they manage records a leave already agreed: approved "
                         "at once, the days recomputed. Beyond the allowance, no working day in it and the like: 400 "
                         "naming the field")
def file_leave_request(request, payload: LeaveIn):
    user = caller(request)
    own: Employee | None = user.employee if user.employee_id is not None else None
    file: Callable[..., LeaveRecord] = file_leave
    if payload.employee is None or (own is not None and payload.employee == own.number):
        employee = _own(user)
    else:
        if not scope.can_manage(user):  # before any lookup: the answer says nothing of who exists
            raise ApiError(403, "只能为自己请假；为员工登记请假需要人事管理员 / You can ask for your own leave only; "
                                "recording leave for an employee takes an HR admin")
        found = scope.employees(user).filter(number=payload.employee).select_related("site", "department").first()
        if found is None:
            raise not_found("employee", payload.employee or "")
        scope.check_site_allowed(user, found.site, found.department)  # seen but not managed: 403
        employee, file = found, record_leave
    leave_type = LeaveType.objects.filter(code=payload.leave_type).first()
    if leave_type is None:
        raise ApiError(400, f"没有代码为 {payload.leave_type} 的假别 / No leave type has the code {payload.leave_type}",
                       "leave_type")
    try:
        leave = file(employee, leave_type, payload.start, payload.end, half_day=payload.half_day,
                     reason=payload.reason.strip(), actor=user.username, evidence=_evidence(payload.evidence))
    except AttendanceError as exc:
        raise _refused(exc, "end") from None
    return Answer(201, _shown("leave", leave.pk))


@router.post("/attendance/makeup-punches", response={201: MakeupOut, **ERRORS},
             summary="补卡 / ask for a make-up punch",
             description="令牌用户本人补一次漏打的卡，等待审批；批准后计为一次打卡。不能为将来补卡 / the token's own employee "
                         "asks for a punch missed at the door, waiting for approval; once approved it counts as a "
                         "punch. Never in the future")
def file_makeup_request(request, payload: MakeupIn):
    user = caller(request)
    employee = _own(user)
    at = payload.at if payload.at.tzinfo else payload.at.replace(tzinfo=zone_named(employee.site.time_zone))
    try:
        punch = file_makeup_punch(employee, at, payload.direction, reason=payload.reason, actor=user.username,
                                  evidence=_evidence(payload.evidence))
    except AttendanceError as exc:
        raise _refused(exc, "at") from None
    return Answer(201, _shown("makeup", punch.pk))


@router.post("/attendance/overtime-requests", response={201: OvertimeRequestOut, **ERRORS},
             summary="加班申请 / ask for overtime on a day",
             description="令牌用户本人申请某天加班若干分钟，等待审批（经理和人事会收到通知）；批准后这天不超过这个时长的加班无需再"
                         "审批。超过提前天数、这天已有待批或已批的申请、所在月份已月结等返回 400 并指明字段 / the token's own "
                         "employee asks for minutes of overtime on a day, waiting for approval (their manager and HR are "
                         "told); once approved, the day's overtime up to that long needs no second decision. Too many "
                         "days ahead, a request already waiting or approved on that day, a closed month and the like: "
                         "400 naming the field")
def ask_for_overtime(request, payload: OvertimeRequestIn):
    user = caller(request)
    employee = _own(user)
    try:
        asked = file_overtime(employee, payload.date, payload.minutes, reason=payload.reason, actor=user.username,
                              in_lieu=payload.in_lieu)
    except AttendanceError as exc:
        raise _refused(exc, "date") from None
    return Answer(201, _shown("overtime_request", asked.pk))


BOTH = ("调班填写 start、end、shift，换班填写 day、partner，不能混用 / A change takes start, end and shift, a swap day and "
        "partner: not both")


def _required(name: str, swap: bool) -> ApiError:
    zh, en = ("换班", "a swap") if swap else ("调班", "a change")
    hint = ("（班次名称，null 表示休息）", ": a shift's name, or null to rest") if name == "shift" else ("", "")
    return ApiError(400, f"{zh}须填写 {name}{hint[0]} / {name} is required for {en}{hint[1]}", name)


@router.post("/attendance/shift-changes", response={201: ShiftChangeOut, **ERRORS},
             summary="调班或换班 / ask for a shift change or a swap",
             description="令牌用户本人提出，等待审批（经理和人事会收到通知）。调班：{start, end, shift, reason}，这些天改上 shift "
                         "班次，shift 为 null 表示休息，最多 31 天。换班：{day, partner, reason}，与同一站点在职的同事对调这一天的"
                         "班次，先由同事同意。两种字段混用、缺字段、未知班次或同事、日期或排班不成立等返回 400 并指明字段 / the token's "
                         "own employee asks, waiting for approval (their manager and HR are told). A change: {start, "
                         "end, shift, reason}, working shift on those days, or resting when shift is null, 31 days at "
                         "most. A swap: {day, partner, reason}, trading that day's shifts with an active colleague of "
                         "the same site, who agrees first. Fields of both, a missing field, an unknown shift or "
                         "colleague, dates or schedules that do not allow it: 400 naming the field")
def file_shift_change_request(request, payload: ShiftChangeIn):
    user = caller(request)
    employee = _own(user)
    sent = payload.model_fields_set
    if sent & {"day", "partner"}:
        mixed = [name for name in ("start", "end", "shift") if name in sent]
        if mixed:
            raise ApiError(400, BOTH, mixed[0])
        if payload.day is None:
            raise _required("day", swap=True)
        if not payload.partner:
            raise _required("partner", swap=True)
        # one answer for a number that is unknown, elsewhere or inactive: it says nothing of who exists
        partner = Employee.objects.filter(number=payload.partner).first()
        if partner is None or partner.site_id != employee.site_id or not partner.active:
            raise ApiError(400, NOT_A_COLLEAGUE, "partner")
        try:
            change = file_swap(employee, partner, payload.day, reason=payload.reason, actor=user.username)
        except AttendanceError as exc:
            raise _refused(exc, "partner" if partner.pk == employee.pk else "day") from None
        return Answer(201, _shown("shift_change", change.pk))
    for name in ("start", "end", "shift"):
        if name not in sent or (name != "shift" and getattr(payload, name) is None):
            raise _required(name, swap=False)
    shift: ShiftType | None = None
    if payload.shift is not None:
        shift = ShiftType.objects.filter(name=payload.shift).first()
        if shift is None:
            raise ApiError(400, f"没有名为 {payload.shift} 的班次 / No shift is named {payload.shift}", "shift")
    assert payload.start is not None and payload.end is not None  # required above
    try:
        change = file_change(employee, payload.start, payload.end, shift, reason=payload.reason, actor=user.username)
    except AttendanceError as exc:
        raise _refused(exc, "end") from None
    return Answer(201, _shown("shift_change", change.pk))


@router.post("/attendance/shift-changes/{change_id}/answer", response={200: ShiftChangeOut, **DECISION_ERRORS},
             summary="答复换班 / the colleague asked agrees to a swap or declines it",
             description="只有被邀请换班的同事（令牌用户本人）可以答复，其他人返回 403；同意后等待经理或人事审批，拒绝则换班被拒；"
                         "已答复或已处理的返回 409 / only the colleague a swap names (the token's own employee) answers, "
                         "anyone else gets 403; agreed, it waits for a manager or HR to decide, declined, it is rejected. "
                         "One already answered or settled answers 409")
def answer_shift_swap(request, change_id: int, payload: SwapAnswerIn):
    def act(user: Any, found: Any) -> None:
        answer_swap(user, found, agree=payload.agree)

    return _acted(request, "shift_change", change_id, act, "partner_answer")


def _withdrawn(request, kind: str, pk: int) -> dict[str, Any]:
    """Take back one's own request while it waits, as the console's 撤回 button does: 403 for someone else's, 409 once
    settled."""
    return _acted(request, kind, pk, withdraw, "state")


WITHDRAW_TEXT = ("只有提交请求的员工本人可以撤回，且只在等待审批时；撤回后不再审批，请假占用的额度退回；已处理的返回 409 / only the "
                 "employee who asked may take a request back, and only while it waits; nobody decides it after, and a "
                 "leave's held days are free again; one already settled answers 409")


@router.post("/attendance/leave/{leave_id}/withdrawal", response={200: LeaveOut, **DECISION_ERRORS},
             summary="撤回请假 / take back one's own pending leave", description=WITHDRAW_TEXT)
def withdraw_leave_request(request, leave_id: int):
    return _withdrawn(request, "leave", leave_id)


@router.post("/attendance/makeup-punches/{punch_id}/withdrawal", response={200: MakeupOut, **DECISION_ERRORS},
             summary="撤回补卡 / take back one's own pending make-up punch", description=WITHDRAW_TEXT)
def withdraw_makeup_request(request, punch_id: int):
    return _withdrawn(request, "makeup", punch_id)


@router.post("/attendance/shift-changes/{change_id}/withdrawal", response={200: ShiftChangeOut, **DECISION_ERRORS},
             summary="撤回调班或换班 / take back one's own pending shift change or swap",
             description="只有提出的员工本人可以撤回，且只在等待审批时（换班在同事同意前后都可以）；换班的同事不能撤回，只能拒绝；"
                         "已处理的返回 409 / only the employee who asked may take it back, and only while it waits (a "
                         "swap before or after the colleague agreed); the colleague of a swap cannot withdraw it, "
                         "only decline it; one already settled answers 409")
def withdraw_shift_change_request(request, change_id: int):
    return _withdrawn(request, "shift_change", change_id)


@router.post("/attendance/overtime-requests/{request_id}/withdrawal", response={200: OvertimeRequestOut, **DECISION_ERRORS},
             summary="撤回加班申请 / take back one's own pending overtime request", description=WITHDRAW_TEXT)
def withdraw_asked_overtime(request, request_id: int):
    return _withdrawn(request, "overtime_request", request_id)


# -- employees confirming their month ----------------------------------------------------------------------------
def _confirmation(row: MonthConfirmation) -> dict[str, Any]:
    emp = row.employee
    return {"employee_number": emp.number, "employee_name": emp.name, "site": emp.site.code,
            "month": f"{row.month:%Y-%m}", "state": row.state, "note": row.note, "at": keyset.stamp(row.at),
            "answer": row.answer, "answered_by": row.answered_by, "answered_at": keyset.stamp(row.answered_at)}


@router.get("/attendance/month-confirmations", response={200: MonthConfirmationPage, **ERRORS},
            summary="员工考勤确认 / employees' confirmations of a month, by employee number",
            description="员工在月份过完后确认考勤无误或提出异议，人事答复异议；有待答复的异议时不能月结。没有记录的员工未确认 / "
                        "once a month is over employees confirm it or say what is wrong, and HR answers a dispute; a "
                        "month with a dispute waiting for HR cannot be closed. Employees without a row have not said")
def list_month_confirmations(request,
                             month: str = Query(..., pattern=MONTH, example="2026-03",
                                                description="月份 YYYY-MM / the month"),
                             site: str | None = SITE, department: str | None = DEPARTMENT,
                             state: Literal["confirmed", "disputed", "answered"] | None = Query(
                                 None, description="只看这种状态 / only this state"),
                             limit: int = limit_param(), cursor: str | None = cursor_param()):
    staff = scope.employees_in(caller(request), site, department, None)
    rows = (MonthConfirmation.objects.filter(employee__in=staff.values("pk"), month=date.fromisoformat(f"{month}-01"))
            .select_related("employee", "employee__site"))
    if state:
        rows = rows.filter(state=state)
    items, next_cursor = keyset.page(keyset.after_key(rows, cursor, "employee__number"), limit,
                                     lambda r: (r.employee.number,))
    return {"items": [_confirmation(r) for r in items], "next_cursor": next_cursor}


@router.post("/attendance/month-confirmations", response={201: MonthConfirmationOut, **ERRORS},
             summary="确认本人考勤 / confirm one's own month, or say what is wrong with it",
             description="令牌用户本人在月份过完后确认考勤无误（confirmed）或提出异议（disputed，note 必填），可再次提交改变；"
                         "月份未过完等返回 409 / the token's own employee, once the month is over, confirms it or "
                         "disputes it (note required); sending again changes it. A month not over: 409")
def confirm_month(request, payload: MonthConfirmationIn):
    user = caller(request)
    _own(user)
    month = date.fromisoformat(f"{payload.month}-01")
    try:
        if payload.state == "confirmed":
            row = confirmations.confirm(user, month)
        else:
            row = confirmations.dispute(user, month, payload.note)
    except AttendanceError as exc:
        if exc.field == "note":
            raise _refused(exc, "note") from None
        raise ApiError(409, str(exc), "month") from None
    return Answer(201, _confirmation(MonthConfirmation.objects.select_related("employee", "employee__site").get(pk=row.pk)))
