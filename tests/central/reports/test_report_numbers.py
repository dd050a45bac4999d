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
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Count, Sum

from central.accounts.models import Role, User
from central.attendance.demo_history import fill_month
from central.attendance.models import AttendanceProfile, DailyRecord, LeaveType, ShiftType
from central.attendance.requests import file_leave
from central.attendance.services import recompute
from central.cli import main as central_main
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


def expected(number: str, first: date, last: date) -> dict[str, Decimal]:
    """The rules of docs/reports.md, counted here with the ORM: days worked, absent days, annual leave days."""
    recs = _records(number, first, last)
    work = recs.filter(day_kind="workday")
    half_short = work.filter(status="half_day", leave_type__isnull=True).count()
    absent = work.filter(status="absent").count() + Decimal("0.5") * (half_short + work.filter(
        status="half_day", leave_type__isnull=False, other_half="absent").count())
    worked = work.filter(status="present").count() + Decimal("0.5") * (half_short + work.filter(
        status="half_day", leave_type__isnull=False, other_half="present").count())
    annual = recs.filter(status="on_leave", leave_type__code="annual").count() + Decimal("0.5") * recs.filter(
        status="half_day", leave_type__code="annual").count()
    return {"absent": absent, "worked": worked, "annual": annual}


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
        want = expected(number, *MARCH)
        assert (row["absent_days"], row["days_worked"], row["leave_annual"]) == (
            want["absent"], want["worked"], want["annual"]), number
        for rec in recs:
            mark = row[f"d{rec.date:%Y-%m-%d}"]
            if rec.status == "absent":
                assert "×" in mark, (number, rec.date, mark)
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


def test_payroll_gives_the_same_numbers_per_employee_in_stable_columns(month: dict[str, Any]) -> None:
    rows = _build("payroll", month["admin"], *MARCH).part("payroll").records()
    assert list(rows[0])[:8] == ["period_start", "period_end", "employee_number", "employee_name", "site", "department",
                                 "days_worked", "hours_worked"]
    assert "leave_annual_days" in rows[0]
    for row in rows:
        number = row["employee_number"]
        recs = _records(number, *MARCH)
        want = expected(number, *MARCH)
        assert row["days_worked"] == want["worked"] and row["absent_days"] == want["absent"], number
        assert row["leave_annual_days"] == want["annual"], number
        assert row["late_minutes"] == (recs.aggregate(s=Sum("late_min"))["s"] or 0), number
        assert row["hours_worked"] == (recs.aggregate(s=Sum("hours"))["s"] or 0), number
        assert (row["period_start"], row["period_end"]) == MARCH


def test_the_daily_report_counts_each_department_and_lists_the_punches(month: dict[str, Any]) -> None:
    day = (DailyRecord.objects.filter(late=True, date__gte=MARCH[0], date__lte=MARCH[1]).values("date")
           .annotate(n=Count("pk")).order_by("-n", "date")[0]["date"])
    report = _build("daily", month["admin"], day, day)
    todays = DailyRecord.objects.filter(date=day)
    by_dept = {r["department"]: r for r in report.part("departments").records()}
    for dept in ("行政 Office", "仓储 Warehouse", "生产 Production"):
        mine = todays.filter(employee__department__name=dept)
        assert by_dept[dept]["late"] == mine.filter(late=True).count(), dept
        assert by_dept[dept]["absent"] == mine.filter(status="absent").count(), dept
        assert by_dept[dept]["employees"] == Employee.objects.filter(department__name=dept).count(), dept
    details = report.part("details").records()
    assert len(details) == todays.count()
    late = todays.filter(late=True).select_related("employee").first()
    assert late is not None
    line = next(r for r in details if r["number"] == late.employee.number)
    first_punch = Punch.objects.get(id=late.punch_ids[0]).punched_at.astimezone(ZONE)
    assert f"{first_punch:%H:%M} gate-1" in line["punches"] and "迟到" in line["remarks"]
    assert line["late_min"] == late.late_min


def test_the_summary_rates_match_the_records_and_carry_charts(month: dict[str, Any]) -> None:
    report = _build("summary", month["admin"], *MARCH)
    departments = report.part("departments")
    assert departments.charts and departments.charts[0].kind == "bar"
    for row in departments.records():
        numbers = Employee.objects.filter(department__name=row["department"]).values_list("number", flat=True)
        worked = sum((expected(n, *MARCH)["worked"] for n in numbers), Decimal(0))
        absent = sum((expected(n, *MARCH)["absent"] for n in numbers), Decimal(0))
        assert row["rate"] == (worked / (worked + absent)).quantize(Decimal("0.0001")), row["department"]
        assert row["late"] == DailyRecord.objects.filter(employee__number__in=numbers, late=True,
                                                        date__gte=MARCH[0], date__lte=MARCH[1]).count()
    trend = report.part("trend")
    assert [r["period"] for r in trend.records()][:2] == ["03-01", "03-02"] and len(trend.rows) == 31
    assert trend.charts[0].kind == "line" and trend.records()[0]["rate"] is None  # nothing was due on March 1st
    quarter = _build("summary", month["admin"], date(2026, 1, 1), date(2026, 3, 31)).part("trend")
    assert quarter.records()[0]["period"] == "2026-W01" and len(quarter.rows) == 14


def test_the_exceptions_list_has_every_anomaly_with_its_state(month: dict[str, Any]) -> None:
    march = DailyRecord.objects.filter(date__gte=MARCH[0], date__lte=MARCH[1])
    absent = march.filter(status="absent").select_related("employee").order_by("date", "employee__number").first()
    assert absent is not None
    file_leave(absent.employee, LeaveType.objects.get(code="annual"), absent.date, absent.date, reason="病了",
               actor="test")
    report = _build("exceptions", month["admin"], *MARCH)
    rows = report.part("exceptions").records()
    assert sum(1 for r in rows if r["kind"] == "迟到 Late") == march.filter(late=True).count()
    assert sum(1 for r in rows if r["kind"] == "缺勤 Absent") == march.filter(status="absent").count()
    assert sum(1 for r in rows if r["kind"] == "早退 Left early") == march.filter(early=True).count()
    mine = [r for r in rows if r["number"] == absent.employee.number and r["date"] == absent.date
            and r["kind"] == "缺勤 Absent"]
    assert [r["state"] for r in mine] == ["已说明 Explained"] and mine[0]["request"].startswith("请假 Leave #")
    others = [r for r in rows if not (r["number"] == absent.employee.number and r["date"] == absent.date)]
    assert {r["state"] for r in others} == {"待处理 Open"}
    counts = {r["kind"]: r for r in report.part("counts").records()}
    assert counts["缺勤 Absent"]["explained"] == 1
    assert counts["缺勤 Absent"]["total"] == march.filter(status="absent").count()


def _cli(tmp_path: Path, *args: str) -> int:
    from django.db import connection

    return central_main(["--db", str(connection.settings_dict["NAME"]), "--pki", str(tmp_path / "pki"), *args])


def test_the_command_writes_the_file_with_a_progress_bar(month: dict[str, Any], tmp_path: Path, capsys) -> None:
    out = tmp_path / "march.csv"
    assert _cli(tmp_path, "report", "monthly", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "csv",
                "--site", "sh", "--out", str(out)) == 0
    printed = capsys.readouterr()
    assert "写出 writing [##############################]" in printed.err and str(out) in printed.out
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 1 + Employee.objects.count() + 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "pki") == ["march.csv"]


def test_the_command_refuses_clearly_and_leaves_nothing_half_written(month: dict[str, Any], tmp_path: Path,
                                                                      capsys) -> None:
    assert _cli(tmp_path, "report", "weekly-ish", "--from", "2026-03-01", "--to", "2026-03-31") == 2
    assert "no report named 'weekly-ish'" in capsys.readouterr().err
    assert _cli(tmp_path, "report", "monthly", "--from", "2026-03-31", "--to", "2026-03-01") == 2
    assert "before the start" in capsys.readouterr().err
    assert _cli(tmp_path, "report", "monthly", "--from", "2026-03-01", "--to", "2026-03-31", "--site", "nowhere") == 2
    assert "no site 'nowhere'" in capsys.readouterr().err
    missing = tmp_path / "no-such-folder" / "x.csv"
    assert _cli(tmp_path, "report", "monthly", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "csv",
                "--quiet", "--out", str(missing)) == 1
    assert "cannot write" in capsys.readouterr().err and not missing.parent.exists()


def _sheet_rows(workbook: Any, title_start: str) -> tuple[list[str], list[tuple[Any, ...]], Any]:
    sheet = next(ws for ws in workbook.worksheets if ws.title.startswith(title_start))
    header = [c.value for c in sheet[2]]
    rows = [tuple(c.value for c in row) for row in sheet.iter_rows(min_row=3)]
    return header, rows, sheet


def test_the_workbook_read_back_holds_the_engines_numbers(month: dict[str, Any], tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "march.xlsx"
    with path.open("wb") as out:
        registry.render(_build("monthly", month["admin"], *MARCH), "xlsx", out)
    workbook = openpyxl.load_workbook(path)
    header, rows, sheet = _sheet_rows(workbook, "考勤月报")
    col = {title: i for i, title in enumerate(header)}
    people = {row[0]: row for row in rows if row[0] and row[0] != "合计 Total"}
    assert set(people) == set(Employee.objects.values_list("number", flat=True))
    for number, row in people.items():
        recs = _records(number, *MARCH)
        assert row[col["迟到分钟 Late (min)"]] == (recs.aggregate(s=Sum("late_min"))["s"] or 0), number
        assert Decimal(str(row[col["工时 Hours worked"]])) == (recs.aggregate(s=Sum("hours"))["s"] or 0), number
        assert Decimal(str(row[col["缺勤天数 Absent (days)"]])) == expected(number, *MARCH)["absent"], number
    x = people["X001"]
    assert x[col["姓名 Name"]] == "'" + INJECTION  # text, shown as typed
    assert Decimal(str(x[col["工时 Hours worked"]])) == month["night_record"].hours  # the night of March 31st
    assert "迟" in x[col["31 二"]]
    total = next(row for row in rows if row[0] == "合计 Total")
    late_formula = total[col["迟到次数 Late (times)"]]
    assert isinstance(late_formula, str) and late_formula.startswith("=SUM(")
    assert sum(row[col["迟到次数 Late (times)"]] for row in people.values()) == DailyRecord.objects.filter(
        late=True, date__gte=MARCH[0], date__lte=MARCH[1]).count()
    formulas = [c for r in sheet.iter_rows() for c in r if c.data_type == "f"]
    assert formulas and {c.row for c in formulas} == {rows.index(total) + 3}  # the totals row's SUMs, nothing else
    assert all(str(c.value).startswith("=SUM(") for c in formulas)


def test_the_payroll_workbook_and_csv_agree_with_the_records(month: dict[str, Any], tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    report = _build("payroll", month["admin"], *MARCH)
    with (tmp_path / "p.xlsx").open("wb") as out:
        registry.render(report, "xlsx", out)
    with (tmp_path / "p.csv").open("wb") as out:
        registry.render(report, "csv", out)
    header, rows, _ = _sheet_rows(openpyxl.load_workbook(tmp_path / "p.xlsx"), "薪资导出")
    keys = [h.split(" ", 1)[1] for h in header]
    csv_rows = list(csv.DictReader(io.StringIO((tmp_path / "p.csv").read_text(encoding="utf-8-sig"))))
    assert [h.split(" ", 1)[1] for h in csv_rows[0]] == keys
    for values in rows:
        row = dict(zip(keys, values, strict=True))
        number = row["employee_number"]
        want = expected(number, *MARCH)
        assert Decimal(str(row["days_worked"])) == want["worked"], number
        assert Decimal(str(row["leave_annual_days"])) == want["annual"], number
        from_csv = next(r for r in csv_rows if r["工号 employee_number"] == number)
        assert Decimal(from_csv["出勤天数 days_worked"]) == want["worked"], number
        assert from_csv["期间开始 period_start"] == "2026-03-01"


def test_the_pdf_prints_the_night_shift_and_the_formula_name_as_they_are(month: dict[str, Any], tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (apt poppler-utils, installed by make) is needed to read the PDF back")
    path = tmp_path / "x.pdf"
    with path.open("wb") as out:
        registry.render(_build("monthly", month["admin"], *MARCH, employee="X001"), "pdf", out)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    night = month["night_record"]
    # the sheet is wider than the page: its column blocks each print an X001 line; read their numbers in column order,
    # wherever the blocks split (one more leave type moves a column from one block to the next)
    lines = [line for line in text.splitlines() if line.strip().startswith("X001")]
    numbers = [t for line in lines for t in line.split()[1:] if t.replace(".", "", 1).isdigit()]
    assert numbers[:3] == ["1.00", "1", str(night.late_min)]  # a day worked (the 31st; absent the 30th), late once, its minutes
    assert f"{night.hours:.2f}" in numbers
    assert "=HYPERLIN" in text and "点我" in text  # printed as typed: a PDF runs nothing
    assert "员工 Employee: X001" in text
