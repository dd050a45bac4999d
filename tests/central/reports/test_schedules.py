"""Scheduled reports: when a schedule is due (a clock the test controls), the scheduler making each due run
once (also two schedulers at once, on PostgreSQL with ``--central-db=postgresql``), runs missed while the
server was down, a run made as its owner, the files it stores (read back, their SHA-256 computed here) and
the console's schedule pages as each role, with every change in the audit log.
"""
from __future__ import annotations

import csv
import hashlib
import io
import threading
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from central_support import client_for
from django.db import connection
from django.test import Client
from django.urls import reverse

from central.accounts.models import AuditEntry, Role, User
from central.ingest.handler import store_punches
from central.people import roster
from central.people.models import Site
from central.reports import schedules
from central.reports.models import ReportRun, ReportSchedule
from central.reports.scheduler import ReportScheduler, Timing, due_moments, next_moment, period_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def local(*parts: int, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


# -- the due-time function -------------------------------------------------------------------------
def test_the_daily_report_at_0930_is_not_due_at_0929_and_is_due_at_0930() -> None:
    daily = Timing("daily", time(9, 30), SHANGHAI)
    made = local(2026, 3, 5, 8, 0)
    assert due_moments(daily, made, local(2026, 3, 5, 9, 29, 59)) == []
    assert due_moments(daily, made, local(2026, 3, 5, 9, 30)) == [local(2026, 3, 5, 9, 30)]
    # once made, it is not due again until the next morning
    assert due_moments(daily, local(2026, 3, 5, 9, 30), local(2026, 3, 6, 9, 29)) == []
    assert next_moment(daily, local(2026, 3, 5, 9, 30)) == local(2026, 3, 6, 9, 30)
    assert period_of("yesterday", date(2026, 3, 5)) == (date(2026, 3, 4), date(2026, 3, 4))


def test_the_monthly_sheet_on_the_1st_covers_the_previous_month() -> None:
    monthly = Timing("monthly", time(6, 0), SHANGHAI, day=1)
    moments = due_moments(monthly, local(2026, 2, 10, 0, 0), local(2026, 4, 15, 0, 0))
    assert moments == [local(2026, 3, 1, 6, 0), local(2026, 4, 1, 6, 0)]
    assert period_of("last_month", date(2026, 3, 1)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert period_of("last_month", date(2026, 1, 1)) == (date(2025, 12, 1), date(2025, 12, 31))
    # the 31st runs on the last day of a shorter month
    end = Timing("monthly", time(23, 0), SHANGHAI, day=31)
    assert next_moment(end, local(2026, 4, 1, 0, 0)) == local(2026, 4, 30, 23, 0)


def test_a_weekly_summary_covers_last_monday_to_sunday() -> None:
    weekly = Timing("weekly", time(8, 0), SHANGHAI, weekday=0)
    # 2026-03-09 is a Monday
    assert next_moment(weekly, local(2026, 3, 4, 12, 0)) == local(2026, 3, 9, 8, 0)
    assert period_of("last_week", date(2026, 3, 9)) == (date(2026, 3, 2), date(2026, 3, 8))
    assert period_of("last_week", date(2026, 3, 11)) == (date(2026, 3, 2), date(2026, 3, 8))


def test_missed_runs_are_due_after_a_stop_and_a_skipped_wall_time_runs_an_hour_later() -> None:
    daily = Timing("daily", time(9, 30), SHANGHAI)
    missed = due_moments(daily, local(2026, 3, 5, 9, 30), local(2026, 3, 8, 10, 0))
    assert missed == [local(2026, 3, 6, 9, 30), local(2026, 3, 7, 9, 30), local(2026, 3, 8, 9, 30)]
    assert len(due_moments(daily, local(2025, 1, 1, 0, 0), local(2026, 3, 8, 10, 0))) == 31  # the latest 31 only
    # 02:30 does not exist in Berlin on 2026-03-29 (clocks go from 02:00 to 03:00)
    night = Timing("daily", time(2, 30), BERLIN)
    moment = next_moment(night, local(2026, 3, 28, 12, 0, zone=BERLIN))
    assert moment.astimezone(ZoneInfo("UTC")) == datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("UTC"))


# -- the scheduler with a controlled clock ---------------------------------------------------------
def _punch(n: int, number: str, site: str, at: datetime) -> dict[str, Any]:
    return {"id": f"0190f3a0-0000-7000-8000-{n:012d}", "site": site, "device_id": f"door-{site}",
            "employee_number": number, "direction": "in", "method": "card", "score": None, "punched_at": at,
            "boot_id": "b", "monotonic_ns": n, "time_source": "ntp", "original_punched_at": None,
            "restamped_at": None, "batch_id": "0190f3a0-0000-7000-8000-0000000000bb", "received_at": at}


def _user(name: str, role: str, *, sites: Any = (), superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(name, password="x" * 12)
    user = User.objects.create_user(name, password="x" * 12, role=role)
    user.sites.set(sites)
    return user


@pytest.fixture
def reports_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "reports"
    monkeypatch.setenv("SEED_REPORTS_DIR", str(folder))
    return folder


def _world() -> dict[str, Any]:
    sh = Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    Site.objects.create(code="bj", name="北京乙厂", time_zone="Asia/Shanghai")
    roster.upsert_employees([
        {"number": "A001", "name": "张伟", "department": "生产部", "site": "sh"},
        {"number": "B-SECRET-1", "name": "乙厂专员", "department": "乙厂专员部", "site": "bj"},
    ])
    punches = []
    for day in range(1, 11):
        punches.append(_punch(day, "A001", "sh", local(2026, 3, day, 8, 50)))
        punches.append(_punch(100 + day, "B-SECRET-1", "bj", local(2026, 3, day, 8, 51)))
    store_punches(punches)
    return {"sh": sh, "boss": _user("boss", "", superuser=True), "hr": _user("hr", Role.HR_ADMIN, sites=[sh]),
            "hr_b": _user("hr-b", Role.HR_ADMIN, sites=[Site.objects.get(code="bj")]),
            "manager": _user("mg", Role.MANAGER), "auditor": _user("au", Role.AUDITOR, sites=[sh])}


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    return _world()


def _daily_punch_log(owner: User, made: datetime, site: Site | None = None, formats: tuple[str, ...] = ("csv",)
                     ) -> ReportSchedule:
    schedule = ReportSchedule.objects.create(report="punches", site=site, period="yesterday", every="daily",
                                             at=time(9, 30), formats=list(formats), owner=owner)
    ReportSchedule.objects.filter(pk=schedule.pk).update(created_at=made)
    schedule.refresh_from_db()
    return schedule


def _csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_the_scheduler_makes_the_run_when_due_once_as_its_owner(world: dict[str, Any], reports_dir: Path) -> None:
    schedule = _daily_punch_log(world["hr"], local(2026, 3, 5, 8, 0))  # no site: everything the owner sees
    scheduler = ReportScheduler()
    assert scheduler.tick(local(2026, 3, 5, 9, 29)) == 0
    assert not ReportRun.objects.exists()
    assert scheduler.tick(local(2026, 3, 5, 9, 30)) == 1
    assert scheduler.tick(local(2026, 3, 5, 9, 45)) == 0
    run = schedule.runs.get()
    assert (run.state, run.period_first, run.period_last, run.error) == ("done", date(2026, 3, 4), date(2026, 3, 4), "")
    assert run.started_at is not None and run.finished_at is not None
    [entry] = run.files
    path = reports_dir / entry["path"]
    assert path.name == "seed-punches-2026-03-04_2026-03-04.csv" and path.is_file()
    body = path.read_bytes()
    assert entry["size"] == len(body) and entry["sha256"] == hashlib.sha256(body).hexdigest()
    rows = _csv_rows(path)
    text = path.read_text(encoding="utf-8-sig")
    number = rows[0].index("工号 Number")
    assert [r[number] for r in rows[1:] if r and len(r) > number and r[number].startswith(("A", "B"))] == ["A001"]
    assert "乙厂专员" not in text  # made as the HR admin of site A, whoever created it


def test_runs_missed_while_the_server_was_down_are_made_at_start(transactional_db: Any, reports_dir: Path) -> None:
    world = _world()  # committed: the scheduler's thread reads through its own connection
    schedule = _daily_punch_log(world["boss"], local(2026, 3, 5, 8, 0), site=world["sh"])
    ReportScheduler().tick(local(2026, 3, 5, 9, 30))
    # the server stops; three days later a new scheduler starts: the thread's first pass makes what it missed
    clock = [local(2026, 3, 8, 10, 0)]
    scheduler = ReportScheduler(interval_s=3600, clock=lambda: clock[0]).start()
    try:
        for _ in range(600):
            if scheduler.passes:
                break
            threading.Event().wait(0.05)
    finally:
        scheduler.stop()
    assert scheduler.errors == 0 and scheduler.made == 3
    periods = sorted((r.period_first, r.state) for r in schedule.runs.all())
    assert periods == [(date(2026, 3, d), "done") for d in (4, 5, 6, 7)]


def test_a_failed_run_keeps_its_error_and_the_schedule_page_shows_it(world: dict[str, Any], reports_dir: Path) -> None:
    schedule = _daily_punch_log(world["hr"], local(2026, 3, 5, 8, 0))
    User.objects.filter(pk=world["hr"].pk).update(is_active=False)
    ReportScheduler().tick(local(2026, 3, 5, 9, 30))
    run = schedule.runs.get()
    assert run.state == "failed" and "deactivated" in run.error and run.files == []
    client = Client()
    client.force_login(world["boss"])
    page = client.get(reverse("console:report_schedules")).content.decode()
    assert "已停用" in page and 'class="run-error"' in page


def _two_schedulers_at_once(world: dict[str, Any]) -> list[int]:
    _daily_punch_log(world["hr"], local(2026, 3, 5, 8, 0))
    start = threading.Barrier(2)
    made: list[int] = []
    failures: list[BaseException] = []

    def one() -> None:
        try:
            scheduler = ReportScheduler()
            start.wait(timeout=30)
            made.append(scheduler.tick(local(2026, 3, 5, 9, 30)))
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    return made


def test_two_schedulers_make_one_run(transactional_db: Any, reports_dir: Path) -> None:
    world = _world()
    made = _two_schedulers_at_once(world)
    assert sorted(made) == [0, 1]
    run = ReportRun.objects.get()
    assert run.state == "done" and len(run.files) == 1
    assert connection.vendor in ("sqlite", "postgresql")


# -- the console's schedule pages ------------------------------------------------------------------

FORM = {"report": "punches", "period": "yesterday", "every": "daily", "at": "09:30", "formats": ["csv"],
        "active": "on", "site": "", "department": "", "employee": "", "weekday": "", "day": ""}


def test_an_hr_admin_adds_edits_deactivates_and_deletes_a_schedule_audited(world: dict[str, Any],
                                                                            reports_dir: Path) -> None:
    hr = client_for(world["hr"])
    answer = hr.post(reverse("console:report_schedules"), {**FORM, "site": world["sh"].pk})
    assert answer.status_code == 302
    schedule = ReportSchedule.objects.get()
    assert (schedule.owner, schedule.site, schedule.formats) == (world["hr"], world["sh"], ["csv"])
    assert AuditEntry.objects.filter(action="report_schedule.create", actor="hr",
                                     target=f"report_schedule:{schedule.pk}").exists()
    page = hr.get(reverse("console:report_schedules"), {"edit": schedule.pk})
    assert page.status_code == 200 and page.context["editing"] == schedule
    answer = hr.post(reverse("console:report_schedules"), {**FORM, "id": schedule.pk, "site": world["sh"].pk,
                                                           "formats": ["csv", "xlsx"], "at": "07:15"})
    assert answer.status_code == 302
    schedule.refresh_from_db()
    assert schedule.at == time(7, 15) and schedule.formats == ["xlsx", "csv"]
    change = AuditEntry.objects.get(action="report_schedule.update")
    assert change.detail["at"] == ["09:30", "07:15"]
    assert hr.post(reverse("console:report_schedule_action"), {"id": schedule.pk, "action": "deactivate"}).status_code == 302
    schedule.refresh_from_db()
    assert not schedule.active and AuditEntry.objects.filter(action="report_schedule.deactivate").exists()
    # a run's file goes with the schedule
    schedule.active = True
    schedule.save()
    ReportSchedule.objects.filter(pk=schedule.pk).update(created_at=local(2026, 3, 5, 6, 0))
    ReportScheduler().tick(local(2026, 3, 5, 7, 15))
    stored = reports_dir / ReportRun.objects.get().files[0]["path"]
    assert stored.is_file()
    assert hr.post(reverse("console:report_schedule_action"), {"id": schedule.pk, "action": "delete"}).status_code == 302
    assert not ReportSchedule.objects.exists() and not ReportRun.objects.exists() and not stored.exists()
    assert AuditEntry.objects.filter(action="report_schedule.delete").exists()


def test_a_schedule_for_another_site_is_refused_on_the_form(world: dict[str, Any]) -> None:
    hr = client_for(world["hr"])
    bj = Site.objects.get(code="bj")
    answer = hr.post(reverse("console:report_schedules"), {**FORM, "site": bj.pk})
    assert answer.status_code == 200 and "site" in answer.context["form"].errors
    answer = hr.post(reverse("console:report_schedules"), {**FORM, "report": "monthly"})  # monthly: last month only
    assert answer.status_code == 200 and "period" in answer.context["form"].errors
    assert not ReportSchedule.objects.exists()


def test_managers_and_auditors_see_their_own_schedules_and_download_their_files(world: dict[str, Any],
                                                                               reports_dir: Path) -> None:
    mine = _daily_punch_log(world["auditor"], local(2026, 3, 5, 8, 0), site=world["sh"])
    other = _daily_punch_log(world["hr_b"], local(2026, 3, 5, 8, 0))
    ReportScheduler().tick(local(2026, 3, 5, 9, 30))
    auditor = client_for(world["auditor"])
    page = auditor.get(reverse("console:report_schedules"))
    assert page.status_code == 200 and page.context["form"] is None
    assert [s.pk for s, _ in page.context["schedules"]] == [mine.pk]
    assert {r.schedule_id for r in page.context["runs"]} == {mine.pk}
    run, other_run = mine.runs.get(), other.runs.get()
    url = reverse("console:report_run_file")
    answer = auditor.get(url, {"run": run.pk, "format": "csv"})
    assert answer.status_code == 200
    assert answer["Content-Disposition"] == 'attachment; filename="seed-punches-2026-03-04_2026-03-04.csv"'
    assert hashlib.sha256(answer.content).hexdigest() == run.files[0]["sha256"]
    assert auditor.get(url, {"run": other_run.pk, "format": "csv"}).status_code == 404
    assert auditor.get(url, {"run": run.pk, "format": "xlsx"}).status_code == 404  # not made
    assert client_for(world["hr"]).get(url, {"run": run.pk, "format": "csv"}).status_code == 404
    assert client_for(world["boss"]).get(url, {"run": other_run.pk, "format": "csv"}).status_code == 200
    # readers change nothing
    assert auditor.post(reverse("console:report_schedules"), FORM).status_code == 403
    assert auditor.post(reverse("console:report_schedule_action"), {"id": mine.pk, "action": "delete"}).status_code == 403
    assert client_for(world["manager"]).post(reverse("console:report_schedule_action"),
                                             {"id": mine.pk, "action": "delete"}).status_code == 403
    # an HR admin may not touch another's schedule
    assert client_for(world["hr"]).post(reverse("console:report_schedule_action"),
                                        {"id": other.pk, "action": "delete"}).status_code == 404
    assert ReportSchedule.objects.count() == 2


def test_an_employee_gets_403_on_the_schedule_pages(world: dict[str, Any]) -> None:
    from central.people.models import Employee

    person = User.objects.create_user("em", password="x" * 12, role=Role.EMPLOYEE,
                                      employee=Employee.objects.get(number="A001"))
    client = client_for(person)
    assert client.get(reverse("console:report_schedules")).status_code == 403
    assert client.get(reverse("console:report_run_file"), {"run": 1, "format": "csv"}).status_code == 403
    assert client.post(reverse("console:report_schedules"), FORM).status_code == 403


def test_the_reports_folder_is_never_a_served_folder(monkeypatch: pytest.MonkeyPatch, settings: Any,
                                                     tmp_path: Path) -> None:
    from central.reports.registry import ReportError

    settings.STATIC_ROOT = str(tmp_path / "static")
    monkeypatch.setenv("SEED_REPORTS_DIR", str(tmp_path / "static" / "reports"))
    with pytest.raises(ReportError, match="SEED_REPORTS_DIR"):
        schedules.reports_dir()
    monkeypatch.setenv("SEED_REPORTS_DIR", str(tmp_path / "private"))
    assert schedules.reports_dir() == (tmp_path / "private").resolve()
    monkeypatch.delenv("SEED_REPORTS_DIR")
    assert schedules.reports_dir().name == "reports"
    assert timedelta(0) < schedules.STALE_AFTER
