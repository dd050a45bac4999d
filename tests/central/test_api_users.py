"""/api/v1/users: an HR system opens, changes, deactivates and resets its people's console accounts under the same
rules as the console (central/accounts/users.py)."""
from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.test import Client

from central.accounts.models import AuditEntry, Role, User
from central.accounts.services import create_token
from central.people import roster
from central.people.models import Department, Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    hq, plant = Site.objects.create(code="hq", name="总部"), Site.objects.create(code="plant", name="工厂")
    sales, line = Department.objects.create(site=hq, name="销售部"), Department.objects.create(site=plant, name="生产一线")
    roster.upsert_employees([{"number": "E001", "name": "张伟", "department": "销售部", "site": "hq"},
                             {"number": "P001", "name": "李娜", "department": "生产一线", "site": "plant"}])
    hr = User.objects.create_user("hr-hq", password="hr-own-password-1", role=Role.HR_ADMIN)
    hr.sites.set([hq])
    auditor = User.objects.create_user("audit", password="audit-own-password", role=Role.AUDITOR)
    return {"hq": hq, "sales": sales, "line": line, "hr": hr, "auditor": auditor}


def call(user: User, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    _, token = create_token(user, "hr system", actor="test")
    answer = Client(HTTP_AUTHORIZATION=f"Bearer {token}").generic(
        method, f"/api/v1/{path}", json.dumps(body) if body is not None else "", content_type="application/json")
    return answer.status_code, json.loads(answer.content)


def test_an_hr_system_opens_changes_resets_and_deactivates_an_employees_account(world):
    hr = world["hr"]
    status, made = call(hr, "POST", "users", {"username": "zhang", "role": "employee", "employee": "E001",
                                              "name": "张伟"})
    assert status == 201 and made["user"]["employee"] == "E001" and made["user"]["must_change_password"]
    password = made["one_time_password"]
    zhang = authenticate(username="zhang", password=password)
    assert zhang is not None and zhang.employee.number == "E001"
    status, listed = call(hr, "GET", "users")
    assert status == 200 and {u["username"] for u in listed} == {"zhang", "hr-hq"} and password not in json.dumps(listed)
    # now his department's manager: a department by its id, and the role
    status, changed = call(hr, "PUT", "users/zhang", {"role": "manager", "departments": [world["sales"].pk]})
    assert status == 200 and changed["role"] == "manager" and changed["employee"] == "E001"
    assert changed["departments"] == [{"id": world["sales"].pk, "site": "hq", "name": "销售部"}]
    # the accounts of a department: its managers and its workers' own; one outside the caller's scope is not found
    assert call(hr, "GET", f"users?department={world['sales'].pk}") == (200, [changed])
    status, refused = call(hr, "GET", f"users?department={world['line'].pk}")
    assert status == 404 and "部门" in refused["detail"]
    assert call(world["auditor"], "GET", f"users?department={world['line'].pk}") == (200, [])
    assert call(hr, "GET", "users?department=sales")[0] == 422
    status, reset = call(hr, "POST", "users/zhang/password-reset")
    assert status == 200 and reset["one_time_password"] != password
    assert authenticate(username="zhang", password=password) is None
    assert authenticate(username="zhang", password=reset["one_time_password"]) is not None
    status, stopped = call(hr, "PUT", "users/zhang", {"active": False})
    assert status == 200 and not stopped["active"]
    assert authenticate(username="zhang", password=reset["one_time_password"]) is None
    assert [e.action for e in AuditEntry.objects.filter(target="zhang").order_by("seq")] == [
        "user.create", "user.change", "user.password_reset", "user.deactivate"]


def test_refusals_name_their_field_and_change_nothing(world):
    hr, auditor = world["hr"], world["auditor"]
    cases = [({"username": "li", "role": "employee", "employee": "P001"}, "employee"),
             ({"username": "boss", "role": "hr_admin", "sites": ["hq"]}, "role"),
             ({"username": "mg", "role": "manager", "departments": [world["line"].pk]}, "departments"),
             ({"username": "mg", "role": "manager", "departments": [world["sales"].pk], "password": "x"}, "password"),
             ({"username": "bad name", "role": "employee", "employee": "E001"}, "username"),
             ({"username": "x\u0000", "role": "employee", "employee": "E001"}, "username")]
    for body, field in cases:
        status, answer = call(hr, "POST", "users", body)
        assert status == 422 and answer["field"] == field, (body, answer)
    mg = User.objects.create_user("mg-line", password="x" * 12, role=Role.MANAGER)
    mg.departments.set([world["line"]])
    assert call(hr, "PUT", "users/mg-line", {"name": "x"})[0] == 404  # outside the HR admin's scope: as unknown
    assert call(hr, "POST", "users/hr-hq/password-reset")[0] == 403  # their own: seen, not theirs to change
    assert call(auditor, "PUT", "users/mg-line", {"active": False})[0] == 403  # an auditor reads all, changes none
    assert call(auditor, "POST", "users", {"username": "z", "role": "auditor"})[0] == 403
    assert {u["username"] for u in call(auditor, "GET", "users")[1]} == {"hr-hq", "audit", "mg-line"}
    assert [u["username"] for u in call(mg, "GET", "users")[1]] == ["mg-line"]  # their own account only
    assert set(User.objects.values_list("username", flat=True)) == {"hr-hq", "audit", "mg-line"}
    assert User.objects.get(username="mg-line").is_active


def test_a_session_still_on_a_one_time_password_is_not_let_into_the_api(world):
    user = User.objects.create_user("zhang", password="one-time-pass-9", role=Role.EMPLOYEE, must_change_password=True)
    browser = Client()
    browser.force_login(user)
    assert browser.get("/api/v1/sites").status_code == 401
    User.objects.filter(pk=user.pk).update(must_change_password=False)
    assert browser.get("/api/v1/sites").status_code == 200
