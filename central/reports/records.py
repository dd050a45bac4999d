"""What the reports read of the attendance tables: daily records and the staff they belong to, in bulk.

Selectors only. Records come out as :class:`central.reports.tally.Rec`; employees as :class:`Staff`
rows ordered as every sheet lists them (site, department, number).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Q, QuerySet

from central.attendance.inputs import StaffRow
from central.attendance.models import DailyRecord, LeaveType
from central.people.models import Employee
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
    read ``chunk`` employees at a time: a sheet of 10,000 employees never holds every record at once."""
    for i in range(0, len(staff), chunk):
        part = staff[i:i + chunk]
        found = _records(DailyRecord.objects.filter(employee_id__in=[s.pk for s in part]), first, last)
        for member in part:
            yield member, found.get(member.pk, [])


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
