"""应休未休年休假 in the payroll export: the statutory annual leave an employee did not take, in the period that
settles it (the leaving day, else the year's end less what carries over), never below 0. Every figure is worked out
by hand in the comments; the export is read back with the csv module."""
from __future__ import annotations

import csv
import io
from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest

from central.accounts.models import User
from central.attendance.leave_balances import settlement_day
from central.attendance.models import AttendanceProfile, LeaveRecord, LeaveType, ShiftType, SiteCalendar
from central.attendance.requests import file_leave, record_leave
from central.people.models import Employee, Site
from central.reports import registry
from central.reports.registry import ReportParams

pytestmark = pytest.mark.django_db
COLUMN = "应休未休年休假天数 annual_leave_untaken_days"


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18))
    annual = LeaveType.objects.create(code="annual", name="年假", statutory=True, carry_over_days=Decimal(3),
                                      carry_over_until=3, carry_over_since=2026)
    people = {}
    for number, started, joined, gone in (("E1", date(2010, 1, 1), date(2020, 1, 1), date(2026, 6, 30)),
                                          ("E2", date(2000, 1, 1), date(2015, 1, 1), None),
                                          ("E3", date(2024, 6, 1), date(2024, 6, 1), None),
                                          ("E4", None, None, None)):
        people[number] = Employee.objects.create(number=number, name=f"员工{number}", site=site)
        AttendanceProfile.objects.create(employee=people[number], default_shift=day, work_started=started,
                                         joined=joined, left=gone)
    # E1: 16 years of working life, 10 days a year; leaves on 30 June: 181 of 365 days, 4.96, 4 days. Takes one.
    record_leave(people["E1"], annual, date(2026, 3, 2), date(2026, 3, 2), reason="探亲", actor="hr")
    # E2: 26 years, 15 days; takes two (Mon 4, Tue 5 May), a third waits (Mon 7 Dec): 12 left, 3 of them carry
    record_leave(people["E2"], annual, date(2026, 5, 4), date(2026, 5, 5), reason="探亲", actor="hr")
    file_leave(people["E2"], annual, date(2026, 12, 7), date(2026, 12, 7), reason="办事", actor="E2")
    # E3: 1 full year on 1 January 2026 (2 on 1 June, the same tier): 5 days; 6 were approved before HR lowered them
    LeaveRecord.objects.create(employee=people["E3"], leave_type=annual, start=date(2026, 8, 3), end=date(2026, 8, 10),
                               state="approved", approved_by="hr")  # Mon 3 to Mon 10 August: 6 working days
    return {"people": people, "admin": User.objects.create_superuser("boss", password="x")}


def untaken(admin: User, first: date, last: date) -> dict[str, str]:
    report = registry.build("payroll", admin, ReportParams(first, last))
    out = io.BytesIO()
    registry.render(report, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    # after the leave columns (none before it moved), then in_lieu_untaken_hours, month_closed, on_duty_days_total
    # and late_let_go_count
    assert all(list(row)[-5] == COLUMN for row in rows)
    return {row["工号 employee_number"]: row[COLUMN] for row in rows}


def test_payroll_gives_the_untaken_statutory_leave_in_the_period_that_settles_it(plant) -> None:
    admin = plant["admin"]
    # June holds E1's leaving day: 4 days, 1 taken; the others settle nothing in June
    assert untaken(admin, date(2026, 6, 1), date(2026, 6, 30)) == {"E1": "3.0", "E2": "0.0", "E3": "0.0", "E4": "0.0"}
    assert untaken(admin, date(2026, 5, 1), date(2026, 5, 31)) == {"E1": "0.0", "E2": "0.0", "E3": "0.0", "E4": "0.0"}
    # December holds the year's end: E2 has 15 - 3 = 12 left, 3 carry into 2027, 9 are owed; E3 took more than
    # her 5 (nothing taken back); E4 has no date to count from; E1 left in June, settled then
    assert untaken(admin, date(2026, 12, 1), date(2026, 12, 31)) == {"E1": "0.0", "E2": "9.0", "E3": "0.0", "E4": "0.0"}


def test_the_settlement_day_is_the_leaving_day_else_the_years_end() -> None:
    dec, jun = (date(2026, 12, 1), date(2026, 12, 31)), (date(2026, 6, 1), date(2026, 6, 30))
    assert settlement_day(*dec, None) == (date(2026, 12, 31), False)
    assert settlement_day(*dec, date(2026, 12, 31)) == (date(2026, 12, 31), True)  # leaving on the year's last day
    assert settlement_day(*dec, date(2026, 12, 15)) == (date(2026, 12, 15), True)
    assert settlement_day(*dec, date(2026, 11, 30)) is None  # left before the period: settled then
    assert settlement_day(*dec, date(2027, 2, 1)) == (date(2026, 12, 31), False)
    assert settlement_day(*jun, None) is None and settlement_day(*jun, date(2026, 7, 1)) is None
    assert settlement_day(date(2026, 12, 16), date(2027, 1, 15), None) == (date(2026, 12, 31), False)
