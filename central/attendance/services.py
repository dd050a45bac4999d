"""Writes of the attendance side: recompute daily records, follow new punches and finality, manual records.

* :func:`recompute` runs the engine for employees over a date range, in chunks, and writes back only
  what changed (a computed record is replaced, a record a person entered is kept, a half-day leave
  updated in place). A record that was final and changes is written to the audit log.
* :class:`Follower` is the incremental side: it reads punches by arrival time (``received_at``, so
  nothing is lost when the receiver restarts: the watermark is stored) and recomputes only the
  touched employees' days; it also notices when a site's days become final.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone as dj_timezone

from central.accounts import audit
from central.attendance import engine as e
from central.attendance.inputs import EmployeeInput, Rules, aware, employees_touched, load_employees, load_rules, local
from central.attendance.models import DailyRecord, ShiftType
from central.ingest.models import Punch, State
from central.people.models import Employee, Site

log = logging.getLogger(__name__)
CHUNK = 500
WATERMARK_KEY = "attendance.received_until"
FRONTIER_KEY = "attendance.final_until.{site}"
LATE_COMMIT_S = 10.0  # a batch's received_at is taken before its commit: look back this far for late commits
Progress = Callable[[int, int], None]

# the fields a computed record is compared on to decide whether it changed
COMPARED = ("status", "source", "half_day", "hours", "late", "early", "late_min", "early_min", "overtime_min",
            "overtime_kind", "overtime_state", "first_in", "last_out", "other_half", "missing_out", "day_kind", "final",
            "closed_by_timeout", "punch_ids")


class AttendanceError(ValueError):
    """A request the attendance side refuses, with a message for a person (Chinese first)."""


@dataclass
class Outcome:
    employees: int = 0
    records: int = 0
    written: int = 0
    deleted: int = 0
    changed_final: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.employees += other.employees
        self.records += other.records
        self.written += other.written
        self.deleted += other.deleted
        self.changed_final.extend(other.changed_final)


def _row_values(rec: e.Record, zone: Any) -> dict[str, Any]:
    return {"date": rec.date, "shift_name": rec.shift or "", "status": rec.status, "source": rec.source,
            "half_day": rec.half_day, "hours": rec.hours, "late": rec.late, "early": rec.early,
            "late_min": rec.late_min, "early_min": rec.early_min, "overtime_min": rec.overtime_min,
            "overtime_kind": rec.overtime_kind, "overtime_state": rec.overtime_state,
            "first_in": aware(rec.first_in, zone), "last_out": aware(rec.last_out, zone), "other_half": rec.other_half,
            "missing_out": rec.missing_out, "day_kind": rec.day_kind, "final": rec.final,
            "closed_by_timeout": rec.closed_by_timeout, "punch_ids": list(rec.punch_ids)}


def _same(old: e.Record, new: e.Record) -> bool:
    return all(getattr(old, name) == getattr(new, name) for name in COMPARED)


def _keep_approval(old: e.Record | None, new: e.Record) -> e.Record:
    """Overtime a person approved stays approved while its minutes do not change."""
    if (old is not None and old.overtime_state == "approved" and new.overtime_state == "pending"
            and old.overtime_min == new.overtime_min):
        from dataclasses import replace

        return replace(new, overtime_state="approved")
    return new


Before = dict[tuple[date, str], tuple[int | None, e.Record]]


def _run_one(rules: Rules, item: EmployeeInput, first: date, last: date) -> tuple[list[e.Record], Before]:
    finality = rules.finality.get(item.site_id, e.Finality())
    result = e.evaluate(item.schedule, item.person, item.punches, [r for _, r in item.records], first=first, last=last,
                        finality=finality)
    before = {(r.date, r.shift or ""): (pk, r) for pk, r in item.records}
    return result.records, before


def _write_chunk(rules: Rules, items: list[EmployeeInput], first: date, last: date) -> Outcome:
    outcome = Outcome(employees=len(items))
    delete_ids: list[int] = []
    create: list[DailyRecord] = []
    for item in items:
        zone = rules.zone(item.site_id)
        records, before = _run_one(rules, item, first, last)
        outcome.records += len(records)
        seen: set[tuple[date, str]] = set()
        for rec in records:
            if not first <= rec.date <= last:
                continue
            key = (rec.date, rec.shift or "")
            seen.add(key)
            pk, old = before.get(key, (None, None))
            if old is None and rec.half_day:  # a half-day leave entered without a shift took this occurrence's
                pk, old = before.get((rec.date, ""), (None, None))
                seen.add((rec.date, ""))
            rec = _keep_approval(old, rec)
            if old is not None and _same(old, rec):
                continue
            if old is not None and pk is not None:
                delete_ids.append(pk)
                if old.final and (old.status != rec.status or old.hours != rec.hours or old.other_half != rec.other_half):
                    outcome.changed_final.append({"employee": item.number, "date": rec.date.isoformat(), "shift": rec.shift,
                                                  "from": old.status, "to": rec.status, "hours_from": str(old.hours),
                                                  "hours_to": str(rec.hours)})
            create.append(DailyRecord(employee_id=item.employee_id, **_row_values(rec, zone)))
        for key, (pk, old) in before.items():
            if key not in seen and old.computed and pk is not None:
                delete_ids.append(pk)  # the schedule no longer has this occurrence
                outcome.deleted += 1
    if delete_ids or create:
        with transaction.atomic():
            carried = _carried(delete_ids, create)
            for i in range(0, len(delete_ids), 900):
                DailyRecord.objects.filter(pk__in=delete_ids[i:i + 900]).delete()
            for row in create:
                row.reason, row.created_by, row.leave_type_id = carried.get((row.employee_id, row.date, row.shift_name),
                                                                            ("", "", None))
            DailyRecord.objects.bulk_create(create, batch_size=2000)
    outcome.written = len(create)
    return outcome


def _carried(delete_ids: list[int], create: list[DailyRecord]) -> dict[tuple[int, date, str], tuple[str, str, int | None]]:
    """What a person wrote on a record (reason, who, leave type) carries over when the engine updates it."""
    if not delete_ids:
        return {}
    wanted = {(r.employee_id, r.date) for r in create if r.source in ("manual", "leave")}
    if not wanted:
        return {}
    carried: dict[tuple[int, date, str], tuple[str, str, int | None]] = {}
    for i in range(0, len(delete_ids), 900):
        for row in DailyRecord.objects.filter(pk__in=delete_ids[i:i + 900]).exclude(source__in=("punches", "absent", "exempt")):
            value = (row.reason, row.created_by, row.leave_type_id)
            carried[(row.employee_id, row.date, row.shift_name)] = value
            for new in create:  # a half-day leave entered without a shift now carries one
                if (new.employee_id, new.date) == (row.employee_id, row.date) and new.half_day:
                    carried[(new.employee_id, new.date, new.shift_name)] = value
    return carried


def recompute(first: date, last: date, *, employees: QuerySet[Employee] | None = None, now: datetime | None = None,
              progress: Progress | None = None, actor: str = "", rules: Rules | None = None) -> Outcome:
    """Recompute every record dated ``first``..``last`` of ``employees`` (default: all). Idempotent."""
    if last < first:
        raise AttendanceError("结束日期早于开始日期 / The end date is before the start date")
    now = now or dj_timezone.now()
    rules = rules or load_rules(now)
    query = (employees if employees is not None else Employee.objects.all()).order_by("pk")
    ids = list(query.values_list("pk", flat=True))
    total = len(ids)
    outcome = Outcome()
    for i in range(0, total, CHUNK):
        chunk = list(Employee.objects.filter(pk__in=ids[i:i + CHUNK]).order_by("pk"))
        outcome.add(_write_chunk(rules, load_employees(rules, chunk, first, last), first, last))
        if progress:
            progress(min(i + CHUNK, total), total)
    if progress and not total:
        progress(0, 0)
    _audit_changes(outcome, actor or "system:attendance", summary={"from": first.isoformat(), "to": last.isoformat(),
                                                                   "employees": total} if actor else None)
    return outcome


def recompute_spans(spans: dict[str, tuple[date, date]], *, now: datetime, rules: Rules | None = None,
                    actor: str = "system:attendance") -> Outcome:
    """Recompute each employee (by number) over their own span; employees sharing a span go together."""
    rules = rules or load_rules(now)
    groups: dict[tuple[date, date], list[str]] = {}
    for number, span in spans.items():
        groups.setdefault(span, []).append(number)
    outcome = Outcome()
    for (first, last), numbers in sorted(groups.items()):
        for i in range(0, len(numbers), CHUNK):
            chunk = list(Employee.objects.filter(number__in=numbers[i:i + CHUNK]).order_by("pk"))
            outcome.add(_write_chunk(rules, load_employees(rules, chunk, first, last), first, last))
    _audit_changes(outcome, actor)
    return outcome


def _audit_changes(outcome: Outcome, actor: str, summary: dict[str, Any] | None = None) -> None:
    """Final records that changed are evidence: one audit entry each (a person's bulk run: one summary)."""
    if summary is not None:
        audit.record(actor, "attendance.recompute", f"{summary['from']}..{summary['to']}",
                     {**summary, "written": outcome.written, "final_changed": len(outcome.changed_final)})
        return
    for change in outcome.changed_final[:1000]:
        audit.record(actor, "attendance.record_changed", f"{change['employee']} {change['date']}", change)
    if len(outcome.changed_final) > 1000:
        audit.record(actor, "attendance.record_changed", "…", {"more": len(outcome.changed_final) - 1000})


# -- incremental: new punches and finality ---------------------------------------------------------------
class Follower:
    """Keeps daily records current as punches arrive and as days become final. ``tick()`` does one pass."""

    def __init__(self) -> None:
        self._recent: dict[str, datetime] = {}  # punch ids already handled inside the look-back window

    def tick(self, now: datetime | None = None) -> Outcome:
        now = now or dj_timezone.now()
        rules = load_rules(now)
        outcome = self.new_punches(rules, now)
        outcome.add(self.finality(rules, now))
        return outcome

    def new_punches(self, rules: Rules, now: datetime) -> Outcome:
        mark = _get_state(WATERMARK_KEY)
        rows = Punch.objects.all()
        if mark is not None:
            rows = rows.filter(received_at__gt=mark - timedelta(seconds=LATE_COMMIT_S))
        found = [(pid, number, at, received) for pid, number, at, received in
                 rows.values_list("id", "employee_number", "punched_at", "received_at").iterator(chunk_size=5000)
                 if pid not in self._recent]
        if not found:
            return Outcome()
        zones = dict(Employee.objects.filter(number__in={r[1] for r in found}).values_list("number", "site_id"))
        spans = employees_touched([(number, at) for _, number, at, _ in found if number in zones],
                                  {n: rules.zone(site) for n, site in zones.items()})
        outcome = recompute_spans(spans, now=now, rules=rules)
        newest = max(r[3] for r in found)
        if mark is None or newest > mark:
            _set_state(WATERMARK_KEY, newest)
            mark = newest
        horizon = mark - timedelta(seconds=LATE_COMMIT_S)
        self._recent = {pid: at for pid, at in self._recent.items() if at > horizon}
        self._recent.update({pid: received for pid, _, _, received in found if received > horizon})
        return outcome

    def finality(self, rules: Rules, now: datetime) -> Outcome:
        """Sites whose days became final since the last pass: recompute the days whose windows closed."""
        outcome = Outcome()
        for site in Site.objects.all():
            fin = rules.finality.get(site.pk)
            if fin is None:
                continue
            frontier = max([x for x in (fin.reported_until, fin.timeout_until) if x is not None], default=None)
            if frontier is None:
                continue
            key = FRONTIER_KEY.format(site=site.pk)
            before = _get_state(key)
            previous = local(before, rules.zone(site.pk)) if before else frontier - timedelta(days=2)
            if frontier <= previous:
                continue
            days = _closing_days(rules, previous, frontier)
            if days:
                first, last = min(days), max(days)
                outcome.add(recompute(first, last, employees=Employee.objects.filter(site=site), now=now, rules=rules))
            _set_state(key, frontier.replace(tzinfo=rules.zone(site.pk)))
        return outcome


def _closing_days(rules: Rules, after: datetime, until: datetime) -> list[date]:
    """Dates of occurrences whose shift end or window end falls in (after, until]."""
    days: set[date] = set()
    span = (until.date() - after.date()).days
    if span > 62:  # a long gap (a new install, a restore): the last two months at most
        after = until - timedelta(days=62)
    day = after.date() - timedelta(days=2)
    while day <= until.date():
        for shift in rules.shifts.values():
            ends = shift.ends(day)
            if any(after < t <= until for t in (ends, ends + timedelta(minutes=shift.checkout_after_min))):
                days.add(day)
        day += timedelta(days=1)
    return sorted(days)


def _get_state(key: str) -> datetime | None:
    value = State.objects.filter(key=key).values_list("value", flat=True).first()
    return datetime.fromisoformat(value) if value else None


def _set_state(key: str, at: datetime) -> None:
    State.objects.update_or_create(key=key, defaults={"value": at.isoformat()})


# -- records a person enters --------------------------------------------------------------------------------
def add_manual_record(employee: Employee, day: date, status: str, *, reason: str, actor: str,
                      shift: ShiftType | None = None, half_day: bool = False, now: datetime | None = None) -> DailyRecord:
    """A record HR enters by hand (it wins over punches); audited with its reason."""
    if status not in e.STATUSES:
        raise AttendanceError(f"状态无效 / Unknown status {status!r}")
    reason = (reason or "").strip()
    if not reason:
        raise AttendanceError("请填写原因 / A reason is required")
    with transaction.atomic():
        shift_name = shift.name if shift else ""
        DailyRecord.objects.filter(employee=employee, date=day).filter(
            Q(shift_name=shift_name) | Q(source__in=("punches", "absent", "exempt"))).filter(
            Q(shift_name=shift_name) | Q(shift_name="") if shift_name else Q()).delete()
        row = DailyRecord.objects.create(employee=employee, date=day, shift_name=shift_name, status=status,
                                         source="manual", half_day=half_day or status == "half_day", reason=reason[:500],
                                         created_by=actor[:150], final=True, hours=Decimal("0.00"))
        audit.record(actor, "attendance.manual_record", f"{employee.number} {day.isoformat()}",
                     {"status": status, "shift": shift_name, "reason": reason[:200]})
    recompute(day - timedelta(days=1), day + timedelta(days=1), employees=Employee.objects.filter(pk=employee.pk), now=now)
    return DailyRecord.objects.get(pk=row.pk)


def recompute_employees(employees: Iterable[Employee], first: date, last: date, *, now: datetime | None = None) -> Outcome:
    ids = [emp.pk for emp in employees]
    return recompute(first, last, employees=Employee.objects.filter(pk__in=ids), now=now)


def records_by_key(rows: Sequence[DailyRecord]) -> dict[tuple[int, date, str], DailyRecord]:
    return {(r.employee_id, r.date, r.shift_name): r for r in rows}
