"""排班导入 Importing a schedule: the schedule report exported, edited with openpyxl as HR edits it in Excel and
imported back changes exactly the cells edited (consecutive days on one shift as one agreed change), refuses what a
file must not change (a holiday, a day on leave, a day that already has a change, an unknown shift or employee)
naming the row and the day, writes nothing while any cell is wrong, and reads day headers as dates, month and day,
or day of the month. The plan is read back through the team schedule's rows, the changes and the audit log.
See tests/central/schedule_plant.py for March 2026."""
from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from central_support import client_for
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from schedule_plant import march_plant

from central.accounts.models import AuditEntry, Role, User
from central.attendance import schedule_import
from central.attendance.models import ShiftChange
from central.attendance.team_schedule import planned_rows
from central.people.importing import ImportFileError
from central.reports import registry
from central.reports.registry import ReportParams

pytestmark = pytest.mark.django_db
openpyxl = pytest.importorskip("openpyxl")
MARCH = date(2026, 3, 1)


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    found = march_plant()
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([found["site"]])
    return {**found, "hr": hr}


def exported(plant: dict[str, Any]) -> Any:
    """装配's March as the schedule report writes it, opened with openpyxl."""
    report = registry.build("schedule", plant["hr"], ReportParams(MARCH, date(2026, 3, 31), "s1", "装配"))
    out = io.BytesIO()
    registry.render(report, "xlsx", out)
    return openpyxl.load_workbook(io.BytesIO(out.getvalue()))


def edit(book: Any, changes: dict[tuple[str, int], str]) -> bytes:
    """The workbook with the cells of (工号, day of March) set, as HR types them, saved."""
    sheet = next(ws for ws in book.worksheets if ws.title.startswith("排班表"))
    header = [c.value for c in sheet[2]]
    for (number, day), text in changes.items():
        row = next(r for r in sheet.iter_rows(min_row=3) if r[0].value == number)
        row[next(i for i, h in enumerate(header) if isinstance(h, str) and h.startswith(f"{day:02d} "))].value = text
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def plan_of(plant: dict[str, Any], number: str, days: list[int]) -> list[str]:
    [row] = planned_rows([plant["people"][number]], [date(2026, 3, d) for d in days])
    return [c.leave or ("休" if c.rest else c.name) for c in row.cells]


def test_the_report_edited_and_imported_back_changes_only_the_cells_edited(plant) -> None:
    book = exported(plant)
    unchanged = schedule_import.plan(plant["hr"], schedule_import.read_grid("march.xlsx", edit(book, {}), MARCH))
    assert unchanged.ok and unchanged.changes == 0 and [r.number for r in unchanged.rows] == ["E1", "E2", "E3"]
    # 张三 on nights Monday 2 and Tuesday 3 March, days again on Wednesday; 李四 rests on Monday 16 March
    data = edit(exported(plant), {("E1", 2): "night", ("E1", 3): "night", ("E2", 16): "休"})
    grid = schedule_import.read_grid("march.xlsx", data, MARCH)
    assert (grid.days[0], grid.days[-1], len(grid.days)) == (MARCH, date(2026, 3, 31), 31)
    checked = schedule_import.plan(plant["hr"], grid)
    assert checked.ok and (checked.changes, checked.days_changed) == (2, 3)
    assert [(r.number, [(x.start, x.end, x.label, x.was) for x in r.runs]) for r in checked.rows if r.runs] == [
        ("E1", [(date(2026, 3, 2), date(2026, 3, 3), "night", ["day", "day"])]),
        ("E2", [(date(2026, 3, 16), date(2026, 3, 16), "休", ["day"])])]

    done = schedule_import.apply(plant["hr"], grid, source="march.xlsx")
    assert (done.employees, done.changes, done.days) == (2, 2, 3)
    assert plan_of(plant, "E1", [1, 2, 3, 4]) == ["休", "night", "night", "day"]
    assert plan_of(plant, "E2", [13, 16, 17]) == ["night", "休", "day"]
    made = ShiftChange.objects.filter(reason="排班导入 march.xlsx / schedule import").order_by("employee__number")
    assert [(c.employee.number, c.start, c.end, c.shift.name if c.shift else None, c.state, c.approved_by, c.was)
            for c in made] == [("E1", date(2026, 3, 2), date(2026, 3, 3), "night", "approved", "hr", "day"),
                               ("E2", date(2026, 3, 16), date(2026, 3, 16), None, "approved", "hr", "day")]
    entry = AuditEntry.objects.get(action="attendance.schedule_import")
    assert (entry.target, entry.detail["changes"], entry.detail["days"], entry.detail["numbers"]) == (
        "march.xlsx", 2, 3, ["E1", "E2"])
    again = schedule_import.plan(plant["hr"], schedule_import.read_grid("march.xlsx", data, MARCH))
    assert again.ok and again.changes == 0  # the same file again: it says what the plan now says
    other = schedule_import.plan(plant["hr"], schedule_import.read_grid("march.xlsx", edit(exported(plant), {
        ("E1", 3): "day"}), MARCH))  # a day the import changed is changed on the team schedule, not by another file
    assert [(r.number, r.errors[0][0]) for r in other.rows if r.errors] == [("E1", "2026-03-03")]


def test_what_a_file_must_not_change_is_refused_on_its_cell_and_nothing_is_written(plant) -> None:
    data = edit(exported(plant), {("E1", 2): "night", ("E1", 14): "night",  # 14 March: HR's change stands
                                  ("E3", 10): "day",  # on 年假
                                  ("E2", 4): "早班",  # no such shift
                                  ("E2", 5): "假"})  # a holiday is the calendar's
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = next(ws for ws in book.worksheets if ws.title.startswith("排班表"))
    sheet.append(["E4", "钱七"])  # 包装's: outside the export, but in scope: fine, nothing to change
    sheet.append(["X9", "无名", None, "day"])
    out = io.BytesIO()
    book.save(out)
    checked = schedule_import.plan(plant["hr"], schedule_import.read_grid("march.xlsx", out.getvalue(), MARCH))
    errors = {r.number: [(d, m.split(" / ")[0]) for d, m in r.errors] for r in checked.rows if r.errors}
    assert errors == {
        "E1": [("2026-03-14", "这天已有调班或换班，请在排班表上处理")],
        "E2": [("2026-03-04", "没有名为 早班 的班次"), ("2026-03-05", "节假日在节假日页设置")],
        "E3": [("2026-03-10", "这天已请年假，请先处理请假")],
        "X9": [("", "没有工号为 X9 的员工（或不在您的管理范围内）")]}
    with pytest.raises(schedule_import.ScheduleRefused):
        schedule_import.apply(plant["hr"], schedule_import.read_grid("march.xlsx", out.getvalue(), MARCH), source="x")
    assert ShiftChange.objects.count() == 1  # only the plant's own


def test_day_headers_are_dates_month_and_day_or_days_of_the_month() -> None:
    def days(header: list[Any], month: date = MARCH) -> list[date]:
        book = openpyxl.Workbook()
        book.active.append(["说明：四月排班"])  # a title line above the header
        book.active.append(["工号", "姓名", *header])
        book.active.append(["E1", "张三"])
        out = io.BytesIO()
        book.save(out)
        return schedule_import.read_grid("s.xlsx", out.getvalue(), month).days

    assert days([date(2026, 3, 30), "2026-03-31", "2026/4/1"]) == [date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1)]
    assert days(["12/31", "1/1", "1/2"], date(2026, 12, 1)) == [date(2026, 12, 31), date(2027, 1, 1),
                                                                date(2027, 1, 2)]  # into the next year, and on in it
    assert days(["31", "1", "28", "1"], date(2026, 1, 1)) == [date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 28),
                                                              date(2026, 3, 1)]
    with pytest.raises(ImportFileError, match="2026 年 2 月没有这一天"):
        days(["31", "30"], date(2026, 1, 1))  # after 31 January, 30 is February's: there is none
    assert days(["30 一", "31 二", "01 三", "2日"]) == [date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1),
                                                       date(2026, 4, 2)]  # the numbers start again: April
    with pytest.raises(ImportFileError, match="表头里没有日期列"):
        days(["部门", "备注"])
    with pytest.raises(ImportFileError, match="日期列不是依次排列的"):
        days(["2026-03-02", "2026-03-01"])
    with pytest.raises(ImportFileError, match="找不到带“工号”列的表头"):
        schedule_import.read_grid("s.csv", "姓名,01\n张三,day\n".encode(), MARCH)


def test_the_console_checks_a_schedule_then_records_it(plant) -> None:
    hr = client_for(plant["hr"])
    url = reverse("console:attendance_team_import")
    team = hr.get(reverse("console:attendance_team"), {"month": "2026-03"}).content.decode()
    assert f"{url}?month=2026-03" in team
    assert 'value="2026-03"' in hr.get(url, {"month": "2026-03"}).content.decode()
    data = edit(exported(plant), {("E1", 2): "night", ("E1", 3): "night"})
    page = hr.post(url, {"action": "check", "month": "2026-03",
                         "file": SimpleUploadedFile("march.xlsx", data)}).content.decode()
    assert 'id="import-apply"' in page and 'data-run="2026-03-02"' in page and "03-02–03-03 night" in page
    done = hr.post(url, {"action": "import"}, follow=True)
    assert "已导入排班 march.xlsx：1 名员工的 2 天改了班" in done.content.decode()
    assert plan_of(plant, "E1", [2, 3]) == ["night", "night"]
    assert 'id="field-month"' in hr.post(url, {"action": "check", "month": "March",
                                               "file": SimpleUploadedFile("march.xlsx", data)}).content.decode()
    broken = hr.post(url, {"action": "check", "month": "2026-03", "file": SimpleUploadedFile("m.pdf", b"%PDF")})
    assert "请上传 .xlsx 或 .csv 文件" in broken.content.decode()
    manager = User.objects.create_user("mg", password="x" * 12, role=Role.MANAGER)
    manager.departments.set([plant["assembly"]])
    assert client_for(manager).get(url).status_code == 403
