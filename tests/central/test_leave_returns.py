"""Back from leave early (销假) on the employee's month page: HR ends an approved leave the day before the employee came
back, or calls it off; the days given back are recomputed from the punches and the allowance counts only the days
taken. Records are made by the engine from real punches; read back through the models, the balance, the audit
log and the page's HTML.

March 2026 at 一厂 (Saturday and Sunday off, day shift 09:00-18:00): 张三 (E1) has 年假 (10 days a year) approved from
Monday 9 to Friday 13 March and from Monday 16 to Tuesday 17. He came back on Thursday 12 and punched in at 08:55
and out at 18:00; on Friday 13 he did not punch. He never went on the second leave.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from central_support import client_for
from django.urls import reverse

from central.accounts.models import AuditEntry, Role, User
from central.attendance.errors import AttendanceError, DecisionRefused
from central.attendance.leave_balances import balances
from central.attendance.leave_returns import end_leave_early
from central.attendance.models import (
    AttendanceProfile,
    ClosedMonth,
    DailyRecord,
    LeaveRecord,
    LeaveType,
    ShiftType,
    SiteCalendar,
)
from central.attendance.requests import file_leave, record_leave
from central.ingest.handler import store_punches
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
SHANGHAI = timezone(timedelta(hours=8))


@pytest.fixture
def plant() -> dict[str, Any]:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    assembly = Department.objects.create(site=site, name="装配")
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=120, late_grace_min=0, early_grace_min=0)
    e1 = Employee.objects.create(number="E1", name="张三", site=site, department=assembly)
    AttendanceProfile.objects.create(employee=e1, default_shift=day)
    annual = LeaveType.objects.create(code="annual", name="年假", yearly_days=10)
    first = record_leave(e1, annual, date(2026, 3, 9), date(2026, 3, 13), reason="探亲 Family", actor="hr")
    second = record_leave(e1, annual, date(2026, 3, 16), date(2026, 3, 17), reason="探亲 Family", actor="hr")
    store_punches([{"id": f"p{i}", "site": "s1", "device_id": "door", "employee_number": "E1", "direction": way,
                    "method": "card", "score": None, "punched_at": datetime.combine(date(2026, 3, 12), at, SHANGHAI),
                    "boot_id": "b", "monotonic_ns": i, "time_source": "ntp", "original_punched_at": None,
                    "restamped_at": None, "batch_id": "b", "received_at": datetime(2026, 3, 12, 10, tzinfo=timezone.utc)}
                   for i, (at, way) in enumerate(((time(8, 55), "in"), (time(18), "out")))])
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([site])
    boss = User.objects.create_user("boss", password="x" * 12, role=Role.MANAGER)
    boss.departments.set([assembly])
    return {"site": site, "e1": e1, "annual": annual, "first": first, "second": second, "hr": hr, "boss": boss}


def statuses(first: int, last: int) -> dict[int, tuple[str, str]]:
    return {r.date.day: (r.status, r.source) for r in DailyRecord.objects.filter(
        employee__number="E1", date__range=(date(2026, 3, first), date(2026, 3, last)))}


def used(plant: dict[str, Any]) -> Decimal:
    return next(b.used for b in balances(plant["e1"], [2026]) if b.leave_type.pk == plant["annual"].pk)


def page_post(plant: dict[str, Any], leave: LeaveRecord, back_on: str, reason: str = "提前回来 Back early") -> str:
    return client_for(plant["hr"]).post(reverse("console:attendance_month", args=[plant["e1"].pk]), {
        "kind": "leave_return", "month": "2026-03", "back-leave": str(leave.pk), "back-back_on": back_on,
        "back-reason": reason}, follow=True).content.decode()


def test_hr_ends_a_leave_the_day_before_the_employee_came_back(plant: dict[str, Any]) -> None:
    assert statuses(9, 13) == {d: ("on_leave", "leave") for d in range(9, 14)}
    assert used(plant) == 7  # 5 + 2 working days
    html = page_post(plant, plant["first"], "2026-03-12")
    assert "已销假：2026-03-12 起回来上班" in html
    plant["first"].refresh_from_db()
    assert (plant["first"].start, plant["first"].end, plant["first"].state) == (date(2026, 3, 9), date(2026, 3, 11),
                                                                                "approved")
    found = statuses(9, 13)
    assert {d: found[d] for d in (9, 10, 11)} == {d: ("on_leave", "leave") for d in (9, 10, 11)}
    assert found[12] == ("present", "punches")  # the day he came back, from his punches
    assert found[13] == ("absent", "absent")  # back, and no punch: absent like any working day
    assert used(plant) == 5  # 3 + 2
    entry = AuditEntry.objects.get(action="attendance.leave_ended_early")
    assert (entry.actor, entry.detail["end_was"], entry.detail["back_on"]) == ("hr", "2026-03-13", "2026-03-12")
    assert "2026-03-11" in html.split('id="month-leaves"')[1].split("</table>")[0]


def test_a_leave_never_taken_is_called_off_on_its_first_day(plant: dict[str, Any]) -> None:
    page_post(plant, plant["second"], "2026-03-16", "没有去 Did not go")
    plant["second"].refresh_from_db()
    assert (plant["second"].state, plant["second"].approved_by) == ("withdrawn", "hr")
    assert all(source != "leave" for _, source in statuses(16, 17).values())
    assert used(plant) == 5
    assert AuditEntry.objects.get(action="attendance.leave_called_off").detail["reason"] == "没有去 Did not go"


def test_a_day_outside_the_leave_a_closed_month_or_no_reason_is_refused_on_its_field(plant: dict[str, Any]) -> None:
    outside = page_post(plant, plant["first"], "2026-03-20").split('id="field-back-back_on"')[1].split("</div>\n</div>")[0]
    assert "回来的日期应在这次请假之内（2026-03-09 至 2026-03-13）" in outside
    assert "请填写事由" in page_post(plant, plant["first"], "2026-03-12", reason=" ")
    ClosedMonth.objects.create(site=plant["site"], month=date(2026, 3, 1), closed_by="hr")
    assert "已月结" in page_post(plant, plant["first"], "2026-03-12")
    plant["first"].refresh_from_db()
    assert plant["first"].end == date(2026, 3, 13) and not AuditEntry.objects.filter(
        action__startswith="attendance.leave_ended").exists()


def test_who_may_end_a_leave(plant: dict[str, Any]) -> None:
    pending = file_leave(plant["e1"], plant["annual"], date(2026, 3, 23), date(2026, 3, 24), reason="x", actor="e1")
    with pytest.raises(AttendanceError, match="只有已批准的请假可以销假"):
        end_leave_early(plant["hr"], pending, date(2026, 3, 24), reason="x")
    worker = User.objects.create_user("e1", password="x" * 12, role=Role.EMPLOYEE, employee=plant["e1"])
    with pytest.raises(DecisionRefused):  # not on their own leave: they tell their manager
        end_leave_early(worker, plant["first"], date(2026, 3, 12), reason="x")
    end_leave_early(plant["boss"], plant["first"], date(2026, 3, 12), reason="回来了 Back")  # their manager may
    plant["first"].refresh_from_db()
    assert plant["first"].end == date(2026, 3, 11)
    page = client_for(plant["boss"]).get(reverse("console:attendance_month", args=[plant["e1"].pk]),
                                         {"month": "2026-03"}).content.decode()
    assert 'id="month-leaves"' in page and 'id="leave-return-form"' not in page  # the form is HR's, on this page


def test_the_api_ends_a_leave_early_with_the_same_rules(plant: dict[str, Any]) -> None:
    import json

    from django.test import Client

    from central.accounts.services import create_token

    def post(who: User, leave: LeaveRecord, body: Any) -> tuple[int, Any]:
        token = create_token(who, f"t{who.pk}-{AuditEntry.objects.count()}", actor="test")[1]
        answer = Client().post(f"/api/v1/attendance/leave/{leave.pk}/early-end", json.dumps(body),
                               content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
        return answer.status_code, json.loads(answer.content)

    status, body = post(plant["hr"], plant["first"], {"back_on": "2026-03-20", "reason": "x"})
    assert (status, body["field"]) == (400, "back_on") and "within the leave" in body["detail"]
    assert post(plant["hr"], plant["first"], {"back_on": "2026-03-12"})[0] == 422  # no reason
    pending = file_leave(plant["e1"], plant["annual"], date(2026, 3, 23), date(2026, 3, 24), reason="x", actor="e1")
    status, body = post(plant["hr"], pending, {"back_on": "2026-03-24", "reason": "x"})
    assert (status, body["field"]) == (409, "state")
    worker = User.objects.create_user("e1", password="x" * 12, role=Role.EMPLOYEE, employee=plant["e1"])
    assert post(worker, plant["first"], {"back_on": "2026-03-12", "reason": "x"})[0] == 403
    stranger = User.objects.create_user("hr2", password="x" * 12, role=Role.HR_ADMIN)  # no site granted
    assert post(stranger, plant["first"], {"back_on": "2026-03-12", "reason": "x"})[0] == 404
    status, body = post(plant["hr"], plant["first"], {"back_on": "2026-03-12", "reason": "提前回来 Back early"})
    assert status == 200 and (body["start"], body["end"], body["state"]) == ("2026-03-09", "2026-03-11", "approved")
    status, body = post(plant["hr"], plant["second"], {"back_on": "2026-03-16", "reason": "没有去"})
    assert status == 200 and body["state"] == "withdrawn"
    ClosedMonth.objects.create(site=plant["site"], month=date(2026, 3, 1), closed_by="hr")
    status, body = post(plant["hr"], plant["first"], {"back_on": "2026-03-10", "reason": "x"})
    assert (status, body["field"]) == (409, "back_on") and "closed" in body["detail"]


def test_webhooks_hear_a_leave_shortened_or_called_off(plant: dict[str, Any]) -> None:
    from central.webhooks.models import Delivery
    from central.webhooks.services import create_hook

    root = User.objects.create_superuser("root", password="x" * 12)
    create_hook(root, {"name": "hr-system", "url": "http://127.0.0.1:9/h",
                       "events": ["request.shortened", "request.withdrawn"]})
    end_leave_early(plant["hr"], plant["first"], date(2026, 3, 12), reason="提前回来 Back early")
    end_leave_early(plant["boss"], plant["second"], date(2026, 3, 16), reason="没有去 Did not go")
    told = {d.event: d.data for d in Delivery.objects.all()}
    assert set(told) == {"request.shortened", "request.withdrawn"}
    shortened = told["request.shortened"]
    assert (shortened["kind"], shortened["id"], shortened["employee"], shortened["start"], shortened["end"],
            shortened["end_was"], shortened["back_on"], shortened["shortened_by"], shortened["reason"]) == (
        "leave", plant["first"].pk, "E1", "2026-03-09", "2026-03-11", "2026-03-13", "2026-03-12", "hr",
        "提前回来 Back early")
    withdrawn = told["request.withdrawn"]
    assert (withdrawn["id"], withdrawn["end"], withdrawn["withdrawn_by"]) == (plant["second"].pk, "2026-03-17", "boss")
