"""/punches and /events: what the terminals sent, within the caller's scope, a page at a time.

Both page with an opaque cursor over (time, id): pass ``next_cursor`` back to get the rows
after the last one seen; rows stored meanwhile with a later time come on later pages.
"""
from __future__ import annotations

from ninja import Query, Router, Status

from central.accounts import scope
from central.api import cursor as keyset
from central.api.auth import caller
from central.api.errors import ApiError
from central.api.routers.common import AGE, CODE, NUMBER, TEXT, cursor_param, limit_param, moment
from central.api.schemas import ERRORS, EventPage, PunchImportIn, PunchImportOut, PunchPage
from central.attendance import punch_import
from central.attendance.models import RecomputeJob
from central.ingest.selectors import event_queryset, punch_queryset
from central.people.importing import SAME, Table

router = Router(tags=["records 记录"])
PUNCH_FIELDS = ("id", "site", "device_id", "employee_number", "direction", "method", "score", "punched_at",
                "time_source", "original_punched_at", "received_at", "time_flag")
EVENT_FIELDS = ("id", "site", "device_id", "kind", "severity", "at", "payload", "received_at")
TIMES = ("punched_at", "original_punched_at", "received_at", "at")


def _stamped(row: dict) -> dict:
    row = {k: keyset.stamp(v) if k in TIMES else v for k, v in row.items()}
    if "payload" in row and not isinstance(row["payload"], dict):
        row["payload"] = {"value": row["payload"]}
    return row


@router.get("/punches", response={200: PunchPage, **ERRORS}, summary="打卡记录 / punches, oldest first")
def list_punches(request,
                 since: str | None = Query(None, max_length=40, description=f"打卡时间 ≥ since / punched at or after; {AGE}"),
                 until: str | None = Query(None, max_length=40, description=f"打卡时间 < until / punched before; {AGE}"),
                 employee: str | None = Query(None, pattern=NUMBER, description="工号 / employee number"),
                 device: str | None = Query(None, pattern=CODE, description="设备号 / device id"),
                 site: str | None = Query(None, pattern=CODE, description="站点代码 / site code"),
                 limit: int = limit_param(), cursor: str | None = cursor_param()):
    start, end = moment(since, "since"), moment(until, "until")
    if start and end and end <= start:
        raise ApiError(400, "until 必须晚于 since / until must be after since", "until")
    rows = punch_queryset(start, end, device, base=scope.punches(caller(request)), employee=employee, site=site)
    values = keyset.after_time(rows, cursor, "punched_at").values(*PUNCH_FIELDS)
    items, next_cursor = keyset.page(values, limit, lambda r: (keyset.stamp(r["punched_at"]), r["id"]))
    return {"items": [_stamped(r) for r in items], "next_cursor": next_cursor}


@router.post("/punches/import", response={200: PunchImportOut, 201: PunchImportOut, **ERRORS},
             summary="导入其他系统的打卡 / import punches from another system (HR)")
def import_punches(request, payload: PunchImportIn):
    """Punches from the clocks a company used before Seed, checked as the console's 导入打卡记录 checks a file: every
    punch of the employee within the caller's scope, not in the future, not older than 62 days, not in a closed
    month. While any is refused nothing is written (422, each refusal in ``errors`` as ``punches[i].field``); a
    punch already stored or repeated is left as it is. Written all at once (201) and the days they fall on
    recomputed; ``check``: what would be added (200), nothing written."""
    user = caller(request)
    scope.require_manage(user)
    table = Table([(i, {"number": x.employee, "at": x.at, "direction": x.direction or ""})
                   for i, x in enumerate(payload.punches)], ["number", "at", "direction"], [])
    try:
        if payload.check:
            checked = punch_import.plan(user, table)
            if not checked.ok:
                raise punch_import.PunchesRefused(checked)
            job = None
        else:
            done = punch_import.apply(user, table, source=f"api: {payload.source}", actor=user.username)
            checked, job = done.plan, done.recomputed if isinstance(done.recomputed, RecomputeJob) else None
    except punch_import.PunchesRefused as refused:
        fields = {"number": "employee", "at": "at", "direction": "direction"}
        errors = [{"field": f"punches[{row.line}].{fields.get(key, key)}", "message": message}
                  for row in refused.plan.rows for key, message in row.errors]
        raise ApiError(422, str(refused), errors[0]["field"], errors=errors[:1000]) from None
    body = {"checked_only": payload.check, "added": len(checked.punches), "unchanged": checked.count(SAME),
            "employees": len(checked.employees), "recompute_job": job.pk if job else None}
    return Status(200 if payload.check else 201, body)


@router.get("/events", response={200: EventPage, **ERRORS}, summary="设备事件 / terminal events, oldest first",
            description="如尾随、活体攻击、传感器故障 / e.g. tailgating, spoof attempts, a sensor lost")
def list_events(request,
                since: str | None = Query(None, max_length=40, description=f"事件时间 ≥ since / at or after; {AGE}"),
                device: str | None = Query(None, pattern=CODE, description="设备号 / device id"),
                kind: str | None = Query(None, max_length=64, pattern=TEXT, description="事件类型 / event kind"),
                limit: int = limit_param(), cursor: str | None = cursor_param()):
    start = moment(since, "since")
    rows = event_queryset(scope.events(caller(request)), since=start, device=device, kind=kind)
    values = keyset.after_time(rows, cursor, "at").values(*EVENT_FIELDS)
    items, next_cursor = keyset.page(values, limit, lambda r: (keyset.stamp(r["at"]), r["id"]))
    return {"items": [_stamped(r) for r in items], "next_cursor": next_cursor}
