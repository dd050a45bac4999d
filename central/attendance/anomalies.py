"""Attendance anomalies in a date range, each with the state HR reads: what the exceptions list and
``GET /api/v1/attendance/exceptions`` show. Reads only; nothing here writes.

    anomalies(user, date(2026, 3, 1), date(2026, 3, 31), site="sh", kinds=("late",)) -> [Anomaly, ...]

**Kinds**

| kind | 中文 | from |
| --- | --- | --- |
| ``late`` | 迟到 | a daily record with ``late`` set; ``minutes`` = its late minutes |
| ``early`` | 早退 | a daily record with ``early`` set; ``minutes`` = its early minutes |
| ``absent`` | 缺勤 | a daily record whose status is ``absent`` |
| ``missing_out`` | 缺下班卡 | a daily record with ``missing_out`` set (an in punch and no out punch) |
| ``time_implausible`` | 打卡时间存疑 | a punch with a non-empty ``time_flag`` (no correct clock could have stamped it), |
|  |  | dated by its local day at its employee's site; ``first_in`` / ``last_out`` hold its time |

Records are read from the caller's employees (:func:`central.accounts.scope.employees`), punches
from the caller's punches (:func:`central.accounts.scope.punches`). A record's ``date`` is the day
its shift starts, the site's local day; times are the site's local wall times, naive.

**States** (one per anomaly, the first that applies):

| state | 中文 | when |
| --- | --- | --- |
| ``accepted`` | 已认可 | HR set the day's record by hand (``source == "manual"``; ``request_kind`` "manual", ``request_id`` |
|  |  | the record's id), or a late arrival the site lets go this month (人性化迟到; ``request_kind`` |
|  |  | "allowance", :mod:`central.attendance.late_allowance`), or an APPROVED leave covering that day, |
|  |  | or an APPROVED make-up punch on that day, exists and the anomaly is still there (the request was |
|  |  | approved, the record kept it) |
| ``explained`` | 已说明 | a PENDING leave covering that day, or a PENDING make-up punch on that day, exists: the employee |
|  |  | has explained it and HR has not decided yet |
| ``open`` | 待处理 | none of the above: nobody has explained it yet |

A make-up punch counts "on that day" when its local date is the record's date, or the next day for
an out punch (``direction == "out"``, the end of a night shift) explaining a ``missing_out`` or
``early`` record. Rejected requests explain nothing. Approved requests win over pending ones, leave
over make-up punches, the older request (lowest id) over a newer one.

The work is four queries whatever the range: the records, the flagged punches (with their
employees), the leave overlapping the range and the make-up punches in it; rows are matched in memory.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from central.accounts import scope
from central.attendance import late_allowance
from central.attendance.inputs import zone_named
from central.attendance.models import DailyRecord, LeaveRecord, MakeupPunch
from central.people.models import Employee

if TYPE_CHECKING:
    from central.accounts.models import User

log = logging.getLogger(__name__)

Kind = Literal["late", "early", "absent", "missing_out", "time_implausible"]
State = Literal["open", "explained", "accepted"]
RequestKind = Literal["", "leave", "makeup", "manual", "allowance"]
KINDS: tuple[Kind, ...] = ("late", "early", "absent", "missing_out", "time_implausible")
STATES: tuple[State, ...] = ("open", "explained", "accepted")
KIND_LABELS: dict[str, str] = {
    "late": "迟到 Late", "early": "早退 Left early", "absent": "缺勤 Absent", "missing_out": "缺下班卡 Missing out punch",
    "time_implausible": "打卡时间存疑 Implausible punch time",
}
STATE_LABELS: dict[str, str] = {"open": "待处理 Open", "explained": "已说明 Explained", "accepted": "已认可 Accepted"}
REQUEST_LABELS: dict[str, str] = {"": "", "leave": "请假 Leave", "makeup": "补卡 Make-up punch", "manual": "手工记录 Manual record",
                                  "allowance": "每月宽限 Let go this month"}
_RECORD_KINDS: tuple[Kind, ...] = ("late", "early", "absent", "missing_out")


@dataclass(frozen=True)
class Anomaly:
    number: str  # employee number
    name: str
    site: str  # site code
    department: str  # department name, "" when none
    date: date  # the record's date (the day its shift starts), the site's local day
    shift: str  # shift name, "" when none (or for a punch)
    kind: Kind
    minutes: int  # late / early minutes; 0 for the other kinds
    state: State
    request_kind: RequestKind  # what explains or accepts it: "leave", "makeup", "manual", "allowance" or ""
    request_id: int | None  # the LeaveRecord / MakeupPunch / DailyRecord id, None when ``request_kind`` is ""
    final: bool  # the record is final (False for a punch)
    first_in: datetime | None  # site local, naive; for a punch: its time when it is an in punch
    last_out: datetime | None  # site local, naive; for a punch: its time when it is an out punch
    detail: str = ""  # a punch's time flag (before_floor, ahead …), its id after a space; "" for records

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment.astimezone(zone).replace(tzinfo=None) if moment is not None else None




class _Requests:
    """The leave and make-up punches of the staff around the range, matched to (employee, day) in memory."""

    def __init__(self, staff: QuerySet[Employee], first: date, last: date, zones: dict[int, ZoneInfo]):
        self.leave: dict[int, list[tuple[date, date, str, int]]] = defaultdict(list)
        self.makeup: dict[tuple[int, date], list[tuple[str, str, int]]] = defaultdict(list)
        leaves = LeaveRecord.objects.filter(employee__in=staff.values("pk"), start__lte=last, end__gte=first,
                                            state__in=("pending", "approved")).order_by("pk")
        for emp, start, end, state, pk in leaves.values_list("employee_id", "start", "end", "state", "pk"):
            self.leave[emp].append((start, end, state, pk))
        low = datetime.combine(first - timedelta(days=1), time.min, tzinfo=ZoneInfo("UTC"))
        high = datetime.combine(last + timedelta(days=3), time.min, tzinfo=ZoneInfo("UTC"))
        makeups = MakeupPunch.objects.filter(employee__in=staff.values("pk"), at__gte=low, at__lt=high,
                                             state__in=("pending", "approved")).order_by("pk")
        for emp, at, direction, state, pk in makeups.values_list("employee_id", "at", "direction", "state", "pk"):
            day = at.astimezone(zones.get(emp, ZoneInfo("UTC"))).date()
            self.makeup[(emp, day)].append((direction or "", state, pk))

    def state(self, emp: int, day: date, kind: str) -> tuple[State, RequestKind, int | None]:
        found: dict[str, tuple[RequestKind, int]] = {}
        for start, end, state, pk in self.leave.get(emp, ()):
            if start <= day <= end:
                found.setdefault(state, ("leave", pk))
        candidates = list(self.makeup.get((emp, day), ()))
        if kind in ("missing_out", "early"):
            candidates += [m for m in self.makeup.get((emp, day + timedelta(days=1)), ()) if m[0] == "out"]
        for _direction, state, pk in sorted(candidates, key=lambda m: m[2]):
            found.setdefault(state, ("makeup", pk))
        if "approved" in found:
            return ("accepted", *found["approved"])
        if "pending" in found:
            return ("explained", *found["pending"])
        return "open", "", None


def _record_kinds(row: dict) -> list[tuple[Kind, int]]:
    found: list[tuple[Kind, int]] = []
    if row["late"]:
        found.append(("late", row["late_min"]))
    if row["early"]:
        found.append(("early", row["early_min"]))
    if row["status"] == "absent":
        found.append(("absent", 0))
    if row["missing_out"]:
        found.append(("missing_out", 0))
    return found


RECORD_FIELDS = ("pk", "employee_id", "employee__number", "employee__name", "employee__site_id", "employee__site__code",
                 "employee__site__time_zone", "employee__department__name", "date", "shift_name", "status", "source",
                 "late", "early", "late_min", "early_min", "missing_out", "final", "first_in", "last_out")


def anomalies(user: User, first: date, last: date, *, site: str = "", department: str = "", employee: str = "",
              kinds: Iterable[str] = (), states: Iterable[str] = ()) -> list[Anomaly]:
    """Every anomaly from ``first`` to ``last`` (inclusive, local days) within the caller's scope, ordered by
    date, site, employee number, shift and kind. ``kinds`` / ``states`` narrow the answer (empty: all)."""
    wanted_kinds = set(kinds) or set(KINDS)
    wanted_states = set(states) or set(STATES)
    staff = scope.employees_in(user, site, department, employee)
    found: list[Anomaly] = []
    zones: dict[int, ZoneInfo] = {}
    record_rows: list[dict] = []
    if wanted_kinds & set(_RECORD_KINDS):
        flagged = Q(late=True) | Q(early=True) | Q(status="absent") | Q(missing_out=True)
        record_rows = list(DailyRecord.objects.filter(flagged, employee__in=staff.values("pk"), date__gte=first,
                                                      date__lte=last).values(*RECORD_FIELDS))
        for row in record_rows:
            zones[row["employee_id"]] = zone_named(row["employee__site__time_zone"])
    punch_rows: list[tuple[dict, Employee]] = []
    if "time_implausible" in wanted_kinds:
        punch_rows = _flagged_punches(user, staff, first, last)
        for _punch, person in punch_rows:
            zones[person.pk] = zone_named(person.site.time_zone)
    requests = _Requests(staff, first, last, zones)
    let_go = late_allowance.let_go_of({row["employee_id"]: row["employee__site_id"] for row in record_rows if row["late"]},
                                      first, last)
    manual_days = {(row["employee_id"], row["date"]): row["pk"] for row in record_rows if row["source"] == "manual"}
    if punch_rows:  # a day HR entered by hand accepts a doubtful punch on it too
        manual_days |= {(emp, day): pk for pk, emp, day in DailyRecord.objects.filter(
            employee__in=staff.values("pk"), date__gte=first, date__lte=last, source="manual").values_list(
            "pk", "employee_id", "date")}
    for row in record_rows:
        zone = zones[row["employee_id"]]
        for kind, minutes in _record_kinds(row):
            if kind not in wanted_kinds:
                continue
            if row["source"] == "manual":
                state: State
                request: RequestKind
                state, request, request_id = "accepted", "manual", row["pk"]
            elif kind == "late" and (row["date"], row["shift_name"]) in let_go.get(row["employee_id"], ()):
                state, request, request_id = "accepted", "allowance", None
            else:
                state, request, request_id = requests.state(row["employee_id"], row["date"], kind)
            if state not in wanted_states:
                continue
            found.append(Anomaly(
                number=row["employee__number"], name=row["employee__name"], site=row["employee__site__code"],
                department=row["employee__department__name"] or "", date=row["date"], shift=row["shift_name"],
                kind=kind, minutes=minutes, state=state, request_kind=request, request_id=request_id,
                final=row["final"], first_in=_local(row["first_in"], zone), last_out=_local(row["last_out"], zone)))
    for punch, person in punch_rows:
        zone = zones[person.pk]
        moment = _local(punch["punched_at"], zone)
        assert moment is not None
        day = moment.date()
        if (person.pk, day) in manual_days:
            state, request, request_id = "accepted", "manual", manual_days[(person.pk, day)]
        else:
            state, request, request_id = requests.state(person.pk, day, "time_implausible")
        if state not in wanted_states:
            continue
        found.append(Anomaly(
            number=person.number, name=person.name, site=person.site.code,
            department=person.department.name if person.department else "", date=day, shift="",
            kind="time_implausible", minutes=0, state=state, request_kind=request, request_id=request_id, final=False,
            first_in=moment if punch["direction"] != "out" else None, last_out=moment if punch["direction"] == "out" else None,
            detail=f"{punch['time_flag']} {punch['id']}"))
    order = {kind: i for i, kind in enumerate(KINDS)}
    found.sort(key=lambda a: (a.date, a.site, a.number, a.shift, order[a.kind], a.detail))
    return found


def _flagged_punches(user: User, staff: QuerySet[Employee], first: date, last: date) -> list[tuple[dict, Employee]]:
    """Flagged punches of the caller's scope whose employee is one of ``staff``, on a local day in the range."""
    low = datetime.combine(first - timedelta(days=1), time.min, tzinfo=ZoneInfo("UTC"))
    high = datetime.combine(last + timedelta(days=2), time.min, tzinfo=ZoneInfo("UTC"))
    rows = list(scope.punches(user).exclude(time_flag="").filter(
        punched_at__gte=low, punched_at__lt=high, employee_number__in=staff.values("number")).values(
        "id", "employee_number", "punched_at", "direction", "time_flag"))
    if not rows:
        return []
    people = {e.number: e for e in staff.filter(number__in={r["employee_number"] for r in rows}).select_related(
        "site", "department").only("pk", "number", "name", "site__code", "site__time_zone", "department__name")}
    kept: list[tuple[dict, Employee]] = []
    for row in rows:
        person = people.get(row["employee_number"])
        if person is None:
            continue
        day = row["punched_at"].astimezone(zone_named(person.site.time_zone)).date()
        if first <= day <= last:
            kept.append((dict(row), person))
    return kept
