"""An employee's attendance terms (考勤设置) through the employees API: an HR system that hires and lets go sets the
joining and leaving days, the start of working life, the default shift, 免打卡 and 加班白名单 with the employee, in
one call; terms refused leave the employee as it was. Read back through the API, the models and the audit log."""
from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest
from central_support import token_for
from django.test import Client

from central.accounts.models import AuditEntry, Role
from central.attendance.models import AttendanceProfile, ShiftType
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db: Any) -> dict[str, Any]:
    site = Site.objects.create(code="s1", name="一厂")
    dept = Department.objects.create(site=site, name="装配")
    ShiftType.objects.create(name="白班", start=time(9), end=time(18))
    hr = token_for("hr", Role.HR_ADMIN, sites=[site])
    manager = token_for("mg", Role.MANAGER, departments=[dept])
    return {"hr": {"HTTP_AUTHORIZATION": f"Bearer {hr}"}, "manager": {"HTTP_AUTHORIZATION": f"Bearer {manager}"}}


def call(method: str, path: str, who: dict[str, str], body: dict[str, Any] | None = None) -> tuple[int, Any]:
    client = Client()
    answer = getattr(client, method)(path, body, content_type="application/json", **who) if body is not None \
        else getattr(client, method)(path, **who)
    return answer.status_code, answer.json()


def test_an_employee_is_hired_with_their_terms_and_later_let_go(api) -> None:
    status, body = call("post", "/api/v1/employees", api["hr"], {
        "number": "A1", "name": "张伟", "site": "s1", "department": "装配",
        "attendance": {"joined": "2026-03-01", "work_started": "2016-07-01", "default_shift": "白班",
                       "overtime_listed": True}})
    assert status == 201, body
    assert body["attendance"] == {"joined": "2026-03-01", "left": None, "work_started": "2016-07-01",
                                  "default_shift": "白班", "exempt": False, "overtime_listed": True}
    profile = AttendanceProfile.objects.select_related("default_shift").get(employee__number="A1")
    assert (profile.joined, profile.work_started, profile.default_shift.name, profile.overtime_listed) == (
        date(2026, 3, 1), date(2016, 7, 1), "白班", True)
    status, body = call("put", "/api/v1/employees/A1", api["hr"], {"attendance": {"left": "2026-11-30"}})
    assert status == 200 and body["attendance"]["left"] == "2026-11-30" and body["attendance"]["joined"] == "2026-03-01"
    entry = AuditEntry.objects.filter(action="attendance.profile").order_by("pk").last()
    assert entry is not None and entry.target == "A1" and entry.detail["changed"] == ["left"]
    status, body = call("get", "/api/v1/employees/A1", api["hr"])
    assert body["attendance"]["left"] == "2026-11-30" and body["attendance"]["default_shift"] == "白班"


def test_an_employee_without_terms_reads_empty_ones_and_terms_are_optional(api) -> None:
    status, body = call("post", "/api/v1/employees", api["hr"], {"number": "A2", "name": "李娜", "site": "s1"})
    assert status == 201 and body["attendance"] == {"joined": None, "left": None, "work_started": None,
                                                    "default_shift": None, "exempt": False, "overtime_listed": False}
    assert not AttendanceProfile.objects.filter(employee__number="A2").exists()


@pytest.mark.parametrize(("terms", "field", "words"), [
    ({"default_shift": "夜班"}, "attendance.default_shift", "没有名为 夜班 的班次"),
    ({"joined": "2026-03-01", "left": "2026-02-01"}, "attendance.left", "离职日期早于入职日期"),
    ({"joined": "2026-03-01", "work_started": "2026-04-01"}, "attendance.work_started", "参加工作时间晚于入职日期"),
    ({"joined": "not a date"}, "attendance.joined", "请求数据无效"),
    ({"salary": 1}, "attendance.salary", "未知字段"),
])
def test_terms_refused_name_their_field_and_change_nothing(api, terms: dict[str, Any], field: str, words: str) -> None:
    call("post", "/api/v1/employees", api["hr"], {"number": "A3", "name": "王芳", "site": "s1"})
    status, body = call("put", "/api/v1/employees/A3", api["hr"], {"name": "王芳芳", "attendance": terms})
    assert (status, body["field"]) == (422, field) and words in body["detail"], body
    assert Employee.objects.get(number="A3").name == "王芳"  # the name sent with them was not kept either
    assert not AttendanceProfile.objects.filter(employee__number="A3").exists()


def test_a_manager_sees_the_terms_and_cannot_change_them(api) -> None:
    call("post", "/api/v1/employees", api["hr"], {"number": "A4", "name": "赵强", "site": "s1", "department": "装配",
                                                  "attendance": {"joined": "2026-01-05"}})
    status, body = call("get", "/api/v1/employees/A4", api["manager"])
    assert status == 200 and body["attendance"]["joined"] == "2026-01-05"
    status, _body = call("put", "/api/v1/employees/A4", api["manager"], {"attendance": {"joined": "2025-01-05"}})
    assert status == 403 and AttendanceProfile.objects.get(employee__number="A4").joined == date(2026, 1, 5)
