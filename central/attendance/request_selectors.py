"""What the requests page reads: the leave, make-up punch and shift change requests and the overtime waiting for
approval of the employees a person sees (:mod:`central.accounts.scope`; a swap is seen by whoever sees either of its
two employees), the pending ones first. Nothing here writes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from central.accounts import scope
from central.accounts.models import AuditEntry
from central.attendance import overtime_limit
from central.attendance.models import (
    DailyRecord,
    LeaveRecord,
    LeaveType,
    MakeupPunch,
    OvertimeRequest,
    RequestEvidence,
    ShiftChange,
)
from central.attendance.overtime_limit import MonthOvertime
from central.attendance.selectors import zone_of
from central.attendance.services import DECIDED_OVERTIME
from central.people.models import Employee

if TYPE_CHECKING:
    from central.accounts.models import User

Kind = Literal["leave", "makeup", "overtime", "shift_change", "overtime_request"]
DECIDED_DAYS = 60  # decided requests shown this far back
MAX_ROWS = 200  # of each kind and state
OVERTIME_DECISIONS_READ = 5000  # the newest overtime decisions read from the audit log, before the scope narrows them


@dataclass(frozen=True)
class RequestRow:
    """One request as the page lists it; ``at`` is a make-up punch's local time at the employee's site."""
    kind: Kind
    pk: int
    employee: Employee
    state: str
    reason: str
    filed_at: datetime | None
    decided_by: str = ""
    decided_at: datetime | None = None
    leave: LeaveRecord | None = None
    at: datetime | None = None
    direction: str | None = None
    record: DailyRecord | None = None
    change: ShiftChange | None = None
    can_decide: bool = False
    can_withdraw: bool = False  # the person's own request, still waiting
    can_answer: bool = False  # a swap asked of the person, waiting for their answer
    evidence: str = ""  # the name of the evidence kept with it, if any
    month_overtime: MonthOvertime | None = None  # overtime's: the employee's counted overtime in the record's month
    asked: OvertimeRequest | None = None  # an overtime request (加班申请); for overtime, the day's approved one if any

    @property
    def in_lieu(self) -> bool:
        """Rest-day overtime: the one kind that may be approved as time off in lieu (调休)."""
        return self.record is not None and self.record.overtime_kind == "rest_day"


@dataclass(frozen=True)
class RequestsPage:
    pending: list[RequestRow]
    decided: list[RequestRow]
    can_decide: bool
    in_lieu: bool = False  # a leave type takes time off in lieu: rest-day overtime may be approved as such

    @property
    def offers_in_lieu(self) -> bool:
        """Whether the page offers time off in lieu: it may, and a pending rest-day overtime is there to take it."""
        return self.in_lieu and any(r.in_lieu for r in self.pending)

    @property
    def can_act(self) -> bool:
        """Whether the pending list needs its actions column: the person decides, may withdraw a request or answer
        a swap."""
        return self.can_decide or any(r.can_withdraw or r.can_answer for r in self.pending)


def requests_page(user: User, now: datetime | None = None) -> RequestsPage:
    """The requests ``user`` sees: pending ones (oldest first, what waits longest on top) and those decided in the
    last DECIDED_DAYS days (newest first). Each pending row says whether ``user`` may decide it."""
    now = now or timezone.now()
    staff = scope.employees(user).values("pk")
    deciding = scope.can_decide_requests(user)
    since = now - timedelta(days=DECIDED_DAYS)

    def mine(employee: Employee) -> bool:
        return user.employee_id is not None and employee.pk == user.employee_id

    def leave_row(x: LeaveRecord) -> RequestRow:
        return RequestRow("leave", x.pk, x.employee, x.state, x.reason, x.created_at, x.approved_by, x.approved_at,
                          leave=x, evidence=getattr(x, "evidence_name", None) or "",
                          can_decide=deciding and x.state == "pending" and not mine(x.employee),
                          can_withdraw=x.state == "pending" and mine(x.employee))

    def makeup_row(x: MakeupPunch) -> RequestRow:
        return RequestRow("makeup", x.pk, x.employee, x.state, x.reason, x.created_at, x.approved_by, x.approved_at,
                          at=timezone.localtime(x.at, zone_of(x.employee.site)).replace(tzinfo=None),
                          direction=x.direction, evidence=getattr(x, "evidence_name", None) or "",
                          can_decide=deciding and x.state == "pending" and not mine(x.employee),
                          can_withdraw=x.state == "pending" and mine(x.employee))

    def change_row(x: ShiftChange) -> RequestRow:
        partner_mine = x.partner_id is not None and x.partner_id == user.employee_id
        waiting = x.state == "pending"
        return RequestRow("shift_change", x.pk, x.employee, x.state, x.reason, x.created_at, x.approved_by,
                          x.approved_at, change=x,
                          can_decide=deciding and waiting and x.partner_answer != "asked" and not mine(x.employee)
                          and not partner_mine,
                          can_withdraw=waiting and mine(x.employee),
                          can_answer=waiting and partner_mine and x.partner_answer == "asked")

    def asked_row(x: OvertimeRequest) -> RequestRow:
        return RequestRow("overtime_request", x.pk, x.employee, x.state, x.reason, x.created_at, x.approved_by,
                          x.approved_at, asked=x,
                          can_decide=deciding and x.state == "pending" and not mine(x.employee),
                          can_withdraw=x.state == "pending" and mine(x.employee))

    related = ("employee", "employee__site", "employee__department")
    leaves = (LeaveRecord.objects.filter(employee__in=staff).select_related(*related, "leave_type")
              .annotate(evidence_name=Subquery(RequestEvidence.objects.filter(leave=OuterRef("pk")).values("name")[:1])))
    makeups = (MakeupPunch.objects.filter(employee__in=staff).select_related(*related)
               .annotate(evidence_name=Subquery(RequestEvidence.objects.filter(makeup=OuterRef("pk")).values("name")[:1])))
    changes = (ShiftChange.objects.filter(Q(employee__in=staff) | Q(partner__in=staff))
               .select_related(*related, "shift", "partner", "partner_shift"))
    asks = OvertimeRequest.objects.filter(employee__in=staff).select_related(*related)
    overtime = (DailyRecord.objects.filter(employee__in=staff, overtime_state="pending", overtime_min__gt=0)
                .select_related(*related).order_by("date", "employee__number")[:MAX_ROWS])
    pending = sorted(
        [leave_row(x) for x in leaves.filter(state="pending").order_by("created_at")[:MAX_ROWS]]
        + [makeup_row(x) for x in makeups.filter(state="pending").order_by("created_at")[:MAX_ROWS]]
        + [change_row(x) for x in changes.filter(state="pending").order_by("created_at")[:MAX_ROWS]]
        + [asked_row(x) for x in asks.filter(state="pending").order_by("created_at")[:MAX_ROWS]],
        key=lambda r: (r.filed_at or now, r.kind, r.pk))
    overtime_rows = list(overtime)
    months = overtime_limit.of_months((r.employee_id, r.date) for r in overtime_rows)
    approved = {(x.employee_id, x.date): x for x in OvertimeRequest.objects.filter(
        employee__in=[r.employee_id for r in overtime_rows], date__in={r.date for r in overtime_rows}, state="approved")}
    pending += [RequestRow("overtime", r.pk, r.employee, "pending", r.reason, None, record=r,
                           can_decide=deciding and not mine(r.employee), month_overtime=months[(r.employee_id, r.date)],
                           asked=approved.get((r.employee_id, r.date)))
                for r in overtime_rows]
    decided = sorted(
        [leave_row(x) for x in leaves.exclude(state="pending").filter(created_at__gte=since)
         .order_by("-created_at")[:MAX_ROWS]]
        + [makeup_row(x) for x in makeups.exclude(state="pending").filter(created_at__gte=since)
           .order_by("-created_at")[:MAX_ROWS]]
        + [change_row(x) for x in changes.exclude(state="pending").filter(created_at__gte=since)
           .order_by("-created_at")[:MAX_ROWS]]
        + [asked_row(x) for x in asks.exclude(state="pending").filter(created_at__gte=since)
           .order_by("-created_at")[:MAX_ROWS]]
        + _overtime_decided(staff, since),
        key=lambda r: r.decided_at or r.filed_at or now, reverse=True)
    return RequestsPage(pending, decided, deciding, LeaveType.objects.filter(in_lieu=True).exists())


def _overtime_decided(staff: QuerySet[Employee, Any], since: datetime) -> list[RequestRow]:
    """Overtime decided since ``since`` of ``staff``, as it stands: who decided it and when come from the audit log
    (a record keeps only its state); the latest decision of each record, and only while the record still says so
    (overtime whose minutes changed since waits again, among the pending)."""
    latest: dict[int, tuple[str, datetime]] = {}
    entries = (AuditEntry.objects.filter(action__in=[f"attendance.overtime_{s}" for s in DECIDED_OVERTIME], at__gte=since)
               .order_by("-seq").values_list("actor", "at", "detail")[:OVERTIME_DECISIONS_READ])
    for actor, at, detail in entries:
        pk = detail.get("id") if isinstance(detail, dict) else None
        if isinstance(pk, int) and pk not in latest:
            latest[pk] = (actor, at)
    records = (DailyRecord.objects.filter(employee__in=staff, pk__in=list(latest), overtime_state__in=DECIDED_OVERTIME)
               .select_related("employee", "employee__site", "employee__department"))
    return sorted((RequestRow("overtime", r.pk, r.employee, r.overtime_state, r.reason, None, latest[r.pk][0],
                              latest[r.pk][1], record=r) for r in records),
                  key=lambda row: row.decided_at or since, reverse=True)[:MAX_ROWS]


def find_request(user: User, kind: str,
                 pk: int | None) -> LeaveRecord | MakeupPunch | ShiftChange | OvertimeRequest | DailyRecord | None:
    """The request ``kind`` ``pk`` among the employees ``user`` sees (None: not there, or not theirs to see); a swap
    by either of its two employees."""
    if pk is None:
        return None
    staff = scope.employees(user).values("pk")
    if kind == "leave":
        return LeaveRecord.objects.filter(employee__in=staff, pk=pk).select_related("employee", "leave_type").first()
    if kind == "makeup":
        return MakeupPunch.objects.filter(employee__in=staff, pk=pk).select_related("employee").first()
    if kind == "overtime":
        return DailyRecord.objects.filter(employee__in=staff, pk=pk).select_related("employee").first()
    if kind == "overtime_request":
        return OvertimeRequest.objects.filter(employee__in=staff, pk=pk).select_related("employee").first()
    if kind == "shift_change":
        return (ShiftChange.objects.filter(Q(employee__in=staff) | Q(partner__in=staff), pk=pk)
                .select_related("employee", "partner", "shift", "partner_shift").first())
    return None


def swaps_asked(user: User) -> int:
    """Swaps (换班) a colleague asked of ``user``'s employee that wait for their answer."""
    if user.employee_id is None:
        return 0
    return ShiftChange.objects.filter(partner_id=user.employee_id, state="pending", partner_answer="asked").count()


def default_makeup_day(today: date | None = None) -> date:
    """The day a make-up form starts on: yesterday, the day a missed punch is most often noticed after."""
    return (today or timezone.localdate()) - timedelta(days=1)
