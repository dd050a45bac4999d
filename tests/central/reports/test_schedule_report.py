"""The schedule report (排班表) of the hand-worked March in :func:`schedule_plant.march_plant`, written by the real
report code as XLSX, CSV and PDF and read back with openpyxl, the csv module and pdftotext. The figures are worked
out here by hand: March 2026 has 22 weekdays and 9 Saturdays and Sundays.

- 张三 (E1) works the 22 weekdays and Saturday the 14th (a change HR recorded): 23 days at work, 8 rest days.
- 李四 (E2) works the 22 weekdays, nights from the 9th to the 13th: 22 days, 9 rest days.
- 王五 (E3) has leave approved on the 10th and 11th and asked for on the 12th: 20 days at work (a day whose leave
  still waits is counted), 9 rest days, 2 days of leave.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from schedule_plant import march_plant

from central.accounts.models import Role, User
from central.reports import registry
from central.reports.registry import ReportError, ReportParams
from reports import report_files

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 2, 20, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
MARCH = ReportParams(date(2026, 3, 1), date(2026, 3, 31), department="装配")
FILLS = {"info": "DDEBF7", "warn": "FFEB9C", "muted": "EDEDED"}  # the workbook's fills of marked cells


@pytest.fixture
def plant() -> dict[str, Any]:
    return march_plant() | {"admin": User.objects.create_superuser("boss", password="x")}


def fill_of(cell: Any) -> str:
    rgb = str(cell.fill.fgColor.rgb)
    return next((flag for flag, colour in FILLS.items() if rgb.endswith(colour)), "")


def test_the_schedule_as_a_workbook_a_csv_and_a_pdf(plant: dict[str, Any], tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    path = report_files.render("schedule", plant["admin"], MARCH, "xlsx", tmp_path / "s.xlsx", NOW)
    book = openpyxl.load_workbook(path)
    ws = next(ws for ws in book.worksheets if ws.title.startswith("排班表"))
    col = {str(c.value): i for i, c in enumerate(ws[2])}
    rows = {r[0].value: r for r in ws.iter_rows(min_row=3) if r[0].value in ("E1", "E2", "E3", "E4", "E5")}
    assert list(rows) == ["E1", "E2", "E3"]  # 装配's active employees: not 包装's 钱七, not the inactive 赵六

    def day(number: str, d: int) -> tuple[str, str]:
        cell = rows[number][col[f"{d:02d} {'一二三四五六日'[date(2026, 3, d).weekday()]}"]]
        return cell.value or "", fill_of(cell)

    assert [day("E1", d) for d in (1, 2, 14, 15)] == [("休", "muted"), ("day", ""), ("day", ""), ("休", "muted")]
    assert [day("E2", d) for d in (6, 9, 13, 16)] == [("day", ""), ("night", ""), ("night", ""), ("day", "")]
    assert [day("E3", d) for d in (9, 10, 11, 12)] == [("day", ""), ("年假", "info"), ("年假", "info"), ("年假", "warn")]
    totals = {n: tuple(rows[n][col[t]].value for t in ("上班天数 Days at work", "休息天数 Rest days",
                                                       "请假天数 Leave days")) for n in rows}
    assert {n: (w, r, Decimal(str(lv or 0))) for n, (w, r, lv) in totals.items()} == {
        "E1": (23, 8, Decimal(0)), "E2": (22, 9, Decimal(0)), "E3": (20, 9, Decimal(2))}

    counts = next(ws for ws in book.worksheets if ws.title.startswith("每日上班人数"))
    head = [str(c.value) for c in counts[2]]
    assert head == ["日期 Date", "星期 Weekday", "上班人数 At work", "day", "night"]
    by_day = {r[0].value.date(): tuple(c.value for c in r[2:5]) for r in counts.iter_rows(min_row=3)
              if isinstance(r[0].value, datetime)}
    assert len(by_day) == 31
    assert by_day[date(2026, 3, 10)] == (2, 1, 1)  # 王五 on leave approved
    assert by_day[date(2026, 3, 12)] == (3, 2, 1)  # her leave still waits: counted
    assert by_day[date(2026, 3, 14)] == (1, 1, 0) and by_day[date(2026, 3, 15)] == (0, 0, 0)

    text = report_files.render("schedule", plant["admin"], MARCH, "csv", tmp_path / "s.csv", NOW).read_text(
        encoding="utf-8-sig")
    sections = report_files.csv_sections(text)
    sheet = next(body for title, body in sections.items() if title.startswith("排班表"))
    e3 = next(r for r in sheet if r[0] == "E3")
    assert e3[sheet[0].index("10 二")] == "年假" and e3[-3:] == ["20", "9", "2"]
    report_files.render("schedule", plant["admin"], MARCH, "pdf", tmp_path / "s.pdf", NOW)
    pdf = report_files.pdf_text(tmp_path / "s.pdf")
    assert "排班表" in pdf and "每日上班人数" in pdf and "李四" in pdf and "年假" in pdf


def test_a_manager_gets_their_department_and_a_long_range_is_refused(plant: dict[str, Any]) -> None:
    manager = User.objects.create_user("mg", password="x" * 12, role=Role.MANAGER)
    manager.departments.set([plant["packing"]])
    report = registry.build("schedule", manager, ReportParams(date(2026, 3, 1), date(2026, 3, 31)), now=NOW)
    assert [r["number"] for r in report.part("schedule").records()] == ["E4"]
    with pytest.raises(ReportError, match="at most 62 days"):
        registry.build("schedule", plant["admin"], ReportParams(date(2026, 3, 1), date(2026, 5, 31)), now=NOW)
