"""The product's events as webhook facts: what each one carries, its key and its fact id.

| event | key | fact id (one delivery per hook) |
| --- | --- | --- |
| ``punch.stored`` | employee number | the punch id |
| ``record.final`` | employee number | the record's content (a final record that changes is a new fact) |
| ``anomaly`` | employee number | employee, date, shift and kind (late, early, absent, missing_out) |
| ``request.filed``, ``.answered``, ``.approved``, ``.rejected``, ``.withdrawn`` | employee number | the request's kind and id |
| ``month.closed``, ``month.reopened`` | site code | site, month and the moment (a month closed again is a new fact) |
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from central.webhooks.services import Fact, emit_many, wanted
from central.webhooks.signing import utc_iso

if TYPE_CHECKING:
    from central.attendance.models import LeaveRecord, MakeupPunch, OvertimeRequest, ShiftChange

    Request = LeaveRecord | MakeupPunch | ShiftChange | OvertimeRequest

ANOMALIES = ("late", "early", "absent", "missing_out")


def _fact_id(prefix: str, parts: Sequence[object]) -> str:
    text = ":".join(str(p) for p in parts)
    if len(prefix) + 1 + len(text) > 255:
        text = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{prefix}:{text}"


def punch_fact(row: dict[str, Any], site: int | None) -> Fact:
    """``row``: a stored punch's columns (id, site, device_id, employee_number, direction, method, punched_at,
    time_source, time_flag)."""
    data = {"punch_id": row["id"], "employee": row["employee_number"], "site": row["site"], "device": row["device_id"],
            "direction": row["direction"], "method": row["method"], "punched_at": utc_iso(row["punched_at"]),
            "time_source": row["time_source"], "time_flag": row["time_flag"]}
    return Fact("punch.stored", data, row["employee_number"], f"punch.stored:{row['id']}", site)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def record_facts(number: str, site: int | None, row: dict[str, Any]) -> list[Fact]:
    """``record.final`` and its ``anomaly`` facts for a final daily record (``row``: the record's columns)."""
    data = {"employee": number, "date": _plain(row["date"]), "shift": row.get("shift_name") or "",
            "status": row["status"], "hours": _plain(row["hours"]), "late_min": row["late_min"],
            "early_min": row["early_min"], "overtime_min": row["overtime_min"],
            "overtime_kind": row.get("overtime_kind", ""), "overtime_state": row.get("overtime_state", ""),
            "first_in": _plain(row.get("first_in")), "last_out": _plain(row.get("last_out")),
            "missing_out": bool(row.get("missing_out"))}
    content = hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()
    facts = [Fact("record.final", data, number, f"record.final:{content}", site)]
    kinds = [kind for kind, present in (("late", row.get("late")), ("early", row.get("early")),
                                        ("absent", row["status"] == "absent"), ("missing_out", row.get("missing_out")))
             if present]
    for kind in kinds:
        anomaly = {"kind": kind, "employee": number, "date": data["date"], "shift": data["shift"],
                   "status": data["status"], "late_min": data["late_min"], "early_min": data["early_min"]}
        facts.append(Fact("anomaly", anomaly, number, _fact_id("anomaly", (number, data["date"], data["shift"], kind)),
                          site))
    return facts


def records_written(rows: Iterable[tuple[str, int | None, dict[str, Any]]]) -> int:
    """Final daily records just written (employee number, site pk, the record's columns), in the writer's
    transaction: each becomes a ``record.final`` fact and its ``anomaly`` facts."""
    if not (wanted("record.final") or wanted("anomaly")):
        return 0
    return emit_many(fact for number, site, row in rows for fact in record_facts(number, site, row))


def _request_data(request: Request) -> dict[str, Any]:
    """What every request event tells of a leave, a make-up punch (whether evidence is attached: the file itself is
    opened in the console, never sent), a shift change or an overtime request."""
    from central.attendance import evidence
    from central.attendance.models import LeaveRecord, OvertimeRequest, ShiftChange

    employee = request.employee
    if isinstance(request, OvertimeRequest):
        return {"kind": "overtime_request", "id": request.pk, "employee": employee.number,
                "date": request.date.isoformat(), "minutes": request.minutes, "in_lieu": request.in_lieu}
    if isinstance(request, ShiftChange):
        return {"kind": "shift_change", "id": request.pk, "employee": employee.number, "start": request.start.isoformat(),
                "end": request.end.isoformat(), "shift": request.shift.name if request.shift else None,
                "was": request.was, "partner": request.partner.number if request.partner else None,
                "partner_shift": request.partner_shift.name if request.partner_shift else None,
                "partner_answer": request.partner_answer or None}
    if isinstance(request, LeaveRecord):
        return {"kind": "leave", "id": request.pk, "employee": employee.number, "leave_type": request.leave_type.code,
                "on_duty": request.leave_type.on_duty, "start": request.start.isoformat(), "end": request.end.isoformat(),
                "half_day": request.half_day, "has_evidence": evidence.has(request)}
    return {"kind": "makeup_punch", "id": request.pk, "employee": employee.number, "at": utc_iso(request.at),
            "direction": request.direction, "has_evidence": evidence.has(request)}


def request_changed(request: Request) -> int:
    """A request filed (``request.filed``, with its reason: what the person deciding reads) or decided
    (``request.approved`` or ``request.rejected``, with who decided and when) or withdrawn by the employee
    (``request.withdrawn``), in the writer's transaction."""
    if request.state == "pending":
        event, extra = "request.filed", {"reason": request.reason, "filed_at": _plain(request.created_at)}
    else:
        event = f"request.{request.state}"
        extra = {f"{request.state}_by": request.approved_by, f"{request.state}_at": _plain(request.approved_at)}
    if not wanted(event):
        return 0
    data = {**_request_data(request), **extra}
    employee = request.employee
    return emit_many([Fact(event, data, employee.number, f"{event}:{data['kind']}:{request.pk}", employee.site_id)])


def leave_shortened(leave: LeaveRecord, *, end_was: date, back_on: date, by: str, at: datetime, reason: str) -> int:
    """An approved leave ended early (销假, ``request.shortened``): the employee came back on ``back_on``; its new
    ``end`` and the old one, who recorded it, when and why. A leave called off before its first day is
    ``request.withdrawn`` instead. In the writer's transaction."""
    event = "request.shortened"
    if not wanted(event):
        return 0
    data = {**_request_data(leave), "end_was": end_was.isoformat(), "back_on": back_on.isoformat(), "shortened_by": by,
            "shortened_at": _plain(at), "reason": reason}
    employee = leave.employee
    return emit_many([Fact(event, data, employee.number, f"{event}:leave:{leave.pk}:{back_on}", employee.site_id)])


def swap_answered(change: ShiftChange, by: str, at: datetime) -> int:
    """The colleague a swap names answered it (``request.answered``, ``partner_answer`` agreed or declined): agreed, it
    now waits for a manager; declined, it is also ``request.rejected``. In the writer's transaction."""
    event = "request.answered"
    if not wanted(event):
        return 0
    data = {**_request_data(change), "answered_by": by, "answered_at": _plain(at)}
    employee = change.employee
    return emit_many([Fact(event, data, employee.number, f"{event}:shift_change:{change.pk}", employee.site_id)])


def month_changed(event: str, site_code: str, site: int, month: date, actor: str, at: datetime,
                  detail: dict[str, Any]) -> int:
    """A site's month closed (``month.closed``: payroll can be paid on it) or reopened (``month.reopened``: its
    records may change again), in the writer's transaction."""
    if not wanted(event):
        return 0
    data = {"site": site_code, "month": f"{month:%Y-%m}", "by": actor, "at": utc_iso(at), **detail}
    return emit_many([Fact(event, data, site_code, _fact_id(event, (site_code, data["month"], data["at"])), site)])
