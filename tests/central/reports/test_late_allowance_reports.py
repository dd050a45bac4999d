"""Late arrivals a site lets go each month (人性化迟到) on the reports HR signs: the monthly sheet, payroll, the summary
and the daily report count them apart, not as late, reading the allowance from each month's first day.

The daily records are written straight into the database (as the engine lays them down: the door's truth, late and
its minutes, stays on the record); the reports are built by the real report code, written as files and read back
with independent readers (openpyxl, the csv module). Every expected figure is worked out by hand below from the rule
in central/attendance/late_allowance.py's docstring: per employee and calendar month, the first 2 late records (by
date) of at most 10 minutes each are let go; a longer one is late and does not use the allowance up.

March 2026 (Sunday 1 to Tuesday 31): 22 working days (2–6, 9–13, 16–20, 23–27, 30–31), every one a record of the day
shift, present, 8 h; the weekends have no record (休 on the sheet).

* 上海工厂 (sh) lets 2 a month go, at most 10 minutes each.

  - E1 late Mon 2 (5 min), Tue 3 (15), Wed 4 (10), Thu 5 (3), Mon 16 (8). In order: the 2nd (5 ≤ 10) is let go
    (1 of 2); the 3rd (15 > 10) is late and uses nothing; the 4th (10 ≤ 10) is let go (2 of 2); the 5th and the 16th
    are late, the allowance is used up. March: late 3 (15 + 3 + 8 = 26 min), let go 2 (5 + 10 = 15 min).
  - E2 late Fri 6 (12 min), Tue 17 (4, and early 20 min), Thu 19 (9). The 6th is late (12 > 10); the 17th and the
    19th are let go. March: late 1 (12 min), let go 2; early 1 (20 min).

* 北京工厂 (bj) lets nothing go. B1 is late on the same days as E1, for the same minutes: late 5
  (5 + 15 + 10 + 3 + 8 = 41 min), let go 0 — as before sites could let any go.

A range from Thursday 5 March: the 2nd and 4th before it used E1's allowance, so his 5th (3 min) and 16th (8) are late:
late 2, 11 min, let go 0 (a count of the range alone would have let both go). E2's lates are all in it: unchanged.
B1: the 5th and 16th, late 2, 11 min.

A closed month (月结) keeps the allowance it was closed with: March closed at 上海工厂 with 2 of 10 minutes, then the
setting changed to 1 of at most 3 minutes, is read as above; a sheet of 30 March to 5 April says the setting of each.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from central.accounts.models import User
from central.attendance.models import AttendanceProfile, ClosedMonth, DailyRecord, ShiftType, SiteCalendar
from central.people.models import Employee, Site
from central.reports.registry import ReportParams
from reports import report_files

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
RED = "FFC7CE"  # the workbook's fill of "bad" cells
MARCH = (date(2026, 3, 1), date(2026, 3, 31))
FROM_5TH = (date(2026, 3, 5), date(2026, 3, 31))
WORKING_DAYS = [d for d in (date(2026, 3, 1) + timedelta(days=i) for i in range(31)) if d.weekday() < 5]
LATES = {  # employee: {day of March: late minutes}
    "E1": {2: 5, 3: 15, 4: 10, 5: 3, 16: 8},
    "E2": {6: 12, 17: 4, 19: 9},
    "B1": {2: 5, 3: 15, 4: 10, 5: 3, 16: 8},
}
EARLY = {("E2", 17): 20}
NOTE_SH = "每月前 2 次不超过 10 分钟的迟到不计迟到（宽限，从每月 1 日起算）"
NOTE_EN = "first 2 late arrivals of at most 10 min in each month are let go"


@pytest.fixture
def admin(db: Any) -> User:
    sh = Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    bj = Site.objects.create(code="bj", name="北京工厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=sh, weekly_rest=[5, 6], late_allowance_times=2, late_allowance_min=10)
    SiteCalendar.objects.create(site=bj, weekly_rest=[5, 6])  # no allowance: 0 and 0
    shift = ShiftType.objects.create(name="day", start=time(9), end=time(18))
    assert len(WORKING_DAYS) == 22
    rows = []
    for number, site in (("E1", sh), ("E2", sh), ("B1", bj)):
        emp = Employee.objects.create(number=number, name=number, site=site)
        AttendanceProfile.objects.create(employee=emp, default_shift=shift, joined=date(2020, 1, 1))
        for day in WORKING_DAYS:
            late, early = LATES[number].get(day.day, 0), EARLY.get((number, day.day), 0)
            rows.append(DailyRecord(employee=emp, date=day, shift_name="day", status="present", source="punches",
                                    hours=Decimal("8.00"), late=bool(late), late_min=late, early=bool(early),
                                    early_min=early, final=True))
    DailyRecord.objects.bulk_create(rows)
    return User.objects.create_superuser("boss", password="x")


def render(name: str, admin: User, params: ReportParams, fmt: str, path: Path) -> Path:
    return report_files.render(name, admin, params, fmt, path, datetime(2026, 4, 2, 9, tzinfo=SHANGHAI))


def workbook(path: Path) -> Any:
    openpyxl = pytest.importorskip("openpyxl")
    return openpyxl.load_workbook(path)


def texts(book: Any) -> list[str]:
    return report_files.workbook_texts(book)


def monthly(admin: User, params: ReportParams, path: Path) -> tuple[dict[str, int], dict[str, Any], list[str]]:
    """The monthly sheet's columns by title, its rows by number (cells) and every text of the workbook."""
    book = workbook(render("monthly", admin, params, "xlsx", path))
    ws = next(ws for ws in book.worksheets if ws.title.startswith("考勤月报"))
    col = {str(c.value): i for i, c in enumerate(ws[2])}
    rows = {r[0].value: r for r in ws.iter_rows(min_row=3) if r[0].value in LATES}
    return col, rows, texts(book)


def red(cell: Any) -> bool:
    return str(cell.fill.fgColor.rgb).endswith(RED)


LATE, LATE_MIN, LET_GO = "迟到次数 Late (times)", "迟到分钟 Late (min)", "宽限迟到 Late let go"


def test_the_monthly_sheet_shows_a_day_let_go_as_present_and_counts_it_apart(admin: User, tmp_path: Path) -> None:
    col, rows, words = monthly(admin, ReportParams(*MARCH), tmp_path / "m.xlsx")
    assert col[LET_GO] == col[LATE_MIN] + 1  # beside the late columns

    def totals(number: str) -> tuple[int, ...]:
        return tuple(int(rows[number][col[t]].value or 0) for t in (LATE, LATE_MIN, LET_GO))

    def days(number: str, *titles: str) -> list[tuple[str, bool]]:
        return [(rows[number][col[t]].value, red(rows[number][col[t]])) for t in titles]

    assert totals("E1") == (3, 26, 2)
    # the 2nd and 4th let go: present, white; the 3rd (15 min), 5th and 16th (allowance used up) late, red
    assert days("E1", "02 一", "03 二", "04 三", "05 四", "16 一", "06 五") == [
        ("√", False), ("迟", True), ("√", False), ("迟", True), ("迟", True), ("√", False)]
    assert totals("E2") == (1, 12, 2)
    # the 6th late (12 min); the 17th let go but early (早, red); the 19th let go
    assert days("E2", "06 五", "17 二", "19 四") == [("迟", True), ("早", True), ("√", False)]
    assert int(rows["E2"][col["早退次数 Early (times)"]].value) == 1
    # the site without an allowance: every late arrival late, as before
    assert totals("B1") == (5, 41, 0)
    assert days("B1", "02 一", "04 三") == [("迟", True), ("迟", True)]
    # the late cells red when not zero; the let-go cell never
    assert red(rows["E1"][col[LATE]]) and not red(rows["E1"][col[LET_GO]]) and not red(rows["B1"][col[LET_GO]])
    # two sites, one with an allowance: the note names it
    assert any(w.startswith(f"上海工厂：{NOTE_SH}") and f"上海工厂: the {NOTE_EN}" in w for w in words)
    assert not any("北京工厂：" in w for w in words)


def test_a_sheet_from_mid_month_counts_the_allowance_used_before_it(admin: User, tmp_path: Path) -> None:
    col, rows, _ = monthly(admin, ReportParams(*FROM_5TH), tmp_path / "m5.xlsx")
    e1 = rows["E1"]
    # E1: the 2nd and 4th (before the range) used the allowance: the 5th (3 min) and 16th (8) are late
    assert [int(e1[col[t]].value or 0) for t in (LATE, LATE_MIN, LET_GO)] == [2, 11, 0]
    assert [(e1[col[t]].value, red(e1[col[t]])) for t in ("05 四", "16 一")] == [("迟", True), ("迟", True)]
    assert [int(rows["E2"][col[t]].value or 0) for t in (LATE, LATE_MIN, LET_GO)] == [1, 12, 2]
    assert [int(rows["B1"][col[t]].value or 0) for t in (LATE, LATE_MIN, LET_GO)] == [2, 11, 0]


def test_a_sheet_of_a_site_without_an_allowance_is_as_before(admin: User, tmp_path: Path) -> None:
    col, rows, words = monthly(admin, ReportParams(*MARCH, site="bj"), tmp_path / "bj.xlsx")
    assert set(rows) == {"B1"}
    assert [int(rows["B1"][col[t]].value or 0) for t in (LATE, LATE_MIN, LET_GO)] == [5, 41, 0]
    assert not any("每月前" in w for w in words)  # no note
    # the site with one alone: the note without its name
    _, _, words = monthly(admin, ReportParams(*MARCH, site="sh"), tmp_path / "sh.xlsx")
    assert any(w.startswith(NOTE_SH) and f"The {NOTE_EN}" in w for w in words)


def payroll_csv(admin: User, first: date, last: date, path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    text = render("payroll", admin, ReportParams(first, last), "csv", path).read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    rows = {r["工号 employee_number"]: r for r in reader}
    return list(reader.fieldnames or []), rows


PAY = ("迟到次数 late_count", "迟到分钟 late_minutes", "宽限迟到次数 late_let_go_count")


def test_payroll_counts_late_after_the_allowance_and_the_let_go_at_the_end(admin: User, tmp_path: Path) -> None:
    header, rows = payroll_csv(admin, *MARCH, tmp_path / "p.csv")
    # the new column at the very end: none before it moved
    assert header[-2:] == ["公出天数合计 on_duty_days_total", "宽限迟到次数 late_let_go_count"]
    assert {n: tuple(int(rows[n][k]) for k in PAY) for n in LATES} == {
        "E1": (3, 26, 2), "E2": (1, 12, 2), "B1": (5, 41, 0)}
    # from the 5th: the allowance used on the 2nd and 4th still counts
    _, rows = payroll_csv(admin, *FROM_5TH, tmp_path / "p5.csv")
    assert {n: tuple(int(rows[n][k]) for k in PAY) for n in LATES} == {
        "E1": (2, 11, 0), "E2": (1, 12, 2), "B1": (2, 11, 0)}
    # the workbook gives the same numbers, as numbers
    book = workbook(render("payroll", admin, ReportParams(*MARCH), "xlsx", tmp_path / "p.xlsx"))
    ws = next(ws for ws in book.worksheets if ws.title.startswith("薪资导出"))
    keys = [str(c.value).split(" ", 1)[1] for c in ws[2]]
    assert keys[-1] == "late_let_go_count"
    found = {r[keys.index("employee_number")]: r for r in ws.iter_rows(min_row=3, values_only=True)}
    assert [found["E1"][keys.index(k)] for k in ("late_count", "late_minutes", "late_let_go_count")] == [3, 26, 2]
    assert any(NOTE_SH in w for w in texts(book))


def test_the_summarys_late_rate_leaves_the_let_go_out(admin: User, tmp_path: Path) -> None:
    path = render("summary", admin, ReportParams(*MARCH), "csv", tmp_path / "s.csv")
    sections = report_files.csv_sections(path.read_text(encoding="utf-8-sig"))
    header, *rows = next(body for title, body in sections.items() if title.startswith("按站点"))
    sites = {r[0]: dict(zip(header, r, strict=True)) for r in rows if r[0] in ("上海工厂", "北京工厂")}
    # 上海工厂: E1 3 + E2 1 = 4 late of 2 × 22 = 44 records worked: 4 / 44 = 0.0909
    # 北京工厂: B1 5 of 22: 0.2273
    assert [(sites[s]["迟到次数 Late (times)"], sites[s]["迟到率 Late rate"]) for s in ("上海工厂", "北京工厂")] == [
        ("4", "0.0909"), ("5", "0.2273")]
    header, *rows = next(body for title, body in sections.items() if title.startswith("趋势"))
    day = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    # the 2nd: E1 let go, B1 late: 1 of 3; the 5th: E1 (allowance used up) and B1 late: 2 of 3
    assert [(day[d]["迟到次数 Late (times)"], day[d]["迟到率 Late rate"]) for d in ("03-02", "03-05")] == [
        ("1", "0.3333"), ("2", "0.6667")]


def test_the_daily_reports_late_count_leaves_the_let_go_out(admin: User, tmp_path: Path) -> None:
    def daily(day: int) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str, bool]]]:
        book = workbook(render("daily", admin, ReportParams(date(2026, 3, day), date(2026, 3, day)), "xlsx",
                               tmp_path / f"d{day}.xlsx"))
        ws = next(ws for ws in book.worksheets if ws.title.startswith("按部门"))
        header = [c.value for c in ws[2]]
        sites = {r[0]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=3, values_only=True)
                 if r[0] in ("上海工厂", "北京工厂")}
        ws = next(ws for ws in book.worksheets if ws.title.startswith("明细"))
        header = [c.value for c in ws[2]]
        remark, number = header.index("备注 Remarks"), header.index("工号 Number")
        lines = {r[number].value: (r[remark].value or "", red(r[remark])) for r in ws.iter_rows(min_row=3)
                 if r[number].value in LATES}
        return sites, lines

    # the 2nd: E1 let go (said, not red), B1 late
    sites, lines = daily(2)
    assert (sites["上海工厂"]["迟到 Late"], sites["北京工厂"]["迟到 Late"]) == (0, 1)
    assert lines["E1"] == ("宽限迟到 Late let go", False) and lines["B1"] == ("迟到 Late", True)
    # the 5th alone: the 2nd and 4th before it used E1's allowance, so he is late
    sites, lines = daily(5)
    assert (sites["上海工厂"]["迟到 Late"], lines["E1"]) == (1, ("迟到 Late", True))
    # the 17th: E2 let go but early: the early leave is still red
    sites, lines = daily(17)
    assert (sites["上海工厂"]["迟到 Late"], sites["上海工厂"]["早退 Early"]) == (0, 1)
    assert lines["E2"] == ("宽限迟到 Late let go，早退 Early", True)


def test_a_closed_month_keeps_its_allowance_and_the_note_says_each_months(admin: User, tmp_path: Path) -> None:
    sh = Site.objects.get(code="sh")
    ClosedMonth.objects.create(site=sh, month=date(2026, 3, 1), closed_by="hr", late_allowance=[2, 10])
    SiteCalendar.objects.filter(site=sh).update(late_allowance_times=1, late_allowance_min=3)
    # March as closed: the same figures as before the change
    col, rows, words = monthly(admin, ReportParams(*MARCH, site="sh"), tmp_path / "closed.xlsx")
    assert [int(rows["E1"][col[t]].value or 0) for t in (LATE, LATE_MIN, LET_GO)] == [3, 26, 2]
    assert any(w.startswith(NOTE_SH) for w in words)
    # across into April: March closed with 2 of 10, April with today's 1 of 3, each named with its month
    _, _, words = monthly(admin, ReportParams(date(2026, 3, 30), date(2026, 4, 5), site="sh"), tmp_path / "x.xlsx")
    assert any(w.startswith(f"上海工厂 2026-03：{NOTE_SH}") for w in words)
    assert any(w.startswith("上海工厂 2026-04：每月前 1 次不超过 3 分钟的迟到") for w in words)
