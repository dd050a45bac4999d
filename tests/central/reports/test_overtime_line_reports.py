"""The monthly sheet marks the overtime of whoever passed the monthly line (《劳动法》 第四十一条, 36 hours) red, as
the console does: waiting and in-lieu minutes counted, rejected ones not. The workbook is written by the real report
code and read back with openpyxl; the figures are worked out by hand below.

March 2026, every record on a weekday:

* E1: 10 days of 120 min approved (20 h), 5 of 120 waiting (10 h), a Saturday of 480 min in lieu (8 h): 38 h
  counted, past 36. A further 600 min rejected do not count.
* E2: 15 days of 120 min approved (30 h) and 5 of 120 rejected (10 h): 30 h counted.
* E3: 18 days of 120 min approved: exactly 36 h, at the line, not past it.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from central.accounts.models import User
from central.attendance.models import AttendanceProfile, DailyRecord, ShiftType
from central.people.models import Employee, Site
from central.reports.registry import ReportParams
from reports import report_files

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
RED = "FFC7CE"  # the workbook's fill of "bad" cells
WEEKDAYS = [d for d in (date(2026, 3, 1) + timedelta(days=i) for i in range(31)) if d.weekday() < 5]


@pytest.fixture
def admin(db: Any, settings: Any) -> User:
    settings.OVERTIME_LIMIT_H = 36
    site = Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    shift = ShiftType.objects.create(name="day", start=time(9), end=time(18))
    plan = {"E1": [("approved", 10), ("pending", 5), ("rejected", 5)], "E2": [("approved", 15), ("rejected", 5)],
            "E3": [("approved", 18)]}
    rows = []
    for number, states in plan.items():
        emp = Employee.objects.create(number=number, name=number, site=site)
        AttendanceProfile.objects.create(employee=emp, default_shift=shift, joined=date(2020, 1, 1))
        days = iter(WEEKDAYS)
        for state, count in states:
            rows += [DailyRecord(employee=emp, date=next(days), shift_name="day", status="present", source="punches",
                                 hours=Decimal("10.00"), overtime_min=120, overtime_state=state, final=True)
                     for _ in range(count)]
        if number == "E1":
            rows.append(DailyRecord(employee=emp, date=date(2026, 3, 14), shift_name="day", status="present",
                                    source="punches", day_kind="rest_day", overtime_kind="rest_day",
                                    hours=Decimal("8.00"), overtime_min=480, overtime_state="in_lieu", final=True))
    DailyRecord.objects.bulk_create(rows)
    return User.objects.create_superuser("boss", password="x")


def sheet(admin: User, first: date, last: date, path: Path) -> tuple[dict[str, int], dict[str, Any], list[str]]:
    """The monthly sheet's columns by title, its rows by number (cells), and every text on the legend sheet."""
    openpyxl = pytest.importorskip("openpyxl")
    report_files.render("monthly", admin, ReportParams(first, last), "xlsx", path, datetime(2026, 4, 2, 9, tzinfo=SHANGHAI))
    book = openpyxl.load_workbook(path)
    ws = next(ws for ws in book.worksheets if ws.title.startswith("考勤月报"))
    col = {str(c.value): i for i, c in enumerate(ws[2])}
    rows = {r[0].value: r for r in ws.iter_rows(min_row=3) if r[0].value in ("E1", "E2", "E3")}
    return col, rows, report_files.workbook_texts(book)


OT = {"workday": "工作日加班 OT workday (h)", "pending": "待批加班 OT pending (h)", "in_lieu": "调休加班 OT in lieu (h)",
      "rest_day": "休息日加班 OT rest day (h)"}


def test_a_month_past_the_line_has_its_overtime_red_and_one_at_the_line_does_not(admin: User, tmp_path: Path) -> None:
    col, rows, texts = sheet(admin, date(2026, 3, 1), date(2026, 3, 31), tmp_path / "m.xlsx")

    def cell(number: str, key: str) -> tuple[Decimal, bool]:
        found = rows[number][col[OT[key]]]
        return Decimal(str(found.value or 0)), str(found.fill.fgColor.rgb).endswith(RED)

    assert [cell("E1", k) for k in ("workday", "pending", "in_lieu", "rest_day")] == [
        (Decimal(20), True), (Decimal(10), True), (Decimal(8), True), (Decimal(0), False)]  # an empty cell stays white
    assert [cell("E2", k) for k in ("workday", "pending")] == [(Decimal(30), False), (Decimal(0), False)]
    assert cell("E3", "workday") == (Decimal(36), False)
    assert any("超过每月 36 小时的，加班数标红" in t for t in texts)


def test_a_range_across_two_months_is_not_measured_against_a_months_line(admin: User, tmp_path: Path) -> None:
    col, rows, texts = sheet(admin, date(2026, 3, 1), date(2026, 4, 5), tmp_path / "m.xlsx")
    assert not str(rows["E1"][col[OT["workday"]]].fill.fgColor.rgb).endswith(RED)
    assert not any("加班数标红" in t for t in texts)


def test_no_line_set_marks_nothing(admin: User, tmp_path: Path, settings: Any) -> None:
    settings.OVERTIME_LIMIT_H = 0
    col, rows, texts = sheet(admin, date(2026, 3, 1), date(2026, 3, 31), tmp_path / "m.xlsx")
    assert not str(rows["E1"][col[OT["workday"]]].fill.fgColor.rgb).endswith(RED)
    assert not any("加班数标红" in t for t in texts)
