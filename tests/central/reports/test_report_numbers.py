"""The reports' numbers against the engine's records for a generated month.

A month of punches made through the product's own paths (roster, the ingest's store, the engine's
recompute: ``central.attendance.demo_history.fill_month``), with a night shift whose last night of
March ends on April 1st, Chinese names and a name a spreadsheet would run as a formula. Every number a
report prints is checked against ``DailyRecord`` rows counted here, in the test, by its own queries.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Sum

from central.accounts.models import Role, User
from central.attendance.demo_history import fill_month
from central.attendance.models import AttendanceProfile, DailyRecord, ShiftType
from central.attendance.services import recompute
from central.ingest.handler import store_punches
from central.ingest.models import Punch
from central.people import roster
from central.people.models import Employee, Site
from central.reports import registry
from central.reports.document import Report
from central.reports.registry import ReportError, ReportParams

pytestmark = pytest.mark.django_db
MARCH = (date(2026, 3, 1), date(2026, 3, 31))
INJECTION = '=HYPERLINK("http://example.invalid","点我")'
ZONE = ZoneInfo("Asia/Shanghai")


def _punch(number: str, local: datetime, direction: str, n: int) -> dict[str, Any]:
    at = local.replace(tzinfo=ZONE)
    return {"id": f"0190f3a0-0000-7000-8000-{n:012d}", "site": "sh", "device_id": "gate-1", "employee_number": number,
            "direction": direction, "method": "face", "score": None, "punched_at": at, "boot_id": "b", "monotonic_ns": 0,
            "time_source": "ntp", "original_punched_at": None, "restamped_at": None,
            "batch_id": "0190f3a0-0000-7000-8000-0000000000bb", "received_at": at}


@pytest.fixture
def month(db: Any) -> dict[str, Any]:
    Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    fill_month("sh", date(2026, 4, 3), device_id="gate-1")  # records 2026-03-04 .. 2026-04-02
    roster.upsert_employees([{"number": "X001", "name": INJECTION, "department": "仓储 Warehouse", "site": "sh"}])
    night = ShiftType.objects.get(name="夜班 Night")
    x = Employee.objects.get(number="X001")
    AttendanceProfile.objects.create(employee=x, joined=date(2026, 3, 30), default_shift=night)
    # the last night of March: in at 20:40 (late), out the next morning, April 1st
    store_punches([_punch("X001", datetime(2026, 3, 31, 20, 40), "in", 1),
                   _punch("X001", datetime(2026, 4, 1, 5, 45), "out", 2)])
    recompute(date(2026, 3, 30), date(2026, 4, 2), employees=Employee.objects.filter(number="X001"), actor="test")
    admin = User.objects.create_superuser("boss", password="x")
    return {"admin": admin, "night_record": DailyRecord.objects.get(employee=x, date=date(2026, 3, 31))}


def _build(name: str, user: User, first: date, last: date, **narrow: str) -> Report:
    return registry.build(name, user, ReportParams(first, last, **narrow))


def _records(number: str, first: date, last: date):
    return DailyRecord.objects.filter(employee__number=number, date__gte=first, date__lte=last)


def test_the_monthly_sheet_totals_every_employee_as_the_records_say(month: dict[str, Any]) -> None:
    report = _build("monthly", month["admin"], *MARCH)
    sheet = report.part("sheet")
    rows = {r["number"]: r for r in sheet.records()}
    assert len(rows) == Employee.objects.count()
    checked = 0
    for number, row in rows.items():
        recs = _records(number, *MARCH)
        assert row["late"] == recs.filter(late=True).count(), number
        assert row["late_min"] == (recs.aggregate(s=Sum("late_min"))["s"] or 0), number
        assert row["early"] == recs.filter(early=True).count(), number
        assert row["early_min"] == (recs.aggregate(s=Sum("early_min"))["s"] or 0), number
        assert row["hours"] == (recs.aggregate(s=Sum("hours"))["s"] or 0), number
        work = recs.filter(day_kind="workday")
        absent = work.filter(status="absent").count() + Decimal("0.5") * work.filter(
            status="half_day", leave_type__isnull=True).count() + Decimal("0.5") * work.filter(
            status="half_day", leave_type__isnull=False, other_half="absent").count()
        assert row["absent_days"] == absent, number
        present = work.filter(status="present").count() + Decimal("0.5") * work.filter(
            status="half_day", leave_type__isnull=True).count() + Decimal("0.5") * work.filter(
            status="half_day", leave_type__isnull=False, other_half="present").count()
        assert row["days_worked"] == present, number
        annual = recs.filter(status="on_leave", leave_type__code="annual").count() + Decimal("0.5") * recs.filter(
            status="half_day", leave_type__code="annual").count()
        assert row["leave_annual"] == annual, number
        for rec in recs:
            mark = row[f"d{rec.date:%Y-%m-%d}"]
            if rec.status == "absent":
                assert "✗" in mark, (number, rec.date, mark)
            if rec.late:
                assert "迟" in mark, (number, rec.date, mark)
            if rec.status == "on_leave":
                assert mark.startswith("年"), (number, rec.date, mark)
        checked += recs.count()
    assert checked == DailyRecord.objects.filter(date__gte=MARCH[0], date__lte=MARCH[1]).count() > 500
    # the days before the month's records began are empty, a planned weekend is a rest day
    m010 = rows["M010"]  # a day-shift employee, weekends off
    assert m010["d2026-03-01"] == ""  # before joining (the generated history starts on the 4th)
    assert m010["d2026-03-07"] == "休"  # a Saturday


def test_a_night_shift_counts_on_the_day_it_starts_across_the_months_end(month: dict[str, Any]) -> None:
    night = month["night_record"]
    assert night.late and night.hours > 0
    march = {r["number"]: r for r in _build("monthly", month["admin"], *MARCH).part("sheet").records()}
    april = {r["number"]: r for r in _build("monthly", month["admin"], date(2026, 4, 1), date(2026, 4, 2))
             .part("sheet").records()}
    assert march["X001"]["hours"] == night.hours
    assert march["X001"]["late"] == 1 and "迟" in march["X001"]["d2026-03-31"]
    assert april["X001"]["hours"] == 0 and april["X001"]["late"] == 0


def test_the_raw_punch_log_lists_every_punch_in_local_time(month: dict[str, Any]) -> None:
    report = _build("punches", month["admin"], date(2026, 3, 31), date(2026, 3, 31))
    rows = report.part("punches").records()
    local_days = [p.punched_at.astimezone(ZONE).date() for p in Punch.objects.all()]
    assert len(rows) == sum(1 for d in local_days if d == date(2026, 3, 31))
    mine = [r for r in rows if r["number"] == "X001"]
    assert [r["time"] for r in mine] == [datetime(2026, 3, 31, 20, 40)]
    assert mine[0]["name"] == INJECTION and mine[0]["device"] == "gate-1"


def test_csv_keeps_a_formula_name_as_text_and_opens_in_excel_as_utf8(month: dict[str, Any]) -> None:
    report = _build("monthly", month["admin"], *MARCH, employee="X001")
    out = io.BytesIO()
    registry.render(report, "csv", out)
    data = out.getvalue()
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["工号 Number", "姓名 Name", "部门 Department"]
    assert rows[1][1] == "'" + INJECTION
    assert rows[-1][0] == "合计 Total"


def test_scope_refuses_what_the_caller_cannot_see(month: dict[str, Any]) -> None:
    other = Site.objects.create(code="bj", name="北京")
    hr = User.objects.create_user("hr", password="x", role=Role.HR_ADMIN)
    hr.sites.add(other)
    with pytest.raises(ReportError):
        _build("monthly", hr, *MARCH, site="sh")
    with pytest.raises(ReportError):
        _build("monthly", hr, *MARCH, employee="X001")
    assert _build("monthly", hr, *MARCH).part("sheet").rows == []
    with pytest.raises(ReportError):
        _build("monthly", month["admin"], date(2026, 3, 31), date(2026, 3, 1))
