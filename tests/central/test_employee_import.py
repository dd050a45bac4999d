"""员工导入 Import employees: files written here with openpyxl and the csv module as HR's spreadsheets would be, each row
checked (added, changed, unchanged, or refused naming its row and column) before anything is written, all rows or
none written, the roster's version and the audit log, the attendance terms, the punched days recomputed, broken files
refused with a clear message, and the console page. Read back through the models, the audit log and the pages' HTML."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from central_support import client_for, store_card_punches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone as dj_timezone

from central.accounts.models import AuditEntry, Role, User
from central.attendance.models import AttendanceProfile, DailyRecord, ShiftType, SiteCalendar
from central.people import importing, roster
from central.people.models import Department, Employee, EmployeeMove, Site

pytestmark = pytest.mark.django_db
openpyxl = pytest.importorskip("openpyxl")
HEADER = ["工号 Number", "姓名 Name", "站点 Site", "部门 Department", "卡号 Card", "入职日期 Joined", "参加工作日期 Started working",
          "离职日期 Left", "默认班次 Default shift", "在职 Active"]


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    """上海工厂 (sh) with 装配 and 白班 09:00–18:00, every day a working day; 张三 (A1000, card 10001) works there.
    北京工厂 (bj) has 李雷 (B2000). 人事 HR admin of sh only."""
    sh = Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    bj = Site.objects.create(code="bj", name="北京工厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=sh, weekly_rest=[])
    assembly = Department.objects.create(site=sh, name="装配")
    day = ShiftType.objects.create(name="白班", start=time(9), end=time(18))
    roster.upsert_employees([{"number": "A1000", "name": "张三", "site": "sh", "department": "装配", "card": "10001"},
                             {"number": "B2000", "name": "李雷", "site": "bj"}], actor="test")
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([sh])
    return {"sh": sh, "bj": bj, "assembly": assembly, "day": day, "hr": hr}


def xlsx(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table(rows: list[list[Any]]) -> importing.Table:
    return importing.read_table("people.xlsx", xlsx(rows))


MIXED = [
    ["A1001", "张伟", "sh", "装配", None, datetime(2026, 3, 1), "2016/7/1", None, "白班", "是"],  # row 2: new
    ["A1000", None, None, "仓储", None, None, None, None, None, None],  # 3: moves to a department not there yet
    ["A1002", "李娜", "sh", None, None, None, None, None, None, None],  # 4: new, nothing else
    [None, "无名", "sh", None, None, None, None, None, None, None],  # 5: no number
    ["A1001", "张伟", "sh", None, None, None, None, None, None, None],  # 6: the number again
    ["B2000", "李雷", "bj", None, None, None, None, None, None, None],  # 7: another site's employee
    ["A1003", "王芳", "gz", None, None, None, None, None, None, None],  # 8: no such site
    ["A1004", "赵强", "sh", None, None, "2026-13-01", None, None, "夜班", None],  # 9: no such month, no such shift
    ["A1005", "刘洋", "sh", None, "10001", None, None, None, None, None],  # 10: 张三's card
    ["A1006", "陈静", "sh", None, None, None, None, None, None, "maybe"],  # 11: neither yes nor no
    ["A1007", "孙丽", "sh", None, None, "2026-03-01", "2027-01-01", "2026-02-01", None, None],  # 12: dates out of order
]


def test_each_row_says_what_it_would_do_and_a_file_with_errors_writes_nothing(plant) -> None:
    checked = importing.plan(plant["hr"], table(MIXED))
    found = {r.line: (r.action, [k for k, _m in r.errors]) for r in checked.rows}
    assert found == {
        2: ("add", []), 3: ("change", []), 4: ("add", []), 5: ("error", ["number"]), 6: ("error", ["number"]),
        7: ("error", ["number"]), 8: ("error", ["site"]), 9: ("error", ["joined", "default_shift"]),
        10: ("error", ["card"]), 11: ("error", ["active"]), 12: ("error", ["left", "work_started"])}
    messages = {r.line: [m for _k, m in r.errors] for r in checked.rows}
    assert messages[6] == ["与第 2 行工号重复 / The same number as row 2"]
    assert messages[7] == ["该工号的员工不在您的管理范围内 / The employee with this number is outside your scope"]
    assert messages[9][0] == "入职日期不是日期：2026-13-01（如 2026-03-01） / Joined is not a date: 2026-13-01 (e.g. 2026-03-01)"
    assert messages[9][1] == "没有名为 夜班 的班次 / No shift named 夜班"
    assert messages[10] == ["该卡已被员工 A1000 使用 / Card already held by employee A1000"]
    assert [r.changes for r in checked.rows if r.line == 3] == [["department"]]
    assert (checked.count("add"), checked.count("change"), checked.count("error"), checked.ok) == (2, 1, 8, False)

    before = (Employee.objects.count(), roster.current_version(), Department.objects.count())
    with pytest.raises(importing.ImportRefused) as refused:
        importing.apply(plant["hr"], table(MIXED), source="people.xlsx")
    assert str(refused.value) == "有 8 行有错误，没有导入任何员工 / 8 rows have errors: no employee was imported"
    assert (Employee.objects.count(), roster.current_version(), Department.objects.count()) == before
    assert not AuditEntry.objects.filter(action="employee.import").exists()


def test_a_clean_file_adds_and_changes_everyone_at_once_and_again_changes_nothing(plant) -> None:
    version = roster.current_version()
    done = importing.apply(plant["hr"], table(MIXED[:3]), source="people.xlsx")
    assert (done.added, done.changed, done.version) == (["A1001", "A1002"], ["A1000"], version + 3)
    zhang_wei = Employee.objects.select_related("site", "department").get(number="A1001")
    assert (zhang_wei.name, zhang_wei.site.code, zhang_wei.department.name, zhang_wei.active) == ("张伟", "sh", "装配", True)
    terms = AttendanceProfile.objects.get(employee=zhang_wei)
    assert (terms.joined, terms.work_started, terms.default_shift) == (date(2026, 3, 1), date(2016, 7, 1), plant["day"])
    zhang_san = Employee.objects.select_related("department").get(number="A1000")
    assert (zhang_san.name, zhang_san.department.name, zhang_san.card) == ("张三", "仓储", "10001")  # blanks kept
    move = EmployeeMove.objects.get(employee=zhang_san)
    assert (move.since, move.from_department, move.to_department.name) == (
        dj_timezone.localdate(), plant["assembly"], "仓储")
    entry = AuditEntry.objects.get(action="employee.import")
    assert (entry.actor, entry.target, entry.detail) == ("hr", "people.xlsx", {
        "added": ["A1001", "A1002"], "changed": {"A1000": ["department"]}, "roster_version": version + 3})
    assert {e["number"] for e in roster.delta(version)["upserts"]} == {"A1000", "A1001", "A1002"}  # to the doors

    again = importing.plan(plant["hr"], table(MIXED[:3]))
    assert [r.action for r in again.rows] == ["same", "same", "same"] and not again.writes
    changed = importing.plan(plant["hr"], table([["A1001", None, None, None, None, None, None, "2026-12-31", None, "否"]]))
    assert [(r.action, r.changes) for r in changed.rows] == [("change", ["left", "active"])]


def test_days_punched_before_the_employee_was_imported_are_counted_once_imported(plant) -> None:
    day = dj_timezone.localdate() - timedelta(days=3)
    shanghai = timezone(timedelta(hours=8))
    store_card_punches("A1001", (datetime.combine(day, time(8, 58), shanghai), "in"),
                       (datetime.combine(day, time(18, 2), shanghai), "out"), site="sh")
    assert not DailyRecord.objects.filter(date=day).exists()  # a number nobody has yet
    importing.apply(plant["hr"], table([["A1001", "张伟", "sh", "装配", None, day - timedelta(days=30), None, None, "白班",
                                         None]]), source="people.xlsx")
    record = DailyRecord.objects.get(employee__number="A1001", date=day)
    assert (record.status, record.late, record.early) == ("present", False, False)


def test_csv_in_gb18030_or_with_semicolons_and_english_headers_reads_the_same() -> None:
    text = "工号,姓名,站点,入职日期\r\nA1001,张伟,sh,2026.3.1\r\n,,,\r\nA1002,李娜,sh,46082\r\n"
    found = importing.read_table("people.csv", text.encode("gb18030"))
    assert found.rows == [(2, {"number": "A1001", "name": "张伟", "site": "sh", "joined": "2026.3.1"}),
                          (4, {"number": "A1002", "name": "李娜", "site": "sh", "joined": "46082"})]  # the blank row skipped
    assert importing.parse_date("2026.3.1") == date(2026, 3, 1) and importing.parse_date("46082") == date(2026, 3, 1)
    assert importing.parse_date("2026年3月1日") == date(2026, 3, 1) and importing.parse_date("20260301") == date(2026, 3, 1)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerows([["Number", "Name", "Site code", "Notes"], ["A1001", "张伟", "sh", "夜班组长"]])
    english = importing.read_table("people.csv", ("\ufeff" + out.getvalue()).encode("utf-8"))
    assert english.rows == [(2, {"number": "A1001", "name": "张伟", "site": "sh"})] and english.ignored == ["Notes"]


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("people.xlsx", b"PK\x03\x04 not really a workbook", "无法读取这个 Excel 文件 / The Excel file cannot be read"),
    ("people.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "不支持旧版 .xls 文件"),
    ("people.pdf", b"%PDF-1.4", "请上传 .xlsx 或 .csv 文件 / Upload an .xlsx or .csv file"),
    ("people.csv", b"", "文件是空的 / The file is empty"),
    ("people.csv", "工号,姓名\n".encode(), "表头下面没有员工 / No employees below the header"),
    ("people.csv", "姓名,站点\n张伟,sh\n".encode(), "缺少必需的列：工号（表头在第 1 行） / A required column is missing: Number"),
    ("people.csv", "工号,Number\nA1,A1\n".encode(), "这些列出现了不止一次：工号 / These columns appear more than once: Number"),
    ("people.csv", b"\x00\x01\x02binary", "这不是文本 CSV 文件"),
])
def test_a_file_that_cannot_be_read_is_refused_saying_why(name: str, data: bytes, expected: str) -> None:
    with pytest.raises(importing.ImportFileError) as refused:
        importing.read_table(name, data)
    assert str(refused.value).startswith(expected)


def test_too_many_rows_or_bytes_are_refused() -> None:
    rows = "工号\n" + "".join(f"A{i}\n" for i in range(importing.MAX_ROWS + 1))
    with pytest.raises(importing.ImportFileError, match="一次最多导入 5000 行"):
        importing.read_table("people.csv", rows.encode())
    with pytest.raises(importing.ImportFileError, match="文件超过 5 MB"):
        importing.read_table("people.csv", b"x" * (importing.MAX_BYTES + 1))


def test_the_console_checks_a_file_then_imports_it(plant) -> None:
    hr = client_for(plant["hr"])
    url = reverse("console:employee_import")
    assert reverse("console:employee_import") in hr.get(reverse("console:employees")).content.decode()
    template = hr.get(url, {"template": "1"})
    assert template["Content-Disposition"] == 'attachment; filename="employees-template.xlsx"'
    book = openpyxl.load_workbook(io.BytesIO(template.content))
    assert [c.value for c in book.worksheets[0][1]] == HEADER  # the template reads back as a file to import
    assert importing.read_table("t.xlsx", template.content).columns == [c.key for c in importing.COLUMNS]

    page = hr.post(url, {"action": "check", "file": SimpleUploadedFile("people.xlsx", xlsx(MIXED))}).content.decode()
    assert 'data-count="error"' in page and "请改正有错误的行后重新上传" in page and 'id="import-apply"' not in page
    row = page.split('id="import-row-9"')[1].split("</tr>")[0]
    assert 'data-action="error"' in row and "没有名为 夜班 的班次" in row
    # an import posted anyway (the page offered none) is checked again and refused
    refused = hr.post(url, {"action": "import"}).content.decode()
    assert "有 8 行有错误，没有导入任何员工" in refused and not Employee.objects.filter(number="A1001").exists()

    page = hr.post(url, {"action": "check", "file": SimpleUploadedFile("people.xlsx", xlsx(MIXED[:3]))}).content.decode()
    assert 'id="import-apply"' in page and 'id="import-row-3" data-action="change"' in page and "部门 Department" in page
    done = hr.post(url, {"action": "import"}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("console:employees")
    assert "已导入 people.xlsx：新增 2 人，更新 1 人" in done.content.decode()
    assert Employee.objects.filter(number__in=["A1001", "A1002"]).count() == 2
    again = hr.post(url, {"action": "import"}, follow=True)  # the checked file was used once
    assert "请先上传文件并检查" in again.content.decode()

    broken = hr.post(url, {"action": "check", "file": SimpleUploadedFile("people.xlsx", b"PK\x03\x04junk")}).content.decode()
    assert 'id="field-file"' in broken and "无法读取这个 Excel 文件" in broken
    assert 'id="field-file"' in hr.post(url, {"action": "check"}).content.decode()  # no file at all

    manager = User.objects.create_user("mg", password="x" * 12, role=Role.MANAGER)
    manager.departments.set([plant["assembly"]])
    assert client_for(manager).get(url).status_code == 403


def test_the_list_exported_reads_back_as_an_import_that_changes_nothing(plant) -> None:
    importing.apply(plant["hr"], table(MIXED[:3]), source="people.xlsx")
    hr = client_for(plant["hr"])
    answer = hr.get(reverse("console:employees"), {"export": "xlsx"})
    assert answer["Content-Disposition"] == 'attachment; filename="employees.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    assert [(r[0], r[1], r[2], r[3], r[4], r[8], r[9]) for r in rows[1:]] == [  # 李雷 (bj) is outside the scope
        ("A1000", "张三", "sh", "仓储", "10001", None, "是"), ("A1001", "张伟", "sh", "装配", None, "白班", "是"),
        ("A1002", "李娜", "sh", None, None, None, "是")]
    assert (rows[2][5].date(), rows[2][6].date()) == (date(2026, 3, 1), date(2016, 7, 1))  # dates as dates
    back = importing.plan(plant["hr"], importing.read_table("employees.xlsx", answer.content))
    assert [r.action for r in back.rows] == ["same", "same", "same"]  # edited nothing: imports nothing
    one = hr.get(reverse("console:employees"), {"export": "xlsx", "q": "A1001"})
    assert [r[0] for r in openpyxl.load_workbook(io.BytesIO(one.content)).worksheets[0].iter_rows(
        min_row=2, values_only=True)] == ["A1001"]
    assert "export=xlsx" in hr.get(reverse("console:employees"), {"q": "A1"}).content.decode()


def test_an_import_cut_short_after_its_commit_leaves_its_recompute_queued_for_the_follower(plant, monkeypatch) -> None:
    """The recompute of the days an import changes is queued in the import's own commit: should the request die
    right after it (a worker killed), the job waits out the request's claim and the follower then counts the days;
    before, the days stayed as they were until someone recomputed them by hand."""
    from central.attendance import services
    from central.attendance.models import RecomputeJob

    day = dj_timezone.localdate() - timedelta(days=3)
    shanghai = timezone(timedelta(hours=8))
    store_card_punches("A1001", (datetime.combine(day, time(9, 7), shanghai), "in"),
                       (datetime.combine(day, time(18, 2), shanghai), "out"), site="sh")
    follower = services.Follower()
    follower.tick()  # the punches of a number nobody has: nothing to count yet

    def killed(job: RecomputeJob | None) -> None:
        raise KeyboardInterrupt("the worker was killed")

    monkeypatch.setattr(services, "run_claimed", killed)
    with pytest.raises(KeyboardInterrupt):
        importing.apply(plant["hr"], table([["A1001", "张伟", "sh", "装配", None, day - timedelta(days=30), None, None,
                                             "白班", None]]), source="people.xlsx")
    employee = Employee.objects.get(number="A1001")  # the import is in, and so is its job
    job = RecomputeJob.objects.get(kind=RecomputeJob.EDIT)
    assert (job.state, job.employees, job.actor) == (RecomputeJob.PENDING, [employee.pk], "hr")
    assert job.claimed_until is not None and not DailyRecord.objects.filter(date=day).exists()

    follower.tick()  # within the request's claim: left to it
    assert not DailyRecord.objects.filter(date=day).exists()
    follower.tick(now=job.claimed_until + timedelta(seconds=1))
    job.refresh_from_db()
    record = DailyRecord.objects.get(employee=employee, date=day)
    assert (job.state, record.status, record.late_min, record.source) == (RecomputeJob.DONE, "present", 7, "punches")
    assert AuditEntry.objects.get(action="attendance.recompute").detail["job"] == job.pk
