"""A site's make-up punch rules (补卡规则): HR sets them on the holidays page, and an employee asking on the requests
page or through the API is refused, on the time field, past the month's limit or for a punch missed too long ago.
Read back through the models, the audit log, the pages' HTML and the API's answers.

一厂 (Asia/Shanghai) lets 张三 (E1) ask for 2 make-up punches a month; 王经理 (M1) manages his department.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from central_support import client_for
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from central.accounts.models import AuditEntry, Role, User
from central.attendance.models import MakeupPunch, SiteCalendar
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
PAGE = reverse("console:attendance_requests")
CALENDARS = reverse("console:attendance_calendars")
DECIDE, WITHDRAW = reverse("console:attendance_request_decide"), reverse("console:attendance_request_withdraw")


@pytest.fixture
def plant() -> dict[str, Any]:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6], makeup_per_month=2)
    assembly = Department.objects.create(site=site, name="装配")
    e1 = Employee.objects.create(number="E1", name="张三", site=site, department=assembly)
    m1 = Employee.objects.create(number="M1", name="王经理", site=site, department=assembly)
    employee = User.objects.create_user("e1", password="x" * 12, role=Role.EMPLOYEE, employee=e1)
    boss = User.objects.create_user("boss", password="x" * 12, role=Role.MANAGER, employee=m1)
    boss.departments.set([assembly])
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([site])
    return {"site": site, "e1": client_for(employee), "e1_user": employee, "boss": client_for(boss), "hr": client_for(hr)}


def ask(client: Any, at: str) -> Any:
    return client.post(PAGE, {"kind": "makeup", "makeup-at": at, "makeup-direction": "out",
                              "makeup-reason": "忘记打卡 Forgot"})


def field_error(html: str) -> str:
    found = re.search(r'id="field-makeup-at".*?</div>\s*</div>', html, re.S)
    assert found is not None
    return found.group(0)


def test_the_months_limit_counts_waiting_and_approved_ones_and_frees_a_rejected_or_withdrawn_one(
        plant: dict[str, Any]) -> None:
    assert ask(plant["e1"], "2026-03-05T18:05").status_code == 302
    assert ask(plant["e1"], "2026-03-06T18:05").status_code == 302
    refused = ask(plant["e1"], "2026-03-31T18:05")
    assert refused.status_code == 200
    assert "2026-03 已申请补卡 2 次，达到每月上限 2 次" in field_error(refused.content.decode())  # on the time field
    assert ask(plant["e1"], "2026-04-01T08:55").status_code == 302  # April is a month of its own
    first, second = MakeupPunch.objects.filter(at__month=3).order_by("at")
    plant["boss"].post(DECIDE, {"kind": "makeup", "id": str(first.pk), "decision": "approve"})
    assert ask(plant["e1"], "2026-03-31T18:05").status_code == 200  # approved still counts
    plant["boss"].post(DECIDE, {"kind": "makeup", "id": str(second.pk), "decision": "reject"})
    assert ask(plant["e1"], "2026-03-31T18:05").status_code == 302  # a rejected one does not
    plant["e1"].post(WITHDRAW, {"kind": "makeup", "id": str(MakeupPunch.objects.get(at__day=31).pk)})
    assert ask(plant["e1"], "2026-03-30T18:05").status_code == 302  # nor one withdrawn
    assert MakeupPunch.objects.filter(at__month=3).count() == 4


def test_a_punch_missed_too_long_ago_is_refused(plant: dict[str, Any]) -> None:
    SiteCalendar.objects.filter(site=plant["site"]).update(makeup_per_month=0, makeup_within_days=3)
    today = timezone.localdate()
    refused = ask(plant["e1"], f"{today - timedelta(days=4):%Y-%m-%d}T18:05")
    assert refused.status_code == 200
    error = field_error(refused.content.decode())
    assert "只能为 3 天内漏打的卡申请补卡" in error and "ask HR" in error
    assert ask(plant["e1"], f"{today - timedelta(days=3):%Y-%m-%d}T08:55").status_code == 302  # the 3rd day back is in
    assert MakeupPunch.objects.count() == 1


def test_the_api_refuses_the_same_naming_the_time(plant: dict[str, Any]) -> None:
    from central.accounts.services import create_token

    token = create_token(plant["e1_user"], "app", actor="test")[1]

    def post(at: str) -> tuple[int, Any]:
        answer = Client().post("/api/v1/attendance/makeup-punches", json.dumps(
            {"at": at, "direction": "out", "reason": "忘记打卡"}), content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}")
        return answer.status_code, json.loads(answer.content)

    assert post("2026-03-05T18:05:00")[0] == 201 and post("2026-03-06T18:05:00")[0] == 201
    status, body = post("2026-03-09T18:05:00")
    assert (status, body["field"]) == (400, "at") and "the limit is 2 a month" in body["detail"]


def test_hr_sets_the_rules_on_the_holidays_page_and_the_employee_sees_what_is_left(plant: dict[str, Any]) -> None:
    answer = plant["hr"].post(CALENDARS + "?site=s1", {"site": "s1", "action": "settings", "weekly_rest": ["5", "6"],
                                                       "final_wait_h": "168", "makeup_per_month": "3",
                                                       "makeup_within_days": "7"})
    assert answer.status_code == 302
    calendar = SiteCalendar.objects.get(site=plant["site"])
    assert (calendar.makeup_per_month, calendar.makeup_within_days) == (3, 7)
    assert AuditEntry.objects.get(action="attendance.calendar.update").detail["makeup_limits"] == [3, 7]
    bad = plant["hr"].post(CALENDARS + "?site=s1", {"site": "s1", "action": "settings", "weekly_rest": ["5", "6"],
                                                    "final_wait_h": "168", "makeup_per_month": "-1",
                                                    "makeup_within_days": "400"}).content.decode()
    assert bad.count('class="error"') >= 2
    assert SiteCalendar.objects.get(site=plant["site"]).makeup_per_month == 3
    today = timezone.localdate()
    ask(plant["e1"], f"{today:%Y-%m-%d}T00:01")
    quota = plant["e1"].get(PAGE).content.decode().split('id="makeup-quota"')[1].split("</p>")[0]
    assert f"{today:%Y-%m} 已申请补卡 1 / 3 次" in quota and "只能补 7 天内的卡" in quota
    boss_view = plant["boss"].get(CALENDARS + "?site=s1").content.decode()  # a manager reads the rules
    assert "每月最多 3 次" in boss_view.split('id="makeup-limits"')[1].split("</dd>")[0]
