"""Days on duty away (公出: business trips, errands, field work) in every report: worked days, never leave.

The daily records are written straight into the database as the engine lays them down for an approved request of a
leave type marked ``on_duty`` (a whole day: present, source ``on_duty``, the shift's paid hours; half a day: a half
day of source ``on_duty`` whose other half is as its punches made it). The reports are built by the real report code,
written as files and read back with independent readers (openpyxl, the csv module, pdftotext); every expected figure
is worked out by hand in the comments.

The period: Monday 2 to Friday 27 March 2026, four weeks of Monday to Friday, 20 working days.

* E1 张三: 17 days punched present (8 h), Tue 10 and Wed 11 March a whole day on a business trip (8 h each), Wed 18
  half a day on the trip and no punch for the other half (absent): 4 h. Days worked 17 + 2 + 0.5 = 19.5, absent 0.5,
  leave 0, on duty away 2 + 0.5 = 2.5, hours 17 × 8 + 2 × 8 + 4 = 156.
* E2 李四: 18 days punched present (8 h), Tue 10 March annual leave, Wed 18 half a day on the trip and the other half
  punched (4 h punched + 4 h credited = 8 h). Days worked 18 + 0.5 + 0.5 = 19, absent 0, leave 1 (annual), on duty
  away 0.5, hours 18 × 8 + 8 = 152.
"""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from central.accounts.models import User
from central.attendance.models import AttendanceProfile, DailyRecord, LeaveAllowance, LeaveRecord, LeaveType, ShiftType, SiteCalendar
from central.people.models import Department, Employee, Site
from central.reports.registry import ReportParams
from central.reports.tally import Rec, totals_of
from reports import report_files

pytestmark = pytest.mark.django_db
FIRST, LAST = date(2026, 3, 2), date(2026, 3, 27)
PERIOD = ReportParams(FIRST, LAST)
TRIP_DAYS = (date(2026, 3, 10), date(2026, 3, 11))  # E1's whole days away
HALF_DAY = date(2026, 3, 18)  # half a day away for both
LEAVE_DAY = date(2026, 3, 10)  # E2's annual leave
SHANGHAI = ZoneInfo("Asia/Shanghai")
BLUE, RED = "DDEBF7", "FFC7CE"  # the workbook's fills of "info" and "bad" cells


def working_days() -> list[date]:
    found = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    return [d for d in found if d.weekday() < 5]


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    site = Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    sales = Department.objects.create(site=site, name="销售 Sales")
    shift = ShiftType.objects.create(name="day", start=time(9), end=time(18))
    annual = LeaveType.objects.create(code="annual", name="年休假", yearly_days=Decimal(5))
    trip = LeaveType.objects.create(code="trip", name="出差", on_duty=True)
    people = {}
    for number, name in (("E1", "张三"), ("E2", "李四")):
        people[number] = Employee.objects.create(number=number, name=name, site=site, department=sales)
        AttendanceProfile.objects.create(employee=people[number], default_shift=shift, joined=date(2020, 1, 1))
    assert len(working_days()) == 20
    rows = []
    for day in working_days():
        for number in ("E1", "E2"):
            emp = people[number]
            if number == "E1" and day in TRIP_DAYS:  # a whole day away: present, the shift's 8 paid hours
                rows.append(DailyRecord(employee=emp, date=day, shift_name="", status="present", source="on_duty",
                                        leave_type=trip, hours=Decimal("8.00"), final=True))
            elif day == HALF_DAY:  # half a day away, the other half absent (E1) or punched (E2)
                e1 = number == "E1"
                rows.append(DailyRecord(employee=emp, date=day, shift_name="day", status="half_day", source="on_duty",
                                        half_day=True, leave_type=trip, other_half="absent" if e1 else "present",
                                        hours=Decimal("4.00") if e1 else Decimal("8.00"), final=True))
            elif number == "E2" and day == LEAVE_DAY:
                rows.append(DailyRecord(employee=emp, date=day, shift_name="", status="on_leave", source="leave",
                                        leave_type=annual, final=True))
            else:
                rows.append(DailyRecord(employee=emp, date=day, shift_name="day", status="present", source="punches",
                                        hours=Decimal("8.00"), final=True))
    DailyRecord.objects.bulk_create(rows)
    # the requests behind them, for the leave report
    LeaveRecord.objects.create(employee=people["E1"], leave_type=trip, start=TRIP_DAYS[0], end=TRIP_DAYS[1],
                               state="approved", approved_by="hr", reason="广州客户现场")
    LeaveRecord.objects.create(employee=people["E1"], leave_type=trip, start=HALF_DAY, end=HALF_DAY, half_day=True,
                               state="approved", approved_by="hr", reason="上午外出办事")
    LeaveRecord.objects.create(employee=people["E2"], leave_type=trip, start=HALF_DAY, end=HALF_DAY, half_day=True,
                               state="approved", approved_by="hr", reason="下午外勤")
    LeaveRecord.objects.create(employee=people["E2"], leave_type=annual, start=LEAVE_DAY, end=LEAVE_DAY,
                               state="approved", approved_by="hr", reason="探亲")
    # an allowance of the trip type left from before it was on duty away (the console refuses one now): no balance
    LeaveAllowance.objects.create(employee=people["E1"], leave_type=trip, year=2026, days=Decimal(3), set_by="hr")
    return {"admin": User.objects.create_superuser("boss", password="x"), "trip": trip, "annual": annual}


def render(name: str, admin: User, params: ReportParams, fmt: str, path: Path) -> Path:
    return report_files.render(name, admin, params, fmt, path, datetime(2026, 4, 1, 9, tzinfo=SHANGHAI))


def sheet_rows(path: Path, title_start: str) -> tuple[list[str], list[tuple[Any, ...]], Any]:
    """A part's sheet of a workbook: its header (row 2), its rows (from row 3, values) and the sheet."""
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.load_workbook(path)
    sheet = next(ws for ws in workbook.worksheets if ws.title.startswith(title_start))
    header = [c.value for c in sheet[2]]
    return header, [tuple(c.value for c in row) for row in sheet.iter_rows(min_row=3)], sheet


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def rec(status: str, *, half: bool, other: str | None, source: str = "on_duty", leave_type: int | None = 7,
        final: bool = True) -> Rec:
    return Rec(employee_id=1, date=HALF_DAY, shift="day", status=status, source=source, half_day=half,
               leave_type=leave_type, hours=Decimal("4.00"), late=False, early=False, late_min=0, early_min=0,
               overtime_min=0, overtime_kind="workday", overtime_state="", other_half=other, missing_out=False,
               day_kind="workday", final=final)


def test_half_a_day_on_duty_away_counts_its_half_as_worked_whatever_the_other_half() -> None:
    # the other half worked: 0.5 away + 0.5 worked = 1 worked, nothing absent, due 1
    t = totals_of([rec("half_day", half=True, other="present")])
    assert (t.days_worked, t.absent_days, t.expected) == (Decimal("1"), Decimal("0"), Decimal("1"))
    assert (t.leave_days, t.leave_total, t.on_duty_days, t.on_duty_total) == ({}, 0, {7: Decimal("0.5")},
                                                                             Decimal("0.5"))
    # the other half absent: 0.5 worked (away), 0.5 absent, due 1
    t = totals_of([rec("half_day", half=True, other="absent")])
    assert (t.days_worked, t.absent_days, t.expected) == (Decimal("0.5"), Decimal("0.5"), Decimal("1"))
    assert (t.leave_total, t.on_duty_days) == (0, {7: Decimal("0.5")})
    # the other half not known yet (a terminal has not reported): the half away only
    t = totals_of([rec("half_day", half=True, other=None, final=False)])
    assert (t.days_worked, t.absent_days, t.expected, t.provisional) == (Decimal("0.5"), Decimal("0"), Decimal("0.5"), 1)
    assert t.on_duty_total == Decimal("0.5") and t.leave_total == 0


def test_a_whole_day_away_is_worked_and_a_half_day_leave_is_still_leave() -> None:
    whole = rec("present", half=False, other=None)._replace(hours=Decimal("8.00"), shift="")
    half_leave = rec("half_day", half=True, other="present", source="leave", leave_type=3)
    t = totals_of([whole, half_leave, whole._replace(leave_type=8)])
    # two whole days away (1 each) + the worked half of the half-day leave (0.5)
    assert (t.days_worked, t.absent_days, t.expected) == (Decimal("2.5"), Decimal("0"), Decimal("2.5"))
    assert t.leave_days == {3: Decimal("0.5")} and t.leave_total == Decimal("0.5")
    assert t.on_duty_days == {7: Decimal("1"), 8: Decimal("1")} and t.on_duty_total == Decimal("2")
    assert t.hours == Decimal("20.00")


def test_the_monthly_sheet_marks_the_days_away_and_totals_them_apart_from_leave(plant: dict[str, Any],
                                                                                tmp_path: Path) -> None:
    path = render("monthly", plant["admin"], PERIOD, "xlsx", tmp_path / "m.xlsx")
    header, rows, sheet = sheet_rows(path, "考勤月报")
    col = {title: i for i, title in enumerate(header)}
    people = {row[0]: row for row in rows if row[0] in ("E1", "E2")}
    e1, e2 = people["E1"], people["E2"]
    trip_col, annual_col = "出差 公出天 On duty: trip (days)", "年休假 天 Leave: annual (days)"
    assert trip_col in col and annual_col in col and not any("Leave: trip" in str(h) for h in header)
    # E1: 19.5 worked, 0.5 absent, no leave, 2.5 days away, 156 hours
    assert (dec(e1[col["出勤天数 Days worked"]]), dec(e1[col["缺勤天数 Absent (days)"]]), dec(e1[col[annual_col]]),
            dec(e1[col[trip_col]]), dec(e1[col["工时 Hours worked"]])) == (
        Decimal("19.5"), Decimal("0.5"), 0, Decimal("2.5"), 156)
    # E2: 19 worked, nothing absent, 1 day of annual leave, 0.5 away, 152 hours
    assert (dec(e2[col["出勤天数 Days worked"]]), dec(e2[col["缺勤天数 Absent (days)"]]), dec(e2[col[annual_col]]),
            dec(e2[col[trip_col]]), dec(e2[col["工时 Hours worked"]])) == (19, 0, 1, Decimal("0.5"), 152)
    # the days: 出 (出差's first character) for a day away, 出½ for half a day, 年 for the annual leave
    assert [e1[col[t]] for t in ("10 二", "11 三", "18 三", "09 一", "07 六")] == ["出", "出", "出½", "√", "休"]
    assert [e2[col[t]] for t in ("10 二", "11 三", "18 三")] == ["年", "√", "出½"]
    row_of = {r[0].value: r for r in sheet.iter_rows(min_row=3) if r[0].value in ("E1", "E2")}

    def fill(number: str, title: str) -> str:
        return str(row_of[number][col[title]].fill.fgColor.rgb)

    assert fill("E1", "10 二").endswith(BLUE) and fill("E2", "18 三").endswith(BLUE)  # blue, as leave
    assert fill("E1", "18 三").endswith(RED)  # the other half was absent: red, as a half-day leave's would be
    legend = [c.value for r in openpyxl_sheet(path, 0).iter_rows() for c in r if isinstance(c.value, str)]
    assert any("出差（公出，算出勤 On duty away, worked）" in v for v in legend)
    total = next(r for r in rows if r[0] == "合计 Total")
    assert str(total[col[trip_col]]).startswith("=SUM(")  # summed like the leave columns


def openpyxl_sheet(path: Path, index: int) -> Any:
    openpyxl = pytest.importorskip("openpyxl")
    return openpyxl.load_workbook(path).worksheets[index]


def test_the_monthly_pdf_prints_the_marks_of_the_days_away(plant: dict[str, Any], tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (apt poppler-utils, installed by make) is needed to read the PDF back")
    path = render("monthly", plant["admin"], ReportParams(FIRST, LAST, employee="E1"), "pdf", tmp_path / "m.pdf")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    # the legend's label wraps inside its column: its words, whichever line they fall on
    assert "出½" in text and "公出" in text and "On duty away," in text and "worked）" in text
    e1 = " ".join(line for line in text.splitlines() if line.split()[:1] == ["E1"])  # its row in every column block
    assert "19.50" in e1.split() and "2.50" in e1.split()


def test_payroll_counts_the_days_away_as_worked_not_as_leave(plant: dict[str, Any], tmp_path: Path) -> None:
    report_csv = render("payroll", plant["admin"], PERIOD, "csv", tmp_path / "p.csv")
    rows = {r["工号 employee_number"]: r for r in csv.DictReader(io.StringIO(report_csv.read_text(encoding="utf-8-sig")))}
    header = list(rows["E1"])
    # the type's column keeps its key, titled as days away; the new total was added at the end
    assert "公出天数 leave_trip_days" in header and "请假天数 leave_annual_days" in header
    assert header[-3:-1] == ["已月结 month_closed", "公出天数合计 on_duty_days_total"]  # then late_let_go_count
    assert header.index("请假天数 leave_annual_days") < header.index("公出天数 leave_trip_days") < header.index(
        "调休加班小时 overtime_in_lieu_hours")

    def numbers(number: str) -> tuple[Decimal, ...]:
        row = rows[number]
        return tuple(Decimal(row[k]) for k in ("出勤天数 days_worked", "缺勤天数 absent_days", "请假天数合计 leave_days_total",
                                      "请假天数 leave_annual_days", "公出天数 leave_trip_days",
                                      "公出天数合计 on_duty_days_total", "工时 hours_worked"))

    assert numbers("E1") == (Decimal("19.5"), Decimal("0.5"), 0, 0, Decimal("2.5"), Decimal("2.5"), 156)
    assert numbers("E2") == (19, 0, 1, 1, Decimal("0.5"), Decimal("0.5"), 152)

    path = render("payroll", plant["admin"], PERIOD, "xlsx", tmp_path / "p.xlsx")
    header_x, rows_x, _ = sheet_rows(path, "薪资导出")
    keys = [h.split(" ", 1)[1] for h in header_x]
    assert keys[-2:] == ["on_duty_days_total", "late_let_go_count"] and [h.split(" ", 1)[1] for h in header] == keys
    e1 = dict(zip(keys, next(r for r in rows_x if r[keys.index("employee_number")] == "E1"), strict=True))
    assert (dec(e1["days_worked"]), dec(e1["leave_days_total"]), dec(e1["leave_trip_days"]),
            dec(e1["on_duty_days_total"])) == (Decimal("19.5"), 0, Decimal("2.5"), Decimal("2.5"))


def test_the_daily_report_counts_the_days_away_apart_from_came_and_leave(plant: dict[str, Any], tmp_path: Path) -> None:
    path = render("daily", plant["admin"], ReportParams(LEAVE_DAY, LEAVE_DAY), "xlsx", tmp_path / "d10.xlsx")
    header, rows, _ = sheet_rows(path, "按部门")
    assert header[header.index("请假 On leave") + 1] == "公出 On duty"
    dept = dict(zip(header, next(r for r in rows if r[1] == "销售 Sales"), strict=True))
    # 10 March: E1 away for the day (scheduled, not came), E2 on annual leave (not scheduled)
    assert [dept[k] for k in ("人数 Employees", "应出勤 Scheduled", "已出勤 Came", "缺勤 Absent", "请假 On leave",
                              "公出 On duty")] == [2, 1, 0, 0, 1, 1]
    header, rows, _ = sheet_rows(path, "明细")
    lines = {r[1]: dict(zip(header, r, strict=True)) for r in rows if r[1] in ("E1", "E2")}
    assert (lines["E1"]["状态 Status"], lines["E1"]["假别 Leave type"], dec(lines["E1"]["工时 Hours"])) == (
        "公出 On duty away", "出差", 8)
    assert (lines["E2"]["状态 Status"], lines["E2"]["假别 Leave type"]) == ("请假 On leave", "年休假")

    path = render("daily", plant["admin"], ReportParams(HALF_DAY, HALF_DAY), "xlsx", tmp_path / "d18.xlsx")
    header, rows, _ = sheet_rows(path, "按部门")
    dept = dict(zip(header, next(r for r in rows if r[1] == "销售 Sales"), strict=True))
    # 18 March: both half a day away, both scheduled; E2 came for the other half, E1 did not
    assert [dept[k] for k in ("应出勤 Scheduled", "已出勤 Came", "缺勤 Absent", "请假 On leave", "公出 On duty")] == [
        2, 1, 0, 0, 2]
    header, rows, _ = sheet_rows(path, "明细")
    lines = {r[1]: dict(zip(header, r, strict=True)) for r in rows if r[1] in ("E1", "E2")}
    assert [(lines[n]["状态 Status"], lines[n]["假别 Leave type"], dec(lines[n]["工时 Hours"])) for n in ("E1", "E2")] == [
        ("半天 Half day", "出差", 4), ("半天 Half day", "出差", 8)]


def test_the_summary_counts_the_days_away_as_attended(plant: dict[str, Any], tmp_path: Path) -> None:
    path = render("summary", plant["admin"], PERIOD, "csv", tmp_path / "s.csv")
    sections = report_files.csv_sections(path.read_text(encoding="utf-8-sig"))
    header, *rows = next(body for title, body in sections.items() if title.startswith("按部门"))
    assert header[-1] == "公出天数 On duty (days)"
    dept = dict(zip(header, next(r for r in rows if r[1] == "销售 Sales"), strict=True))
    # due: E1 19.5 + 0.5 = 20, E2 19 (the day of leave left out) = 39; worked 19.5 + 19 = 38.5; 38.5 / 39 = 98.72 %
    assert [Decimal(dept[k]) for k in ("应出勤天数 Days due", "出勤天数 Days worked", "缺勤天数 Absent (days)",
                                       "请假天数 Leave (days)", "公出天数 On duty (days)")] == [
        39, Decimal("38.5"), Decimal("0.5"), 1, 3]
    assert dept["出勤率 Attendance rate"] == "0.9872"


def test_the_leave_report_lists_requests_away_but_keeps_no_balance_of_them(plant: dict[str, Any],
                                                                           tmp_path: Path) -> None:
    path = render("leave", plant["admin"], PERIOD, "xlsx", tmp_path / "l.xlsx")
    header, rows, _ = sheet_rows(path, "假期余额")
    balances = [dict(zip(header, r, strict=True)) for r in rows if r[0] in ("E1", "E2")]
    # 年休假 keeps 5 days a year: E2 took 1; 出差 keeps none (not even the allowance left from before)
    assert sorted((b["工号 Number"], b["假别 Leave type"], dec(b["剩余 Left"])) for b in balances) == [
        ("E1", "年休假", 5), ("E2", "年休假", 4)]
    header, rows, _ = sheet_rows(path, "请假明细")
    listed = [dict(zip(header, r, strict=True)) for r in rows if r[0] in ("E1", "E2")]
    assert [(r["工号 Number"], r["假别 Leave type"], dec(r["天数 Days"])) for r in listed] == [
        ("E1", "出差（公出 On duty）", 2), ("E1", "出差（公出 On duty）", Decimal("0.5")),
        ("E2", "年休假", 1), ("E2", "出差（公出 On duty）", Decimal("0.5"))]
