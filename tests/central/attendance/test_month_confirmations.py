"""Employees confirming their own month (考勤确认): once it is over, an employee says it is right or what is wrong;
HR answers a dispute; a dispute waiting for HR keeps the month from being closed, and the month-close counts say how
many confirmed. Read back through the rows, the audit log and the month's readiness."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from central.accounts.models import AuditEntry, Role, User
from central.attendance import closing, confirmations
from central.attendance.models import AttendanceProfile, MonthConfirmation, ShiftType, SiteCalendar
from central.attendance.services import AttendanceError, recompute
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
UTC = timezone.utc
MARCH = date(2026, 3, 1)
APRIL_2 = datetime(2026, 4, 2, 2, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    """Three people on 09:00–18:00 at a site without terminals (final up to now), each with a user of their own."""
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    dept = Department.objects.create(site=site, name="装配")
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60, checkout_after_min=120)
    users = {}
    for number in ("E1", "E2", "E3"):
        emp = Employee.objects.create(number=number, name=number, site=site, department=dept)
        AttendanceProfile.objects.create(employee=emp, default_shift=day, joined=MARCH)
        users[number] = User.objects.create_user(number.lower(), password="x" * 12, role=Role.EMPLOYEE, employee=emp)
    recompute(MARCH, date(2026, 3, 31), now=APRIL_2)  # no punches: absent every working day
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([site])
    boss = User.objects.create_user("boss", password="x" * 12, role=Role.MANAGER)
    boss.departments.set([dept])
    return {"site": site, "users": users, "hr": hr, "boss": boss}


def test_an_employee_confirms_or_disputes_a_month_once_it_is_over(plant: dict[str, Any]) -> None:
    e1 = plant["users"]["E1"]
    with pytest.raises(AttendanceError, match="2026年3月还没过完"):  # 31 March 23:30 in Shanghai
        confirmations.confirm(e1, MARCH, now=datetime(2026, 3, 31, 15, 30, tzinfo=UTC))
    row = confirmations.confirm(e1, date(2026, 3, 17), now=datetime(2026, 3, 31, 16, 30, tzinfo=UTC))  # 1 April 00:30
    assert (row.month, row.state, row.note) == (MARCH, "confirmed", "")
    assert AuditEntry.objects.get(action="attendance.month_confirmed").target == "E1 2026-03"
    with pytest.raises(AttendanceError, match="Say what is wrong") as refused:
        confirmations.dispute(e1, MARCH, "   ", now=APRIL_2)
    assert refused.value.field == "note"
    row = confirmations.dispute(e1, MARCH, "3月16日我在出差，不是缺勤" + "。" * 600, now=APRIL_2)
    assert (row.state, len(row.note)) == ("disputed", 500) and MonthConfirmation.objects.count() == 1
    assert confirmations.of(e1.employee, date(2026, 3, 31)) == row
    with pytest.raises(AttendanceError, match="Only the employee"):  # HR has no employee record of their own
        confirmations.confirm(plant["hr"], MARCH, now=APRIL_2)


def test_a_dispute_waits_for_hr_and_keeps_the_month_from_being_closed(plant: dict[str, Any]) -> None:
    site, hr, boss, users = plant["site"], plant["hr"], plant["boss"], plant["users"]
    confirmations.confirm(users["E2"], MARCH, now=APRIL_2)
    disputed = confirmations.dispute(users["E1"], MARCH, "3月16日我在出差", now=APRIL_2)
    state = closing.readiness(site, MARCH, now=APRIL_2)
    assert (state.staff, state.confirmed, state.disputed) == (3, 1, 1)
    assert state.blockers == ["1 位员工对这个月的考勤有异议，待人事答复 / 1 employees dispute their attendance for this "
                              "month and wait for HR's answer"]
    with pytest.raises(AttendanceError, match="dispute"):
        closing.close_month(hr, site, MARCH, now=APRIL_2)

    for who in (boss, users["E2"]):  # a manager does not answer for HR, nor a colleague
        with pytest.raises(AttendanceError, match="Only HR"):
            confirmations.answer(who, disputed, "已核实")
    hr_self = User.objects.create_user("hr-e1", password="x" * 12, role=Role.HR_ADMIN)
    hr_self.sites.set([site])
    users["E1"].employee = None
    users["E1"].save(update_fields=["employee"])
    hr_self.employee = disputed.employee  # an HR admin who is the employee herself
    hr_self.save(update_fields=["employee"])
    with pytest.raises(AttendanceError, match="your own dispute"):
        confirmations.answer(hr_self, disputed, "没问题")
    with pytest.raises(AttendanceError, match="answer is required"):
        confirmations.answer(hr, disputed, "")
    answered = confirmations.answer(hr, disputed, "已补登 3月16日出差，改为出勤", now=APRIL_2)
    assert (answered.state, answered.answered_by) == ("answered", "hr")
    with pytest.raises(AttendanceError, match="already answered"):
        confirmations.answer(hr, disputed, "again")
    assert closing.readiness(site, MARCH, now=APRIL_2).ready
    confirmations.confirm(hr_self, MARCH, now=APRIL_2)  # the employee agrees with the answer
    state = closing.readiness(site, MARCH, now=APRIL_2)
    assert (state.confirmed, state.disputed) == (2, 0)
    closing.close_month(hr, site, MARCH, now=APRIL_2)
    # a confirmation after closing is still taken: it is the employee's word, not a change of the records
    assert confirmations.confirm(users["E3"], MARCH, now=APRIL_2 + timedelta(days=1)).state == "confirmed"
    assert [e.action for e in AuditEntry.objects.order_by("seq") if "month_" in e.action] == [
        "attendance.month_confirmed", "attendance.month_disputed", "attendance.month_answered",
        "attendance.month_confirmed", "attendance.month_closed", "attendance.month_confirmed"]


def test_the_api_takes_an_employees_word_and_lists_it_for_hr(plant: dict[str, Any]) -> None:
    from django.test import Client

    from central.accounts.services import create_token

    def bearer(user: User) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {create_token(user, 'app', actor='test')[1]}")

    url = "/api/v1/attendance/month-confirmations"
    e1 = bearer(plant["users"]["E1"])
    said = e1.post(url, {"month": "2026-03", "state": "disputed", "note": ""}, content_type="application/json")
    assert said.status_code == 400 and said.json()["field"] == "note"
    said = e1.post(url, {"month": "2026-03", "state": "disputed", "note": "16日出差"}, content_type="application/json")
    assert said.status_code == 201
    assert {k: said.json()[k] for k in ("employee_number", "month", "state", "note")} == {
        "employee_number": "E1", "month": "2026-03", "state": "disputed", "note": "16日出差"}
    for month in ("2026-13", "26-03", "2026-03-01"):
        assert e1.post(url, {"month": month, "state": "confirmed"}, content_type="application/json").status_code == 422
    this_month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")  # the site's month in progress
    later = e1.post(url, {"month": this_month, "state": "confirmed"}, content_type="application/json")
    assert later.status_code == 409 and "not over yet" in later.json()["detail"]
    assert bearer(plant["hr"]).post(url, {"month": "2026-03", "state": "confirmed"},
                                    content_type="application/json").status_code == 403  # HR has no month of their own
    bearer(plant["users"]["E2"]).post(url, {"month": "2026-03", "state": "confirmed"}, content_type="application/json")

    hr = bearer(plant["hr"])
    listed = hr.get(url, {"month": "2026-03"}).json()["items"]
    assert [(r["employee_number"], r["state"]) for r in listed] == [("E1", "disputed"), ("E2", "confirmed")]
    assert [r["employee_number"] for r in hr.get(url, {"month": "2026-03", "state": "disputed"}).json()["items"]] == ["E1"]
    assert [r["employee_number"] for r in e1.get(url, {"month": "2026-03"}).json()["items"]] == ["E1"]  # own only
    assert hr.get(url, {"month": "2026-3"}).status_code == 422
