"""Closing a month (月结): HR closes one site's month once every day of it is final and every request on it decided;
then the month's records no longer change. A terminal that comes back after the wait ran out delivers punches that
are stored and held on the month for HR to see, not written; leave, make-up punches and records by hand on its days
are refused; reopening with a reason lets the held changes in. Read back through the records, the audit log and the
month's own row."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from central_support import batch, punch, send
from django.test import Client

from central.accounts.models import AuditEntry, Role, User
from central.accounts.services import create_token
from central.attendance import closing
from central.attendance.inputs import load_rules
from central.attendance.models import (
    AttendanceProfile,
    CalendarDay,
    ClosedMonth,
    DailyRecord,
    LeaveType,
    OvertimeRule,
    RecomputeJob,
    ShiftType,
    SiteCalendar,
)
from central.attendance.requests import decide_leave, decide_overtime, file_leave, file_makeup_punch
from central.attendance.services import (
    AttendanceError,
    Follower,
    add_manual_record,
    recompute,
    run_queued,
)
from central.ingest.handler import Ingest
from central.ingest.models import Punch
from central.people.models import Department, Employee, Site
from central.reports import registry
from central.reports.registry import ReportParams
from central.webhooks.models import Delivery
from central.webhooks.services import create_hook

pytestmark = pytest.mark.django_db
UTC = timezone.utc
SHANGHAI = timedelta(hours=8)
MARCH = date(2026, 3, 1)
WEEKDAYS = [d for d in (MARCH + timedelta(days=i) for i in range(31)) if d.weekday() < 5]  # 22 working days


def at_utc(local: datetime) -> datetime:
    return (local - SHANGHAI).replace(tzinfo=UTC)


def stamp(local: datetime) -> str:
    return at_utc(local).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def status(ingest: Ingest, device: str, local: datetime) -> None:
    send(ingest, "status", {"online": True, "device": device, "site": "s1", "at": stamp(local), "queue_depth": 0},
         device=device)


def worked(number: str, day: date, device: str = "door-a", out: time = time(18)) -> list[dict[str, Any]]:
    return [punch(device=device, employee_number=number, direction="in", punched_at=stamp(datetime.combine(day, time(8, 55)))),
            punch(device=device, employee_number=number, direction="out", punched_at=stamp(datetime.combine(day, out)))]


@pytest.fixture
def march(db: Any) -> dict[str, Any]:
    """Two people on 09:00–18:00, Monday to Friday, at a site with two doors and a three-day wait. E001 worked every
    working day of March and stayed until 19:30 on the 10th (90 minutes of overtime to approve). E002 worked every one
    but the 30th and 31st, whose punches sit in door-b, which went offline on the 29th."""
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6], final_wait_h=72)
    dept = Department.objects.create(site=site, name="装配")
    rule = OvertimeRule.objects.create(name="加班", min_minutes=30, step_min=30, requires_approval=True)
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=120, late_grace_min=5, early_grace_min=0, overtime=rule)
    people = {}
    for number in ("E001", "E002"):
        people[number] = Employee.objects.create(number=number, name=number, site=site, department=dept)
        AttendanceProfile.objects.create(employee=people[number], default_shift=day)
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([site])
    ingest = Ingest()
    punches = [p for d in WEEKDAYS for p in worked("E001", d, out=time(19, 30) if d.day == 10 else time(18))]
    punches += [p for d in WEEKDAYS if d.day < 30 for p in worked("E002", d)]
    send(ingest, "punches", batch(*punches))
    status(ingest, "door-a", datetime(2026, 4, 1, 9))  # door-a reported after the month
    status(ingest, "door-b", datetime(2026, 3, 29, 23))  # door-b's last report
    return {"site": site, "people": people, "hr": hr, "ingest": ingest}


def record(number: str, day: date) -> DailyRecord:
    return DailyRecord.objects.get(employee__number=number, date=day)


def test_a_month_closes_only_once_it_is_over_final_and_decided(march: dict[str, Any]) -> None:
    site, hr, e1 = march["site"], march["hr"], march["people"]["E001"]
    on_the_31st = at_utc(datetime(2026, 3, 31, 12))
    assert closing.readiness(site, MARCH, now=on_the_31st).blockers == ["这个月还没过完 / The month is not over yet"]
    with pytest.raises(AttendanceError, match="not over yet"):
        closing.close_month(hr, site, MARCH, now=on_the_31st)

    # 2 April: door-b has not reported since the 29th and the three days' wait has not run out
    april_2 = at_utc(datetime(2026, 4, 2, 10))
    recompute(MARCH, date(2026, 3, 31), now=april_2)
    leave = file_leave(e1, LeaveType.objects.create(code="personal", name="事假"), date(2026, 3, 16), date(2026, 3, 16),
                       reason="家事", actor="E001")
    state = closing.readiness(site, MARCH, now=april_2)
    # final until 30 March 10:00 (the wait): E001's 30th and 31st are provisional, E002 is not absent on them yet
    assert [(r.employee.number, r.date.day) for r in DailyRecord.objects.filter(final=False)] == [("E001", 30), ("E001", 31)]
    assert not DailyRecord.objects.filter(employee__number="E002", date__gte=date(2026, 3, 30)).exists()
    assert (state.final, state.provisional) == (False, 2)
    assert state.pending == {"leave": 1, "makeup": 0, "overtime": 1, "shift_change": 0, "overtime_request": 0}
    assert state.blockers[0].startswith("还有终端未上报完")
    assert "1 条请假待审批 / 1 leave waiting for a decision" in state.blockers
    assert "1 条加班待审批 / 1 overtime waiting for a decision" in state.blockers
    with pytest.raises(AttendanceError, match="cannot be closed yet") as refused:
        closing.close_month(hr, site, MARCH, now=april_2)
    assert "条记录仍为暂定" in str(refused.value)
    assert not ClosedMonth.objects.exists()

    # 4 April 10:00: the wait ran out for every day of March; the requests are decided
    april_4 = at_utc(datetime(2026, 4, 4, 10))
    recompute(MARCH, date(2026, 3, 31), now=april_4)
    decide_leave(leave, approve=False, actor="hr")
    decide_overtime(record("E001", date(2026, 3, 10)), approve=True, actor="hr")
    state = closing.readiness(site, MARCH, now=april_4)
    assert (state.final, state.provisional, state.blockers, state.ready) == (True, 0, [], True)
    assert [record("E002", date(2026, 3, d)).status for d in (27, 30, 31)] == ["present", "absent", "absent"]
    assert record("E002", date(2026, 3, 31)).closed_by_timeout is True

    SiteCalendar.objects.update_or_create(site=site, defaults={"late_allowance_times": 3, "late_allowance_min": 5})
    closed = closing.close_month(hr, site, date(2026, 3, 17), note="三月工资已核", now=april_4)
    assert (closed.month, closed.closed_by, closed.note, closed.held) == (MARCH, "hr", "三月工资已核", [])
    assert closed.late_allowance == [3, 5]  # the month is read with them whatever the setting becomes
    entry = AuditEntry.objects.get(action="attendance.month_closed")
    assert (entry.target, entry.detail["records"]) == ("s1 2026-03", 44)
    with pytest.raises(AttendanceError, match="already closed by hr"):
        closing.close_month(hr, site, MARCH, now=april_4)
    assert closing.readiness(site, MARCH, now=april_4).ready is False  # closed: nothing to do


def close_march(march: dict[str, Any]) -> datetime:
    april_4 = at_utc(datetime(2026, 4, 4, 10))
    recompute(MARCH, date(2026, 4, 3), now=april_4)
    decide_overtime(record("E001", date(2026, 3, 10)), approve=True, actor="hr")
    closing.close_month(march["hr"], march["site"], MARCH, now=april_4)
    return april_4


def test_punches_that_come_back_after_closing_are_stored_and_held_not_written_until_reopened(
        march: dict[str, Any]) -> None:
    site, hr, ingest = march["site"], march["hr"], march["ingest"]
    april_4 = close_march(march)
    follower = Follower()
    follower.tick(now=april_4)  # the punches already handled
    paid = {(r.employee.number, r.date): (r.status, r.hours) for r in DailyRecord.objects.filter(date__lt=date(2026, 4, 1))}

    # door-b comes back on 6 April with E002's 30th and 31st, and E002's 1 April
    send(ingest, "punches", batch(*worked("E002", date(2026, 3, 30), "door-b"), *worked("E002", date(2026, 3, 31), "door-b"),
                                  *worked("E002", date(2026, 4, 1), "door-b")), device="door-b")
    status(ingest, "door-b", datetime(2026, 4, 6, 9))
    april_6 = at_utc(datetime(2026, 4, 6, 9, 5))
    follower.tick(now=april_6)
    assert Punch.objects.filter(employee_number="E002", device_id="door-b").count() == 6  # nothing lost
    assert {(r.employee.number, r.date): (r.status, r.hours)
            for r in DailyRecord.objects.filter(date__lt=date(2026, 4, 1))} == paid  # March as it was closed
    assert record("E002", date(2026, 4, 1)).status == "present"  # April is open
    held = ClosedMonth.objects.get().held
    assert [(h["employee"], h["date"], h["from"], h["to"], h["hours_from"], h["hours_to"]) for h in held] == [
        ("E002", "2026-03-30", "absent", "present", "0.00", "9.08"),
        ("E002", "2026-03-31", "absent", "present", "0.00", "9.08")]

    # a whole recompute finds the same two days: held once each, still not written
    outcome = recompute(MARCH, date(2026, 3, 31), now=april_6, actor="hr")
    assert (outcome.held, outcome.written) == (2, 0)
    assert len(ClosedMonth.objects.get().held) == 2
    assert AuditEntry.objects.get(action="attendance.recompute").detail["held"] == 2

    with pytest.raises(AttendanceError, match="reason for reopening"):
        closing.reopen_month(hr, site, MARCH, reason="  ")
    job = closing.reopen_month(hr, site, MARCH, reason="门禁 B 补传了两天的打卡")
    assert not ClosedMonth.objects.exists()
    assert (job.first, job.last, job.total) == (MARCH, date(2026, 3, 31), 2)
    entry = AuditEntry.objects.get(action="attendance.month_reopened")
    assert (entry.target, entry.detail["held"], entry.detail["reason"]) == ("s1 2026-03", 2, "门禁 B 补传了两天的打卡")
    run_queued(load_rules(april_6), april_6, budget_s=60)
    assert RecomputeJob.objects.get(pk=job.pk).state == "done"
    assert [record("E002", date(2026, 3, d)).status for d in (30, 31)] == ["present", "present"]
    with pytest.raises(AttendanceError, match="is not closed"):
        closing.reopen_month(hr, site, MARCH, reason="again")


def test_changes_on_the_days_of_a_closed_month_are_refused_with_the_month_named(march: dict[str, Any]) -> None:
    site, e1 = march["site"], march["people"]["E001"]
    april_4 = close_march(march)
    personal = LeaveType.objects.create(code="personal", name="事假")
    said = "2026年3月已月结"
    with pytest.raises(AttendanceError, match=said):
        add_manual_record(e1, date(2026, 3, 20), "absent", reason="查实未到岗", actor="hr", now=april_4)
    with pytest.raises(AttendanceError, match=said):
        file_leave(e1, personal, date(2026, 3, 31), date(2026, 4, 1), reason="x", actor="E001")
    with pytest.raises(AttendanceError, match=said):  # 09:00 on 31 March in Shanghai
        file_makeup_punch(e1, datetime(2026, 3, 31, 1, 0, tzinfo=UTC), "in", reason="忘打卡", actor="E001")
    # the same instants in April are open: the day is the site's local day
    file_makeup_punch(e1, datetime(2026, 3, 31, 16, 30, tzinfo=UTC), "in", reason="忘打卡", actor="E001")  # 1 April 00:30
    leave = file_leave(e1, personal, date(2026, 4, 1), date(2026, 4, 1), reason="x", actor="E001")
    decide_leave(leave, approve=True, actor="hr", now=april_4)
    # a holiday declared later on a closed day moves nothing there; the audit log has no changed record
    CalendarDay.objects.create(site=site, date=date(2026, 3, 20), kind="holiday", name="补记")
    recompute(MARCH, date(2026, 3, 31), now=april_4)
    assert [record(n, date(2026, 3, 20)).status for n in ("E001", "E002")] == ["present", "present"]
    assert [(h["employee"], h["date"], h["from"], h["to"]) for h in ClosedMonth.objects.get().held] == [
        ("E001", "2026-03-20", "present", None), ("E002", "2026-03-20", "present", None)]  # no record on a holiday
    assert not AuditEntry.objects.filter(action="attendance.record_changed", target__contains="2026-03").exists()


def test_only_an_hr_admin_of_the_site_closes_it(march: dict[str, Any]) -> None:
    other = Site.objects.create(code="s2", name="二厂", time_zone="Asia/Shanghai")
    elsewhere = User.objects.create_user("hr2", password="x" * 12, role=Role.HR_ADMIN)
    elsewhere.sites.set([other])
    boss = User.objects.create_user("boss", password="x" * 12, role=Role.MANAGER)
    boss.sites.set([march["site"]])
    april_4 = at_utc(datetime(2026, 4, 4, 10))
    for user in (elsewhere, boss):
        with pytest.raises(AttendanceError, match="cannot close months of"):
            closing.close_month(user, march["site"], MARCH, now=april_4)
    assert not ClosedMonth.objects.exists()


def test_held_changes_are_kept_up_to_a_limit_the_latest_line_replacing_an_earlier_one(
        march: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(closing, "HELD_KEPT", 2)
    site = march["site"]
    ClosedMonth.objects.create(site=site, month=MARCH, closed_by="hr")

    def line(number: str, day: int, to: str) -> closing.Held:
        old = None
        new = type("R", (), {"status": to, "hours": "8.00", "overtime_min": 0})()
        return closing.Held(site.pk, number, date(2026, 3, day), "day", old, new)  # type: ignore[arg-type]

    closing.hold([line("E1", 2, "present"), line("E2", 2, "present")])
    closing.hold([line("E1", 2, "half_day"), line("E3", 3, "present")])  # E1 replaced, E3 past the limit
    held = ClosedMonth.objects.get().held
    assert [(h["employee"], h["to"]) for h in held] == [("E1", "half_day"), ("E2", "present")]
    closing.hold([closing.Held(site.pk, "E9", date(2026, 4, 2), "day", None, None)])  # April is not closed
    assert len(ClosedMonth.objects.get().held) == 2


def test_payroll_hears_of_the_closing_and_reads_it_through_the_api(march: dict[str, Any]) -> None:
    site, hr = march["site"], march["hr"]
    root = User.objects.create_superuser("root", password="x" * 12)
    create_hook(root, {"name": "payroll", "url": "http://127.0.0.1:9/h", "events": ["month.closed", "month.reopened"]})
    close_march(march)
    told = Delivery.objects.get(event="month.closed")
    assert {k: told.data[k] for k in ("site", "month", "by", "records", "note")} == {
        "site": "s1", "month": "2026-03", "by": "hr", "records": 44, "note": ""}
    assert (told.key, told.data["at"].endswith("Z")) == ("s1", True)

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {create_token(hr, 'payroll', actor='test')[1]}"}
    listed = Client().get("/api/v1/attendance/closed-months", **bearer)
    assert listed.status_code == 200
    assert [(m["site"], m["month"], m["closed_by"], m["held_changes"]) for m in listed.json()["items"]] == [
        ("s1", "2026-03", "hr", 0)]
    add_manual_record(march["people"]["E001"], date(2026, 4, 1), "present", reason="外出培训", actor="hr",
                      now=at_utc(datetime(2026, 4, 4, 10)))
    page = Client().get("/api/v1/attendance/records?from=2026-03-31&to=2026-04-01&employee=E001", **bearer).json()
    assert [(r["date"], r["month_closed"]) for r in page["items"]] == [("2026-03-31", True), ("2026-04-01", False)]
    assert Client().get("/api/v1/attendance/closed-months?year=1999", **bearer).status_code == 422

    # another site's HR sees none of it
    other = Site.objects.create(code="s2", name="二厂", time_zone="Asia/Shanghai")
    hr2 = User.objects.create_user("hr2", password="x" * 12, role=Role.HR_ADMIN)
    hr2.sites.set([other])
    theirs = {"HTTP_AUTHORIZATION": f"Bearer {create_token(hr2, 'payroll', actor='test')[1]}"}
    assert Client().get("/api/v1/attendance/closed-months", **theirs).json() == {"items": []}

    closing.reopen_month(hr, site, MARCH, reason="补传")
    reopened = Delivery.objects.get(event="month.reopened")
    assert (reopened.data["reason"], reopened.data["held_changes"]) == ("补传", 0)
    april_4 = at_utc(datetime(2026, 4, 4, 10))
    run_queued(load_rules(april_4), april_4, budget_s=60)  # the reopened month recomputed first
    close_again = closing.close_month(hr, site, MARCH, now=april_4)
    assert close_again.pk and Delivery.objects.filter(event="month.closed").count() == 2  # closed again: a new fact


def test_the_monthly_sheet_and_payroll_say_which_months_are_closed(march: dict[str, Any]) -> None:
    """Read back with openpyxl and the csv module: the sheet's note names each site's month as closed or not, and
    payroll's last column says Y for the employees of a site whose every month of the period is closed."""
    hr = march["hr"]
    other = Site.objects.create(code="s2", name="二厂", time_zone="Asia/Shanghai")
    Employee.objects.create(number="F001", name="F001", site=other)
    hr.sites.add(other)

    def render(name: str, kind: str, first: date, last: date) -> bytes:
        out = io.BytesIO()
        registry.render(registry.build(name, hr, ReportParams(first, last)), kind, out)
        return out.getvalue()

    def notes() -> list[str]:
        sheet = openpyxl.load_workbook(io.BytesIO(render("monthly", "xlsx", MARCH, date(2026, 3, 31)))).worksheets[0]
        return [str(c.value) for row in sheet.iter_rows() for c in row if str(c.value).startswith("月结 Month close")]

    def payroll(first: date, last: date) -> dict[str, str]:
        text = render("payroll", "csv", first, last).decode("utf-8-sig")
        return {row["工号 employee_number"]: row["已月结 month_closed"] for row in csv.DictReader(io.StringIO(text))}

    assert notes() == ["月结 Month close: 一厂 2026-03 未月结，数字仍可能改变 not closed: the numbers may still change；"
                       "二厂 2026-03 未月结，数字仍可能改变 not closed: the numbers may still change"]
    close_march(march)
    closed_on = ClosedMonth.objects.get().closed_at.astimezone(ZoneInfo("Asia/Shanghai")).date()  # the real clock's
    assert notes() == [f"月结 Month close: 一厂 2026-03 已月结 closed (hr, {closed_on})；"
                       "二厂 2026-03 未月结，数字仍可能改变 not closed: the numbers may still change"]
    assert payroll(MARCH, date(2026, 3, 31)) == {"E001": "Y", "E002": "Y", "F001": "N"}
    assert payroll(date(2026, 3, 16), date(2026, 4, 15)) == {"E001": "N", "E002": "N", "F001": "N"}  # April is open


def test_a_month_closed_while_its_records_are_recomputed_is_not_written(
        march: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """HR closes March after a recompute read which months are closed and before it writes: the write finds the month
    closed in its own transaction, and the chunk runs again, holding the change instead of writing it."""
    april_4 = at_utc(datetime(2026, 4, 4, 10))
    recompute(MARCH, date(2026, 3, 31), now=april_4)
    decide_overtime(record("E001", date(2026, 3, 10)), approve=True, actor="hr")
    CalendarDay.objects.create(site=march["site"], date=date(2026, 3, 20), kind="holiday", name="补记")
    real, calls = closing.closed_months_of, []

    def closing_meanwhile(site_ids: Any) -> dict[int, frozenset[date]]:
        found = real(site_ids)
        calls.append(found)
        if len(calls) == 1:  # HR closes March right after the first read
            closing.close_month(march["hr"], march["site"], MARCH, now=april_4)
        return found

    monkeypatch.setattr(closing, "closed_months_of", closing_meanwhile)
    outcome = recompute(MARCH, date(2026, 3, 31), now=april_4)
    assert calls[0] == {} and len(calls) == 4  # read, re-read in the transaction (differs), read, re-read
    assert (outcome.written, outcome.held) == (0, 2)
    assert [record(n, date(2026, 3, 20)).status for n in ("E001", "E002")] == ["present", "present"]


def test_hr_is_told_once_when_changes_are_held_on_a_closed_month(march: dict[str, Any]) -> None:
    """The alert rule 已月结的月份有至少 N 条未写入的更改: once the late punches are held, one notification per closing,
    seen by the site's HR admin (not by a manager of the department), linking to the month."""
    from central.alerts import selectors as alert_selectors
    from central.alerts.models import Alert
    from central.alerts.services import create_rule, evaluate

    site, hr, ingest = march["site"], march["hr"], march["ingest"]
    create_rule(hr, {"kind": "held_changes", "threshold": 2, "site": site})
    april_4 = close_march(march)
    assert evaluate(april_4) == []  # nothing held yet
    send(ingest, "punches", batch(*worked("E002", date(2026, 3, 30), "door-b")), device="door-b")
    status(ingest, "door-b", datetime(2026, 4, 6, 9))
    Follower().tick(now=at_utc(datetime(2026, 4, 6, 9, 5)))
    assert evaluate(at_utc(datetime(2026, 4, 6, 9, 6))) == []  # one change held; the rule asks for 2
    send(ingest, "punches", batch(*worked("E002", date(2026, 3, 31), "door-b")), device="door-b")
    Follower().tick(now=at_utc(datetime(2026, 4, 6, 9, 10)))
    [alert] = evaluate(at_utc(datetime(2026, 4, 6, 9, 11)))
    assert (alert.kind, alert.site, alert.detail["month"], alert.detail["held"]) == ("held_changes", site, "2026-03", 2)
    assert evaluate(at_utc(datetime(2026, 4, 6, 9, 12))) == []  # once per closing
    assert list(alert_selectors.alerts(hr)) == [alert]
    boss = User.objects.create_user("boss", password="x" * 12, role=Role.MANAGER)
    boss.departments.set([march["people"]["E001"].department])
    assert list(alert_selectors.alerts(boss)) == []
    page = Client()
    page.force_login(hr)
    listed = page.get("/alerts/").content.decode()
    assert "已月结，之后发现 2 条更改未写入" in listed and "?site=s1#month-2026-03" in listed

    closing.reopen_month(hr, site, MARCH, reason="补传")
    later = at_utc(datetime(2026, 4, 6, 9, 13))
    with pytest.raises(AttendanceError, match="still being recomputed"):  # not before the held changes are written
        closing.close_month(hr, site, MARCH, now=later)
    run_queued(load_rules(later), later, budget_s=60)
    closing.close_month(hr, site, MARCH, now=later)  # closed again: nothing held
    assert [record("E002", date(2026, 3, d)).status for d in (30, 31)] == ["present", "present"]
    assert evaluate(at_utc(datetime(2026, 4, 6, 9, 14))) == []
    assert Alert.objects.count() == 1
