"""打卡记录导入 Importing punches from another system: a company going live brings the weeks before from its old
clocks (a BioTime export, a spreadsheet, a ZKTeco USB attlog.dat). Every row is checked before anything is written
(the employee in scope, a time that is a time and neither in the future, nor too old, nor in a closed month, a
direction that is one), a punch already stored or repeated is left alone, every new punch or none is written, and the
days they fall on are recomputed: an absent day turns present with the imported times. Read back through the daily
records, the punches table, the audit log and the command's output."""
from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.db import connection
from django.utils import timezone as dj_timezone

from central.accounts.models import AuditEntry, Role, User
from central.attendance import punch_import
from central.attendance.models import AttendanceProfile, ClosedMonth, DailyRecord, ShiftType, SiteCalendar
from central.attendance.services import recompute
from central.cli import main as central_main
from central.ingest.models import Punch
from central.people.importing import ImportFileError
from central.people.models import Employee, Site

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def last_weekday(days_ago: int) -> date:
    """The latest Monday-to-Friday day at least ``days_ago`` days before today in Shanghai."""
    day = dj_timezone.now().astimezone(SHANGHAI).date() - timedelta(days=days_ago)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    """张三 (E1) and 王五 (E3) at 一厂 (Shanghai, weekends off) on 09:00-18:00; 李四 (E2) at 二厂, outside 人事's scope."""
    s1 = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    s2 = Site.objects.create(code="s2", name="二厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=s1, weekly_rest=[5, 6])
    day = ShiftType.objects.create(name="白班", start=time(9), end=time(18), checkin_before_min=120,
                                   checkout_after_min=240, late_grace_min=5, early_grace_min=0)
    people = {}
    for number, name, site in (("E1", "张三", s1), ("E2", "李四", s2), ("E3", "王五", s1)):
        people[number] = Employee.objects.create(number=number, name=name, site=site)
        AttendanceProfile.objects.create(employee=people[number], default_shift=day, joined=date(2020, 1, 1))
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([s1])
    return {"hr": hr, "s1": s1, **people}


def gb18030_csv(*rows: str) -> bytes:
    return ("工号,姓名,日期,时间,打卡状态\n" + "\n".join(rows) + "\n").encode("gb18030")


def test_every_row_is_checked_and_a_file_with_a_wrong_row_imports_nothing(plant) -> None:
    worked, today = last_weekday(3), dj_timezone.now().astimezone(SHANGHAI).date()
    old = today - timedelta(days=100)
    data = gb18030_csv(f"E1,张三,{worked:%Y/%m/%d},08:55:03,上班",  # 2
                       f"E1,张三,{worked:%Y/%m/%d},18:04,下班",  # 3
                       f"E1,张三,{worked:%Y/%m/%d},18:04:00,下班",  # 4: row 3 again
                       f"E2,李四,{worked:%Y/%m/%d},08:50,上班",  # 5: another site's
                       f"E9,无名,{worked:%Y/%m/%d},08:50,上班",  # 6: nobody
                       f"E1,张三,{today + timedelta(days=2):%Y-%m-%d},09:00,上班",  # 7: the day after tomorrow
                       f"E1,张三,{old:%Y-%m-%d},09:00,上班",  # 8: before the days records are kept for
                       f"E1,张三,{worked:%Y-%m-%d},25:00,上班",  # 9
                       f"E1,张三,{worked:%Y-%m-%d},12:00,午休",  # 10: not a direction
                       f"E3,王五,{worked:%Y-%m-%d},,")  # 11: no time
    table = punch_import.read("考勤记录.csv", data)
    checked = punch_import.plan(plant["hr"], table)
    found = {r.line: (r.action, [k for k, _m in r.errors]) for r in checked.rows}
    assert found == {2: ("add", []), 3: ("add", []), 4: ("same", []), 5: ("error", ["number"]),
                     6: ("error", ["number"]), 7: ("error", ["at"]), 8: ("error", ["at"]), 9: ("error", ["at"]),
                     10: ("error", ["direction"]), 11: ("error", ["at"])}
    messages = {r.line: r.errors[0][1] for r in checked.rows if r.errors}
    assert messages[7].endswith("is in the future") and "62 天" in messages[8]
    assert messages[10].startswith("无法识别的方向 '午休'")
    assert [r.changes for r in checked.rows if r.line == 4] == [["与第 3 行相同 / the same as row 3"]]
    with pytest.raises(punch_import.PunchesRefused, match="有 7 行有错误，没有导入任何打卡"):
        punch_import.apply(plant["hr"], table, source="考勤记录.csv", actor="hr")
    assert not Punch.objects.exists() and not AuditEntry.objects.filter(action="attendance.punch_import").exists()
    # a closed month is refused too, and so is a file without a time column
    ClosedMonth.objects.create(site=plant["s1"], month=worked.replace(day=1), closed_by="hr")
    [row] = punch_import.plan(plant["hr"], punch_import.read("x.csv", gb18030_csv(
        f"E1,张三,{worked:%Y-%m-%d},09:00,上班"))).rows
    assert row.errors == [("at", f"{worked:%Y年%m月} 已月结，请先重开该月 / {worked:%B %Y} is closed: reopen it first")]
    with pytest.raises(ImportFileError, match="缺少打卡时间列"):
        punch_import.read("x.csv", "工号,姓名\nE1,张三\n".encode())


def bio_time_workbook(rows: list[tuple[str, datetime, str]]) -> bytes:
    """As BioTime's transaction report exports it: the punch time a date-and-time cell, the state in words."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Employee ID", "First Name", "Department", "Punch Time", "Punch State", "Verify Type"])
    for number, at, state in rows:
        sheet.append([number, "", "生产部", at, state, "Face"])
        sheet.cell(row=sheet.max_row, column=4).number_format = "yyyy-mm-dd hh:mm:ss"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_bio_time_export_turns_an_absent_day_present_and_a_second_import_adds_nothing(plant) -> None:
    worked = last_weekday(3)
    recompute(worked, worked)
    before = DailyRecord.objects.get(employee=plant["E1"], date=worked)
    assert (before.status, before.final) == ("absent", True)  # no terminal at 一厂: the day is final, no punches
    # the door's own punch of the morning is there already, at the same second as the file's
    Punch.objects.create(id="door-1", site="s1", device_id="gate-1", employee_number="E1", direction="in", method="face",
                         punched_at=datetime.combine(worked, time(8, 52, 10), SHANGHAI), boot_id="b", monotonic_ns=1,
                         time_source="ntp", batch_id="b1", received_at=dj_timezone.now())
    data = bio_time_workbook([("E1", datetime.combine(worked, time(8, 52, 10)), "Check In"),
                              ("E1", datetime.combine(worked, time(18, 31, 5)), "Check Out"),
                              ("E3", datetime.combine(worked, time(9, 7)), "Check In"),
                              ("E3", datetime.combine(worked, time(17, 40)), "Check Out")])
    done = punch_import.apply(plant["hr"], punch_import.read("transactions.xlsx", data), source="transactions.xlsx",
                              actor="hr")
    assert (done.punches, done.employees, done.plan.count("same")) == (3, 2, 1)
    zhang = DailyRecord.objects.get(employee=plant["E1"], date=worked)
    assert (zhang.status, zhang.source, zhang.late, zhang.early, str(zhang.hours)) == ("present", "punches", False,
                                                                                       False, "9.65")
    assert (zhang.first_in.astimezone(SHANGHAI).time(), zhang.last_out.astimezone(SHANGHAI).time()) == (
        time(8, 52, 10), time(18, 31, 5))
    wang = DailyRecord.objects.get(employee=plant["E3"], date=worked)
    assert (wang.status, wang.late, wang.late_min, wang.early, wang.early_min) == ("present", True, 7, True, 20)
    imported = Punch.objects.filter(device_id="import").order_by("punched_at")
    assert [(p.employee_number, p.direction, p.method) for p in imported] == [
        ("E3", "in", "import"), ("E3", "out", "import"), ("E1", "out", "import")]
    entry = AuditEntry.objects.get(action="attendance.punch_import")
    assert (entry.actor, entry.target, entry.detail["punches"], entry.detail["employees"]) == ("hr", "transactions.xlsx",
                                                                                                3, 2)
    again = punch_import.apply(plant["hr"], punch_import.read("transactions.xlsx", data), source="transactions.xlsx",
                               actor="hr")
    assert (again.punches, again.plan.count("same")) == (0, 4)
    assert Punch.objects.count() == 4 and AuditEntry.objects.filter(action="attendance.punch_import").count() == 1


def test_the_command_imports_a_zkteco_usb_attlog_and_refuses_a_broken_one(plant, tmp_path: Path, capsys) -> None:
    worked = last_weekday(4)
    db = str(connection.settings_dict["NAME"])
    broken = tmp_path / "1_attlog.dat"
    broken.write_text(f"        E1\t{worked} 08:59:58\t1\t0\t1\t0\nthis line is not a punch\n")
    assert central_main(["--db", db, "attendance", "import-punches", str(broken), "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert "第 2 行 row 2" in out and "no punch was imported" in err and not Punch.objects.exists()
    log = tmp_path / "2_attlog.dat"
    log.write_text(f"        E1\t{worked} 08:59:58\t1\t0\t1\t0\n        E1\t{worked} 18:00:30\t1\t1\t1\t0\n")
    assert central_main(["--db", db, "attendance", "import-punches", str(log), "--check"]) == 0
    assert "可导入 would add 2 条打卡" in capsys.readouterr().out and not Punch.objects.exists()
    assert central_main(["--db", db, "attendance", "import-punches", str(log), "--quiet"]) == 0
    assert "已导入 imported 2 条打卡" in capsys.readouterr().out
    record = DailyRecord.objects.get(employee=plant["E1"], date=worked)
    assert (record.status, record.late, record.early) == ("present", False, False)
    # the fields after the time differ between firmware: the direction is left to the shift, which alternates
    assert list(Punch.objects.values_list("direction", "method")) == [("", "import"), ("", "import")]
    assert central_main(["--db", db, "attendance", "import-punches", str(tmp_path / "missing.dat")]) == 2
    assert "读不了文件" in capsys.readouterr().err


@pytest.mark.no_database
@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-02 08:58:11", datetime(2026, 11, 2, 8, 58, 11)),
    ("2026/11/2 8:58", datetime(2026, 11, 2, 8, 58)),
    ("2026-11-02T08:58", datetime(2026, 11, 2, 8, 58)),
    ("2026年11月2日 8:58:11", datetime(2026, 11, 2, 8, 58, 11)),
    ("46328.5", datetime(2026, 11, 2, 12, 0)),  # Excel's serial day and time
])
def test_punch_times_are_read_as_old_systems_write_them(text: str, expected: datetime) -> None:
    assert punch_import.parse_time(text) == expected


@pytest.mark.no_database
def test_directions_as_old_systems_write_them() -> None:
    words = {"上班": "in", "签退": "out", "Check In": "in", "check-out": "out", "0": "in", "1": "out", "": "",
             "4": "in", "5": "out", "午休": None}
    assert {w: punch_import.direction_of(w) for w in words} == words


def test_hr_checks_a_file_on_the_console_then_imports_it_and_an_auditor_cannot(plant) -> None:
    from central_support import client_for
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    worked = last_weekday(5)
    url = reverse("console:attendance_punch_import")
    hr = client_for(plant["hr"])
    assert 'id="punch-import-link"' in hr.get(reverse("console:reports")).content.decode()
    data = gb18030_csv(f"E1,张三,{worked:%Y-%m-%d},08:40,上班", f"E1,张三,{worked:%Y-%m-%d},17:30,下班",
                       f"E2,李四,{worked:%Y-%m-%d},08:40,上班")
    checked = hr.post(url, {"action": "check", "file": SimpleUploadedFile("考勤.csv", data)})
    page = checked.content.decode()
    assert checked.context["plan"].counts == {"add": 2, "change": 0, "same": 0, "error": 1}
    assert 'id="import-row-4" data-action="error"' in page and "不会导入任何打卡" in page
    assert hr.post(url, {"action": "import"}).status_code == 200 and not Punch.objects.exists()  # refused: none
    fixed = gb18030_csv(f"E1,张三,{worked:%Y-%m-%d},08:40,上班", f"E1,张三,{worked:%Y-%m-%d},17:30,下班",
                        f"E1,张三,{worked:%Y-%m-%d},17:30:00,下班")
    page = hr.post(url, {"action": "check", "file": SimpleUploadedFile("考勤.csv", fixed)}).content.decode()
    assert 'id="import-apply"' in page
    repeated = page.split('id="import-row-4"')[1].split("</tr>")[0]
    assert "与第 3 行相同" in repeated and "the same as row" not in repeated  # in the page's language only
    done = hr.post(url, {"action": "import"}, follow=True)
    assert "已导入 考勤.csv：1 名员工的 2 条打卡" in done.content.decode()
    record = DailyRecord.objects.get(employee=plant["E1"], date=worked)
    assert (record.status, record.early, record.early_min) == ("present", True, 30)
    # the employee's page tells the imported punches from the doors' own
    recent = hr.get(reverse("console:employee", args=[plant["E1"].pk])).content.decode().split("最近打卡")[1]
    assert recent.count(">导入</span>") == 2 and recent.count("<td>导入</td>") == 2 and ">import<" not in recent
    # the template, filled in as HR would in Excel, checks clean
    template = hr.get(url, {"template": "1"})
    assert template["Content-Disposition"] == 'attachment; filename="punches-template.xlsx"'
    book = openpyxl.load_workbook(io.BytesIO(template.content))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == ["工号 Number", "打卡时间 Punch time", "方向 Direction"]
    sheet.delete_rows(2)
    sheet.append(["E3", datetime.combine(worked, time(8, 59)), "上班"])
    filled = io.BytesIO()
    book.save(filled)
    [row] = punch_import.plan(plant["hr"], punch_import.read("filled.xlsx", filled.getvalue())).rows
    assert (row.action, row.errors, row.record["wall"]) == ("add", [], datetime.combine(worked, time(8, 59)))
    auditor = User.objects.create_user("audit", password="x" * 12, role=Role.AUDITOR)
    assert client_for(auditor).get(url).status_code == 403
    assert 'id="punch-import-link"' not in client_for(auditor).get(reverse("console:reports")).content.decode()


def test_an_erp_sends_punches_through_the_api_checked_then_imported(plant) -> None:
    import json

    from django.test import Client

    from central.accounts.services import create_token

    worked = last_weekday(6)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {create_token(plant['hr'], 'erp', actor='test')[1]}")

    def post(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        answer = api.post("/api/v1/punches/import", json.dumps(body), content_type="application/json")
        return answer.status_code, json.loads(answer.content)

    punches = [{"employee": "E1", "at": f"{worked}T08:58:00", "direction": "in"},
               {"employee": "E1", "at": f"{worked}T18:02:30", "direction": "out"},
               {"employee": "E2", "at": f"{worked}T09:00:00"},  # another site's
               {"employee": "E1", "at": f"{worked + timedelta(days=400)}T09:00:00"}]
    status, refused = post({"punches": punches, "source": "erp nightly"})
    assert status == 422 and refused["detail"].startswith("有 2 行有错误，没有导入任何打卡")
    assert [e["field"] for e in refused["errors"]] == ["punches[2].employee", "punches[3].at"]
    assert not Punch.objects.exists()
    assert post({"punches": [{"employee": "E1", "at": f"{worked} 08:58"}]})[0] == 422  # not the wire's time format
    status, checked = post({"punches": punches[:2], "check": True})
    assert (status, checked["checked_only"], checked["added"], checked["employees"]) == (200, True, 2, 1)
    assert not Punch.objects.exists()
    status, done = post({"punches": punches[:2], "source": "erp nightly"})
    assert (status, done["added"], done["unchanged"], done["recompute_job"]) == (201, 2, 0, None)
    assert DailyRecord.objects.get(employee=plant["E1"], date=worked).status == "present"
    assert AuditEntry.objects.get(action="attendance.punch_import").target == "api: erp nightly"
    assert post({"punches": punches[:2]})[1]["unchanged"] == 2 and Punch.objects.count() == 2
    auditor = User.objects.create_user("audit", password="x" * 12, role=Role.AUDITOR)
    answer = Client(HTTP_AUTHORIZATION=f"Bearer {create_token(auditor, 'x', actor='test')[1]}").post(
        "/api/v1/punches/import", json.dumps({"punches": punches[:1]}), content_type="application/json")
    assert answer.status_code == 403


def test_imported_punches_reach_the_punch_hooks_once_marked_as_imported(plant) -> None:
    """A payroll system that follows ``punch.stored`` gets the punches HR imports from a terminal's download as it gets
    the doors' own, told apart by their device and method ("import"), and an import repeated tells it nothing again."""
    from central.webhooks import services as hooks
    from central.webhooks.models import Delivery
    from central.webhooks.punches import PunchFollower

    root = User.objects.create_user("root", password="x" * 12, role=Role.HR_ADMIN, is_superuser=True)
    hook, _secret = hooks.create_hook(root, {"name": "payroll", "url": "http://127.0.0.1:9/punches",
                                             "events": ["punch.stored"]})
    worked = last_weekday(2)
    data = bio_time_workbook([("E1", datetime.combine(worked, time(8, 55)), "Check In"),
                              ("E1", datetime.combine(worked, time(18, 5)), "Check Out")])
    follower = PunchFollower()
    punch_import.apply(plant["hr"], punch_import.read("transactions.xlsx", data), source="transactions.xlsx", actor="hr")
    assert follower.tick(dj_timezone.now()) == 2
    told = sorted(Delivery.objects.filter(hook=hook, event="punch.stored").values_list("data", flat=True),
                  key=lambda d: d["punched_at"])
    assert [(d["employee"], d["direction"], d["device"], d["method"], d["punched_at"]) for d in told] == [
        ("E1", "in", "import", "import", f"{worked.isoformat()}T00:55:00Z"),
        ("E1", "out", "import", "import", f"{worked.isoformat()}T10:05:00Z")]

    again = punch_import.apply(plant["hr"], punch_import.read("transactions.xlsx", data), source="transactions.xlsx",
                               actor="hr")
    assert again.punches == 0 and follower.tick(dj_timezone.now()) == 0
    PunchFollower().tick(dj_timezone.now())  # a new follower (the receiver restarted) reads the last seconds again
    assert Delivery.objects.filter(hook=hook).count() == 2  # and tells nothing twice


def _day_of(employee: Employee, day: date) -> tuple[str, str]:
    row = DailyRecord.objects.get(employee=employee, date=day)
    return row.status, row.source


def test_a_big_import_is_queued_in_its_punches_commit_and_the_follower_counts_its_punches_once(plant, monkeypatch) -> None:
    """An import too big for the page to wait for is queued in the same commit as its punches; the attendance
    follower then works through that job and does not take the same punches again as new arrivals (they were
    recomputed twice before: the import's own job and the follower's)."""
    from central.attendance import services
    from central.attendance.models import RecomputeJob

    monkeypatch.setattr(services, "INLINE_EMPLOYEE_DAYS", 1)  # every import "big"; arrivals of 2 days would queue too
    worked = last_weekday(3)
    recompute(worked, worked)
    assert _day_of(plant["E1"], worked) == ("absent", "absent")
    data = bio_time_workbook([("E1", datetime.combine(worked, time(8, 50)), "Check In"),
                              ("E1", datetime.combine(worked, time(18, 2)), "Check Out"),
                              ("E3", datetime.combine(worked, time(8, 58)), "Check In")])
    done = punch_import.apply(plant["hr"], punch_import.read("t.xlsx", data), source="t.xlsx", actor="hr")
    job = done.recomputed
    assert isinstance(job, RecomputeJob) and job.claimed_until is None and job.state == RecomputeJob.PENDING
    assert (job.first, job.last, sorted(job.employees)) == (worked - timedelta(days=1), worked,
                                                            sorted([plant["E1"].pk, plant["E3"].pk]))
    assert AuditEntry.objects.filter(action="attendance.recompute_queued", detail__job=job.pk).exists()
    assert _day_of(plant["E1"], worked) == ("absent", "absent")  # the follower's work, not yet done

    services.Follower().tick()
    job.refresh_from_db()
    assert job.state == RecomputeJob.DONE
    assert _day_of(plant["E1"], worked) == ("present", "punches")
    assert _day_of(plant["E3"], worked) == ("present", "punches")
    assert not RecomputeJob.objects.filter(kind=RecomputeJob.MANY_PUNCHES).exists()
    # a door's punch received in the same moments is still the follower's to count
    Punch.objects.create(id="door-9", site="s1", device_id="gate-1", employee_number="E3", direction="out",
                         method="face", punched_at=datetime.combine(worked, time(18, 1), SHANGHAI), boot_id="b",
                         monotonic_ns=9, time_source="ntp", batch_id="b9", received_at=dj_timezone.now())
    services.Follower().tick()
    wang = DailyRecord.objects.get(employee=plant["E3"], date=worked)
    assert wang.last_out is not None and wang.last_out.astimezone(SHANGHAI).time() == time(18, 1)


def test_a_small_import_is_counted_before_the_page_answers_and_one_cut_short_is_finished_by_the_follower(
        plant, monkeypatch) -> None:
    """A small import is recomputed at once, through the job queued with its punches; should the request die after
    the commit (a worker killed), the job it had claimed waits out its claim and the follower then finishes it."""
    from central.attendance import services
    from central.attendance.models import RecomputeJob

    worked = last_weekday(3)
    recompute(worked, worked)
    first = bio_time_workbook([("E1", datetime.combine(worked, time(8, 50)), "Check In"),
                               ("E1", datetime.combine(worked, time(18, 2)), "Check Out")])
    done = punch_import.apply(plant["hr"], punch_import.read("a.xlsx", first), source="a.xlsx", actor="hr")
    assert isinstance(done.recomputed, services.Outcome) and done.recomputed.written >= 1
    assert _day_of(plant["E1"], worked) == ("present", "punches")
    job = RecomputeJob.objects.get()
    assert job.state == RecomputeJob.DONE and job.claimed_until is not None
    summary = AuditEntry.objects.get(action="attendance.recompute", detail__job=job.pk)
    assert summary.actor == "hr" and summary.detail["written"] >= 1
    assert not AuditEntry.objects.filter(action="attendance.recompute_queued").exists()  # run at once, not queued

    def killed(job: RecomputeJob, now: datetime | None = None) -> None:
        raise KeyboardInterrupt("the worker was killed")

    monkeypatch.setattr(punch_import, "run_claimed", killed)
    second = bio_time_workbook([("E3", datetime.combine(worked, time(8, 58)), "Check In"),
                                ("E3", datetime.combine(worked, time(18, 0)), "Check Out")])
    with pytest.raises(KeyboardInterrupt):
        punch_import.apply(plant["hr"], punch_import.read("b.xlsx", second), source="b.xlsx", actor="hr")
    cut = RecomputeJob.objects.get(state=RecomputeJob.PENDING)
    assert Punch.objects.filter(employee_number="E3").count() == 2  # the punches are in, with their job
    assert _day_of(plant["E3"], worked) == ("absent", "absent")

    follower = services.Follower()
    follower.tick(now=dj_timezone.now())  # within the claim: left to the request, and not taken as arrivals
    cut.refresh_from_db()
    assert cut.state == RecomputeJob.PENDING and _day_of(plant["E3"], worked) == ("absent", "absent")
    follower.tick(now=cut.claimed_until + timedelta(seconds=1))
    cut.refresh_from_db()
    assert cut.state == RecomputeJob.DONE and _day_of(plant["E3"], worked) == ("present", "punches")
    assert not RecomputeJob.objects.filter(kind=RecomputeJob.MANY_PUNCHES).exists()
