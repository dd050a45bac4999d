"""The leave report (假期报表): each employee's balances (statutory annual leave by working life, an own allowance,
one with no dates to count from) and every leave of the period, read back from the workbook with openpyxl, from the
CSV with the csv module and from the PDF with pdftotext; the expected figures are worked out here by hand."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from central.accounts.models import Role, User
from central.attendance.leave_balances import set_allowance
from central.attendance.models import AttendanceProfile, LeaveRecord, LeaveType, RequestEvidence, ShiftType, SiteCalendar
from central.attendance.requests import decide_leave, file_leave
from central.people.models import Department, Employee, Site
from central.reports import registry
from central.reports.registry import ReportParams
from reports import report_files

pytestmark = pytest.mark.django_db
MARCH = ReportParams(date(2026, 3, 1), date(2026, 3, 31))
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    site = Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    office, store = Department.objects.create(site=site, name="行政"), Department.objects.create(site=site, name="仓储")
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18))
    people = {}
    for number, name, dept, started in (("E1", "张三", office, date(2016, 3, 15)), ("E2", "李四", office, None),
                                        ("E3", "王五", store, date(2000, 1, 1))):
        people[number] = Employee.objects.create(number=number, name=name, site=site, department=dept)
        AttendanceProfile.objects.create(employee=people[number], default_shift=day, work_started=started)
    annual = LeaveType.objects.create(code="al", name="年休假", statutory=True)
    sick = LeaveType.objects.create(code="sick", name="病假", paid=False)
    admin = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    admin.sites.set([site])
    # E1: two days approved (Mon 2 - Tue 3 March), one waiting (Fri 13); a rejected one; a sick day with its note
    taken = file_leave(people["E1"], annual, date(2026, 3, 2), date(2026, 3, 3), reason="探亲", actor="E1")
    decide_leave(taken, approve=True, actor="hr")
    file_leave(people["E1"], annual, date(2026, 3, 13), date(2026, 3, 13), reason="办事", actor="E1")
    no = file_leave(people["E1"], annual, date(2026, 3, 20), date(2026, 3, 20), half_day=True, reason="看房", actor="E1")
    decide_leave(no, approve=False, actor="hr")
    note = file_leave(people["E3"], sick, date(2026, 3, 9), date(2026, 3, 10), reason="发烧", actor="E3")
    RequestEvidence.objects.create(leave=note, name="note.jpg", content_type="image/jpeg", size=3, sha256="0" * 64,
                                   data=b"\xff\xd8\xff", uploaded_by="E3")
    set_allowance(admin, people["E3"], annual, 2026, Decimal("20"))  # 15 by law, 5 agreed on top
    # the company's own days off: 5 a year, up to 3 unused days carried into the next year until the end of March.
    # E1 took 1 of 2025's 5 (Mon 2 June): 4 unused, 3 carried; then Mon 16 March 2026, a carried day
    extra = LeaveType.objects.create(code="co", name="司龄假", yearly_days=Decimal(5), carry_over_days=Decimal(3),
                                     carry_over_until=3, carry_over_since=2025)
    for day in (date(2025, 6, 2), date(2026, 3, 16)):
        decide_leave(file_leave(people["E1"], extra, day, day, reason="休息", actor="E1"), approve=True, actor="hr")
    return {"people": people, "admin": admin, "store": store}


def test_the_leave_report_holds_each_balance_and_leave_in_every_format(plant: dict[str, Any], tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    report = registry.build("leave", plant["admin"], MARCH, now=datetime(2026, 4, 2, 9, tzinfo=SHANGHAI))
    for fmt in ("xlsx", "csv", "pdf"):
        with (tmp_path / f"leave.{fmt}").open("wb") as out:
            registry.render(report, fmt, out)

    workbook = openpyxl.load_workbook(tmp_path / "leave.xlsx")
    sheet = next(ws for ws in workbook.worksheets if ws.title.startswith("假期余额"))
    header = [c.value for c in sheet[2]]
    rows = {(r[0], r[4]): dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=3, values_only=True)
            if r[0] in plant["people"]}
    assert set(rows) == {(n, t) for n in ("E1", "E2", "E3") for t in ("年休假", "司龄假")}  # sick leave keeps none

    def numbers(key: tuple[str, str]) -> tuple[Decimal, ...]:
        row = rows[key]
        return tuple(Decimal(str(row[c])) for c in ("额度（天） Allowance (days)", "已休 Taken", "待批 Waiting", "剩余 Left"))

    # E1: 10 years on 15 March: 73 days × 5 + 292 × 10 = 3285 / 365 = 9; 2 taken, 1 waiting (the rejected half day frees)
    assert numbers(("E1", "年休假")) == (9, 2, 1, 6) and "工龄 10 年" in rows[("E1", "年休假")]["依据 Basis"]
    assert numbers(("E2", "年休假")) == (0, 0, 0, 0) and "缺参加工作时间" in rows[("E2", "年休假")]["依据 Basis"]
    assert numbers(("E3", "年休假")) == (20, 0, 0, 20) and rows[("E3", "年休假")]["依据 Basis"] == "个人额度 Own allowance"
    # 司龄假, counted on 2 April: E1 has 5 of 2026 and 3 carried until 31 March, of which 16 March took one and 2
    # lapsed; 4 of the own days left. E2 had nothing of 2025 to carry (no leave of it before 2026: all 5 unused, 3
    # carried, all lapsed)
    carried = ("结转（天） Carried over (days)", "结转至 Carried until", "结转过期 Carried, lapsed")
    assert numbers(("E1", "司龄假")) == (5, 1, 0, 5)  # 5 own + 3 carried - 1 taken - 2 lapsed
    assert [rows[("E1", "司龄假")][c] for c in carried] == [3, datetime(2026, 3, 31), 2]
    assert numbers(("E2", "司龄假")) == (5, 0, 0, 5) and [rows[("E2", "司龄假")][c] for c in carried] == [
        3, datetime(2026, 3, 31), 3]
    e2_row = next(r for r in sheet.iter_rows(min_row=3) if r[0].value == "E2")
    assert e2_row[-1].fill.fgColor.rgb.endswith("FFC7CE")  # nothing to count from: red
    listing = next(ws for ws in workbook.worksheets if ws.title.startswith("请假明细"))
    header = [c.value for c in listing[2]]
    leaves = [dict(zip(header, r, strict=True)) for r in listing.iter_rows(min_row=3, values_only=True)
              if r[0] in plant["people"]]
    assert [(r["工号 Number"], r["开始 From"].date(), Decimal(str(r["天数 Days"])), r["状态 State"], r["证明 Evidence"])
            for r in leaves] == [  # by department (仓储 before 行政), number, first day
        ("E3", date(2026, 3, 9), Decimal(2), "待批 Pending", "有 Yes"),
        ("E1", date(2026, 3, 2), Decimal(2), "已批 Approved", None), ("E1", date(2026, 3, 13), Decimal(1), "待批 Pending", None),
        ("E1", date(2026, 3, 16), Decimal(1), "已批 Approved", None), ("E1", date(2026, 3, 20), Decimal("0.5"), "已拒 Rejected", None)]

    text = (tmp_path / "leave.csv").read_text(encoding="utf-8-sig")
    found = [row for row in csv.reader(io.StringIO(text)) if row and row[0] == "E1" and row[4] == "年休假" and len(row) > 10]
    assert found and found[0][6:14] == ["9", "法定，工龄 10 年 Statutory, 10 years worked", "0", "", "0", "2", "1", "6"]
    pdf = report_files.pdf_text(tmp_path / "leave.pdf")
    assert "假期余额 2026" in pdf and "请假明细" in pdf and "缺参加工作时间" in pdf and "司龄假" in pdf


def test_a_manager_sees_only_their_departments_leave(plant: dict[str, Any]) -> None:
    manager = User.objects.create_user("mg", password="x" * 12, role=Role.MANAGER)
    manager.departments.set([plant["store"]])
    report = registry.build("leave", manager, MARCH)
    assert {r["number"] for r in report.part("balances").records()} == {"E3"}
    assert [r["number"] for r in report.part("leave").records()] == ["E3"]
    assert LeaveRecord.objects.count() == 6  # the others are there, outside his scope
