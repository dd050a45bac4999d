"""What the reports read of the attendance tables: daily records and the staff they belong to, in bulk.

Selectors only. Records come out as :class:`central.reports.tally.Rec`, the late ones a site lets go that month
marked ``late_let_go`` (人性化迟到, :mod:`central.attendance.late_allowance`); employees as :class:`Staff` rows ordered
as every sheet lists them (site, department, number).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Q, QuerySet

from central.attendance import late_allowance
from central.attendance.inputs import StaffRow
from central.attendance.models import DailyRecord, LeaveType
from central.people.models import Employee
from central.reports.scoping import months_of
from central.reports.tally import Rec

CHUNK = 500  # employees whose records are read at once
REC_FIELDS = ("employee_id", "date", "shift_name", "status", "source", "half_day", "leave_type_id", "hours", "late",
              "early", "late_min", "early_min", "overtime_min", "overtime_kind", "overtime_state", "other_half",
              "missing_out", "day_kind", "final")


class Staff(NamedTuple):
    pk: int
    number: str
    name: str
    site_id: int
    site: str  # the site's name (or code)
    department_id: int | None
    department: str
    active: bool

    def row(self) -> StaffRow:
        return StaffRow(self.pk, self.number, self.site_id, self.department_id, self.active)


def staff(employees: QuerySet[Employee], first: date, last: date) -> list[Staff]:
    """The covered employees a sheet lists: the active ones, and the inactive ones with a record in the range."""
    with_records = DailyRecord.objects.filter(date__gte=first, date__lte=last).values("employee_id")
    rows = (employees.filter(Q(active=True) | Q(pk__in=with_records))
            .order_by("site__code", "department__name", "number")
            .values_list("pk", "number", "name", "site_id", "site__name", "site__code", "department_id",
                         "department__name", "active"))
    return [Staff(pk, number, name, site_id, site_name or site_code, dept_id, dept or "", active)
            for pk, number, name, site_id, site_name, site_code, dept_id, dept, active in rows]


def with_records(staff: list[Staff], first: date, last: date, chunk: int = CHUNK) -> Iterator[tuple[Staff, list[Rec]]]:
    """Each employee of ``staff``, in its order, with their records dated ``first``..``last`` (by date and shift),
    read ``chunk`` employees at a time: a sheet of 10,000 employees never holds every record at once. The late
    records their site lets go are marked ``late_let_go``."""
    for i in range(0, len(staff), chunk):
        part = staff[i:i + chunk]
        found = _records(DailyRecord.objects.filter(employee_id__in=[s.pk for s in part]), first, last)
        marked = late_allowance.let_go_of({s.pk: s.site_id for s in part}, first, last)
        for member in part:
            yield member, mark_let_go(found.get(member.pk, []), marked.get(member.pk, set()))


def let_go(staff: Sequence[Staff], first: date, last: date, chunk: int = CHUNK) -> dict[int, set[late_allowance.Key]]:
    """Employee pk → the (date, shift) of their late records dated ``first``..``last`` that their site lets go, for
    a report that reads its records itself; ``chunk`` employees at a time."""
    found: dict[int, set[late_allowance.Key]] = {}
    for i in range(0, len(staff), chunk):
        found.update(late_allowance.let_go_of({s.pk: s.site_id for s in staff[i:i + chunk]}, first, last))
    return found


def mark_let_go(recs: list[Rec], keys: set[late_allowance.Key]) -> list[Rec]:
    """``recs`` with the late ones whose (date, shift) is in ``keys`` marked ``late_let_go``."""
    if not keys:
        return recs
    return [rec._replace(late_let_go=True) if rec.late and (rec.date, rec.shift) in keys else rec for rec in recs]


def allowance_notes(staff: Sequence[Staff], first: date, last: date) -> list[str]:
    """The sheet's notes on late arrivals let go (人性化迟到), when a covered site lets any go in ``first``..``last``
    (a closed month as it was closed): one per setting, naming the sites when not every covered site has it, and the
    month when a site's setting changes within the range."""
    names = {s.site_id: s.site for s in staff}
    settings = late_allowance.site_allowances(names, first, last)
    months = months_of(first, last)
    by_setting: dict[late_allowance.Allowance, list[str]] = defaultdict(list)
    whole = True  # every covered site, every month of the range, the same setting
    for site, name in sorted(names.items(), key=lambda item: item[1]):
        rules = {month: settings.of(site, month) for month in months}
        varies = len(set(rules.values())) > 1
        whole = whole and not varies
        for month, rule in rules.items():
            if rule:
                by_setting[rule].append(f"{name} {month:%Y-%m}" if varies else name)
    whole = whole and len(by_setting) == 1 and len(next(iter(by_setting.values()))) == len(names)
    notes = []
    for rule, sites in sorted(by_setting.items(), key=lambda item: (item[0].times, item[0].max_min)):
        zh, en = ("", "The") if whole else ("、".join(sites) + "：", ", ".join(sites) + ": the")
        notes.append(f"{zh}每月前 {rule.times} 次不超过 {rule.max_min} 分钟的迟到不计迟到（宽限，从每月 1 日起算），"
                     f"另计宽限迟到 / {en} first {rule.times} late arrivals of at most {rule.max_min} min in each "
                     f"month are let go (counted from the month's first day): not late, counted apart as late let go.")
    return notes


def _records(rows: QuerySet[DailyRecord], first: date, last: date) -> dict[int, list[Rec]]:
    found: dict[int, list[Rec]] = defaultdict(list)
    values = (rows.filter(date__gte=first, date__lte=last).order_by("employee_id", "date", "shift_name")
              .values_list(*REC_FIELDS))
    for row in values.iterator(chunk_size=10000):
        rec = Rec(*row)
        if not isinstance(rec.hours, Decimal):
            rec = rec._replace(hours=Decimal(str(rec.hours)))
        found[rec.employee_id].append(rec)
    return found


def leave_types() -> dict[int, LeaveType]:
    return {t.pk: t for t in LeaveType.objects.order_by("code")}
