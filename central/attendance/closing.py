"""Closing a month (月结): the numbers HR signs and payroll pays stay as they were signed.

HR closes one site's month once it is over, every day of it is final (every terminal of the site reported its
outbox empty after the month's last window, or the site's maximum wait ran out) and no leave, make-up punch or
overtime on it waits for a decision. From then on:

* the rules no longer write the month's records: what a recompute would change there (punches of a terminal that
  came back after the wait ran out, a shift edited later) is kept on the month as ``held``, one line per employee,
  date and shift, so HR sees what reopening would change (:func:`hold`);
* leave, make-up punches and overtime decisions on its days, and records entered by hand, are refused with the
  month named (:func:`require_open`);
* reopening (with a reason, audited) deletes the mark and queues the month's recompute, which writes what was held.

Leave already approved keeps its records in a closed month: a roster changed later does not move them.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone as dj_timezone

from central.accounts import audit, scope
from central.attendance import confirmations, late_allowance
from central.attendance import engine as e
from central.attendance.errors import AttendanceError
from central.attendance.inputs import Rules, load_rules, local, zone_named
from central.attendance.models import (
    ClosedMonth,
    DailyRecord,
    LeaveRecord,
    MakeupPunch,
    OvertimeRequest,
    RecomputeJob,
    ShiftChange,
)
from central.attendance.selectors import month_end
from central.people.models import Employee, Site
from central.webhooks import events as webhook_events

log = logging.getLogger(__name__)
HELD_KEPT = 1000  # lines of ``held`` kept on a month; past it the page says "at least"
MONTHS_SHOWN = 6
# what may differ on a closed day without HR being told: how the day became final (every terminal, or the wait), and
# which punch ids the same result was read from (a punch delivered twice)
UNPAID_COLUMNS = frozenset({"final", "closed_by_timeout", "punch_ids"})


class MonthClosed(AttendanceError):
    """A change on a day of a closed month."""


def first_of(day: date) -> date:
    return day.replace(day=1)


def month_text(month: date) -> tuple[str, str]:
    """A month as people read it: ("2026年11月", "November 2026")."""
    return f"{month.year}年{month.month}月", f"{month:%B %Y}"


# -- what the rules found after closing ------------------------------------------------------------------
@dataclass(frozen=True)
class Held:
    """A change the rules would make on a day of a closed month: ``old`` becomes ``new`` (None: no record)."""
    site_id: int
    employee: str
    date: date
    shift: str
    old: e.Record | None
    new: e.Record | None

    def line(self) -> dict[str, Any]:
        return {"employee": self.employee, "date": self.date.isoformat(), "shift": self.shift,
                "from": self.old.status if self.old else None, "to": self.new.status if self.new else None,
                "hours_from": str(self.old.hours) if self.old else None,
                "hours_to": str(self.new.hours) if self.new else None,
                "overtime_from": self.old.overtime_min if self.old else None,
                "overtime_to": self.new.overtime_min if self.new else None}


def hold(held: Sequence[Held]) -> None:
    """Keep ``held`` on their months, in the writer's transaction (the latest line for an employee, date and shift
    replaces an earlier one). A month reopened meanwhile has no row: its queued recompute writes the change."""
    months: dict[tuple[int, date], list[Held]] = {}
    for h in held:
        months.setdefault((h.site_id, first_of(h.date)), []).append(h)
    for (site_id, month), lines in sorted(months.items()):
        row = (ClosedMonth.objects.select_for_update().filter(site_id=site_id, month=month)
               .values_list("pk", "held").first())
        if row is None:
            continue
        pk, kept = row
        merged = {(x["employee"], x["date"], x["shift"]): x for x in kept or []}
        for h in lines:
            key = (h.employee, h.date.isoformat(), h.shift)
            if key in merged or len(merged) < HELD_KEPT:
                merged[key] = h.line()
        ClosedMonth.objects.filter(pk=pk).update(held=sorted(merged.values(), key=lambda x: (x["date"], x["employee"],
                                                                                             x["shift"])))
        log.info("site %s: %s changes held on the closed month %s", site_id, len(lines), month)


class ClosedMeanwhile(Exception):
    """A month of the sites being written was closed (or reopened) after their closed months were read."""


def closed_months_of(site_ids: Iterable[int]) -> dict[int, frozenset[date]]:
    """Each of these sites' closed months (their first days); a site without any is left out."""
    found: dict[int, set[date]] = {}
    for site_id, month in ClosedMonth.objects.filter(site_id__in=list(site_ids)).values_list("site_id", "month"):
        found.setdefault(site_id, set()).add(month)
    return {site_id: frozenset(months) for site_id, months in found.items()}


# -- refusing changes on closed days -----------------------------------------------------------------------
def closed_between(site_id: int | None, first: date, last: date) -> list[date]:
    """The first days of the site's closed months among ``first``..``last``."""
    if site_id is None:
        return []
    return list(ClosedMonth.objects.filter(site_id=site_id, month__gte=first_of(first), month__lte=last)
                .order_by("month").values_list("month", flat=True))


def require_open(employee: Employee, first: date, last: date | None = None) -> None:
    """Refuse (:class:`MonthClosed`) a change of ``employee``'s days ``first``..``last`` when one of them lies in a
    month closed at the employee's site."""
    closed = closed_between(employee.site_id, first, last or first)
    if closed:
        zh, en = month_text(closed[0])
        raise MonthClosed(f"{zh}已月结，不能再改这个月的考勤；请人事先重新开放 / {en} is closed: its attendance cannot "
                          "change until HR reopens it")


def require_open_at(employee: Employee, at: datetime) -> None:
    """:func:`require_open` for the local day of the instant ``at`` at the employee's site."""
    require_open(employee, local(at, zone_named(employee.site.time_zone)).date())


# -- whether a month can be closed -------------------------------------------------------------------------
@dataclass
class Readiness:
    """What stands between one site's month and its closing (or its closing, once closed)."""
    site: Site
    month: date
    closed: ClosedMonth | None
    ended: bool = False
    final: bool = False  # the site's finality has passed the month's last window
    provisional: int = 0  # records still provisional
    pending: dict[str, int] = field(default_factory=dict)  # leave, makeup, overtime, shift changes, asked overtime
    recomputing: int = 0  # queued or running recomputes reaching into the month (a reopening's, an edit's)
    staff: int = 0  # employees with records in the month
    confirmed: int = 0  # of them, those who confirmed it (考勤确认)
    disputed: int = 0  # disputes waiting for HR's answer

    @property
    def last(self) -> date:
        return month_end(self.month)

    @property
    def label(self) -> str:
        zh, en = month_text(self.month)
        return f"{zh} {en}"

    @property
    def blockers(self) -> list[str]:
        """Why it cannot be closed yet, one sentence each (empty: it can)."""
        if self.closed is not None:
            return []
        if not self.ended:
            return ["这个月还没过完 / The month is not over yet"]
        found = []
        if not self.final:
            found.append("还有终端未上报完这个月的打卡，且未到最长等待 / Not every terminal has reported this month's "
                         "punches, and the maximum wait has not run out")
        if self.recomputing:
            found.append("这个月的重新计算还没完成 / This month is still being recomputed")
        if self.disputed:
            found.append(f"{self.disputed} 位员工对这个月的考勤有异议，待人事答复 / {self.disputed} employees dispute "
                         "their attendance for this month and wait for HR's answer")
        if self.provisional:
            found.append(f"{self.provisional} 条记录仍为暂定 / {self.provisional} records are still provisional")
        words = {"leave": ("请假", "leave"), "makeup": ("补卡", "make-up punches"), "overtime": ("加班", "overtime"),
                 "shift_change": ("调班", "shift changes"), "overtime_request": ("加班申请", "overtime requests")}
        for kind, count in self.pending.items():
            if count:
                zh, en = words[kind]
                found.append(f"{count} 条{zh}待审批 / {count} {en} waiting for a decision")
        return found

    @property
    def ready(self) -> bool:
        return self.closed is None and not self.blockers


def _month_bounds(month: date, site: Site, rules: Rules) -> tuple[datetime, datetime]:
    """The month's first and last instants at the site, as aware datetimes."""
    zone = rules.zone(site.pk)
    return (datetime.combine(month, time(), zone), datetime.combine(month_end(month) + timedelta(days=1), time(), zone))


def readiness(site: Site, month: date, *, now: datetime | None = None, rules: Rules | None = None) -> Readiness:
    now = now or dj_timezone.now()
    rules = rules or load_rules(now)
    month = first_of(month)
    closed = ClosedMonth.objects.filter(site=site, month=month).first()
    found = Readiness(site, month, closed)
    today = local(now, rules.zone(site.pk)).date()
    found.ended = today > found.last
    if found.ended:
        said = confirmations.tally(site, month, found.last)
        found.staff, found.confirmed, found.disputed = said.staff, said.confirmed, said.disputed
    if closed is not None or not found.ended:
        return found
    fin = rules.finality.get(site.pk, e.Finality())
    frontier = max([x for x in (fin.reported_until, fin.timeout_until) if x is not None], default=None)
    needed = e.reach(e.Schedule(rules.shifts), found.last, found.last)[1]
    found.final = frontier is not None and frontier > needed
    days = DailyRecord.objects.filter(employee__site=site, date__range=(month, found.last))
    found.provisional = days.filter(final=False).count()
    found.recomputing = RecomputeJob.objects.filter(state__in=(RecomputeJob.PENDING, RecomputeJob.RUNNING),
                                                    first__lte=found.last, last__gte=month).count()
    start, end = _month_bounds(month, site, rules)
    found.pending = {
        "leave": LeaveRecord.objects.filter(employee__site=site, state="pending", start__lte=found.last,
                                            end__gte=month).count(),
        "makeup": MakeupPunch.objects.filter(employee__site=site, state="pending", at__gte=start, at__lt=end).count(),
        "overtime": days.filter(overtime_state="pending", overtime_min__gt=0).count(),
        "shift_change": ShiftChange.objects.filter(Q(employee__site=site) | Q(partner__site=site), state="pending",
                                                   start__lte=found.last, end__gte=month).count(),
        "overtime_request": OvertimeRequest.objects.filter(employee__site=site, state="pending",
                                                           date__range=(month, found.last)).count()}
    return found


def recent_months(site: Site, *, now: datetime | None = None, count: int = MONTHS_SHOWN) -> list[Readiness]:
    """The site's month in progress and the ``count`` - 1 before it, newest first, each with what it waits for."""
    now = now or dj_timezone.now()
    rules = load_rules(now)
    month = first_of(local(now, rules.zone(site.pk)).date())
    found = []
    for _ in range(count):
        found.append(readiness(site, month, now=now, rules=rules))
        month = first_of(month - timedelta(days=1))
    return found


# -- closing and reopening ----------------------------------------------------------------------------------
def _require_site(user: Any, site: Site) -> None:
    try:
        scope.check_site_allowed(user, site)
    except scope.ScopeDenied as exc:
        raise AttendanceError(f"不能为 {site} 月结 / You cannot close months of {site}") from exc


def close_month(user: Any, site: Site, month: date, *, note: str = "", now: datetime | None = None) -> ClosedMonth:
    """Close ``site``'s ``month`` (its first day or any day of it); refused with every reason it cannot be yet."""
    _require_site(user, site)
    with transaction.atomic():
        Site.objects.select_for_update().filter(pk=site.pk).first()  # two people closing at once: one after the other
        state = readiness(site, month, now=now)
        if state.closed is not None:
            raise AttendanceError(f"{state.label} 已于 {dj_timezone.localtime(state.closed.closed_at):%Y-%m-%d %H:%M} "
                                  f"月结 / was already closed by {state.closed.closed_by}")
        if state.blockers:
            raise AttendanceError(f"{state.label} 还不能月结 / cannot be closed yet: " + "；".join(state.blockers))
        kept = late_allowance.allowances([site.pk]).get(site.pk)
        row = ClosedMonth.objects.create(site=site, month=state.month, closed_by=user.username[:150],
                                         note=note.strip()[:500],
                                         late_allowance=[kept.times, kept.max_min] if kept else [])
        records = DailyRecord.objects.filter(employee__site=site, date__range=(state.month, state.last)).count()
        audit.record(user.username, "attendance.month_closed", f"{site.code} {state.month:%Y-%m}",
                     {"records": records, "note": row.note})
        webhook_events.month_changed("month.closed", site.code, site.pk, row.month, row.closed_by, row.closed_at,
                                     {"records": records, "note": row.note})
    log.info("site %s: %s closed", site.code, state.month)
    return row


def reopen_month(user: Any, site: Site, month: date, *, reason: str) -> RecomputeJob:
    """Reopen a closed month (with a reason: the audit log keeps it, and how many held changes it lets in) and queue
    its recompute for the site's employees; the job is returned (the console shows its progress)."""
    _require_site(user, site)
    reason = reason.strip()
    if not reason:
        raise AttendanceError("请填写重新开放的原因 / A reason for reopening is required", "reason")
    month = first_of(month)
    with transaction.atomic():
        row = ClosedMonth.objects.select_for_update().filter(site=site, month=month).first()
        if row is None:
            zh, en = month_text(month)
            raise AttendanceError(f"{zh}没有月结 / {en} is not closed")
        held = len(row.held or [])
        row.delete()
        ids = list(Employee.objects.filter(site=site).order_by("pk").values_list("pk", flat=True))
        job = RecomputeJob.objects.create(actor=user.username[:150], first=month, last=month_end(month), employees=ids,
                                          total=len(ids),
                                          reason=f"重新开放 {month:%Y-%m} / {month:%Y-%m} reopened: {reason}"[:200])
        audit.record(user.username, "attendance.month_reopened", f"{site.code} {month:%Y-%m}",
                     {"reason": reason[:200], "held": held, "job": job.pk})
        webhook_events.month_changed("month.reopened", site.code, site.pk, month, user.username[:150],
                                     dj_timezone.now(), {"reason": reason[:200], "held_changes": held})
    log.info("site %s: %s reopened, recompute job %s queued", site.code, month, job.pk)
    return job
