"""Console accounts (用户与权限): who opens and changes which accounts, one-time passwords that must be replaced,
deactivation, and sign-in attempts that guess."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from central_support import central_cli, client_for
from django.contrib.auth import authenticate
from django.db.models import F
from django.test import Client
from django.urls import reverse

from central.accounts import audit, scope
from central.accounts.models import AuditEntry, Role, SignInFailure, User
from central.accounts.services import AccountError, create_token, user_for_token
from central.accounts.users import UserInput, change_user, create_user, reset_password, set_active
from central.people import roster
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
PASSWORD = "an-own-password-42"


@pytest.fixture
def world() -> dict[str, Any]:
    hq, plant = Site.objects.create(code="hq", name="总部"), Site.objects.create(code="plant", name="工厂")
    sales, line = Department.objects.create(site=hq, name="销售部"), Department.objects.create(site=plant, name="生产一线")
    roster.upsert_employees([{"number": "E001", "name": "张伟", "department": "销售部", "site": "hq"},
                             {"number": "E002", "name": "王芳", "department": "销售部", "site": "hq"},
                             {"number": "P001", "name": "李娜", "department": "生产一线", "site": "plant"}])
    root = User.objects.create_user("root", password=PASSWORD, is_superuser=True, role=Role.HR_ADMIN)
    hr = User.objects.create_user("hr-hq", password=PASSWORD, role=Role.HR_ADMIN)
    hr.sites.set([hq])
    return {"hq": hq, "plant": plant, "sales": sales, "line": line, "root": root, "hr": hr}


def _user(name: str, role: str, *, departments: Any = (), sites: Any = (), employee: str = "") -> User:
    user = User.objects.create_user(name, password=PASSWORD, role=role,
                                    employee=Employee.objects.get(number=employee) if employee else None)
    user.departments.set(departments)
    user.sites.set(sites)
    return user


def _refusal(actor: User, data: UserInput) -> AccountError:
    with pytest.raises(AccountError) as caught:
        create_user(actor, data)
    return caught.value


# -- who sees and changes whom ---------------------------------------------------------------------
def test_the_accounts_list_filters_by_department_its_workers_and_its_managers(world):
    _user("mg-sales", Role.MANAGER, departments=[world["sales"]])
    _user("mg-line", Role.MANAGER, departments=[world["line"]])
    _user("mg-both", Role.MANAGER, departments=[world["sales"], world["line"]])
    _user("zhang", Role.EMPLOYEE, employee="E001")
    _user("li", Role.EMPLOYEE, employee="P001")
    root = client_for(world["root"])

    def listed(client: Client, **query: Any) -> list[str]:
        return sorted(u.username for u in client.get(reverse("console:users"), query).context["page"])

    assert listed(root, department=world["line"].pk) == ["li", "mg-both", "mg-line"]
    assert listed(root, department=world["sales"].pk, role=Role.MANAGER) == ["mg-both", "mg-sales"]
    assert listed(root, department=world["line"].pk, q="li") == ["li", "mg-line"]  # with the search as well
    page = root.get(reverse("console:users"), {"department": world["line"].pk}).content.decode()
    assert f'<option value="{world["line"].pk}" selected>工厂 · 生产一线</option>' in page  # two sites: named with theirs
    # an HR admin of the head office is offered its departments only; another one's asked for filters nothing
    hr = client_for(world["hr"])
    offered = hr.get(reverse("console:users")).context["departments"]
    assert offered == [world["sales"]]
    assert listed(hr, department=world["line"].pk) == listed(hr)
    assert listed(hr, department="nonsense") == listed(hr) == ["hr-hq", "mg-sales", "zhang"]


def test_an_hr_admin_sees_the_managers_and_employee_accounts_inside_their_scope_only(world):
    mine = {_user("mg-sales", Role.MANAGER, departments=[world["sales"]]), _user("zhang", Role.EMPLOYEE, employee="E001")}
    _user("mg-line", Role.MANAGER, departments=[world["line"]])
    _user("mg-both", Role.MANAGER, departments=[world["sales"], world["line"]])  # one department outside: not theirs
    _user("li", Role.EMPLOYEE, employee="P001")
    _user("hr-plant", Role.HR_ADMIN, sites=[world["plant"]])
    _user("audit", Role.AUDITOR)
    _user("mg-none", Role.MANAGER)  # no department: only a superuser sees to it
    assert set(scope.users(world["hr"])) == mine | {world["hr"]}  # and their own account, which they may not change
    assert set(scope.users_to_change(world["hr"])) == mine
    everyone = set(User.objects.all())
    assert set(scope.users(world["root"])) == set(scope.users_to_change(world["root"])) == everyone
    auditor = User.objects.get(username="audit")
    assert set(scope.users(auditor)) == everyone and not scope.users_to_change(auditor).exists()
    for name in ("mg-sales", "zhang"):  # their own account only
        assert [u.username for u in scope.users(User.objects.get(username=name))] == [name]
    # the console: the HR admin's list, a page of another scope's account is not found, a manager has no list
    page = client_for(world["hr"]).get(reverse("console:users"))
    assert {u.username for u in page.context["page"]} == {u.username for u in mine} | {"hr-hq"}
    User.objects.filter(username="root").update(first_name="陈主管")  # a name and no employee: shown beside the user name
    assert '<span class="muted">陈主管</span>' in client_for(world["root"]).get(reverse("console:users")).content.decode()
    assert client_for(world["hr"]).get(reverse("console:user_edit", args=["mg-line"])).status_code == 404
    assert client_for(world["hr"]).get(reverse("console:user_edit", args=["root"])).status_code == 404
    assert client_for(User.objects.get(username="mg-sales")).get(reverse("console:users")).status_code == 403


def test_an_hr_admin_opens_manager_and_employee_accounts_inside_their_scope_and_nothing_else(world):
    hr = world["hr"]
    manager, password = create_user(hr, UserInput("mg-wang", Role.MANAGER, name="王经理",
                                                  departments=(world["sales"].pk,), employee="E002"))
    assert authenticate(username="mg-wang", password=password) == manager and manager.must_change_password
    assert list(manager.departments.all()) == [world["sales"]] and manager.employee.number == "E002"
    assert manager.first_name == "王经理" and not manager.is_superuser
    checks = [
        (UserInput("x1", Role.HR_ADMIN, sites=()), "role", "只能开通经理和员工账号"),
        (UserInput("x2", "superuser"), "role", "只能开通经理和员工账号"),
        (UserInput("x3", Role.MANAGER, departments=(world["line"].pk,)), "departments", "不在您的管理范围内"),
        (UserInput("x4", Role.EMPLOYEE, employee="P001"), "employee", "No employee P001 in your scope"),
        (UserInput("x5", Role.EMPLOYEE, employee="E002"), "employee", "already has the account mg-wang"),
        (UserInput("x6", Role.MANAGER), "departments", "至少要管理一个部门"),
        (UserInput("x7", Role.EMPLOYEE), "employee", "须关联一名员工"),
        (UserInput("MG-Wang", Role.EMPLOYEE, employee="E001"), "username", "已被使用"),
        (UserInput("bad name!", Role.EMPLOYEE, employee="E001"), "username", "letters, digits"),
        (UserInput("x8", Role.MANAGER, sites=("hq",), departments=(world["sales"].pk,)), "sites", "Only a superuser"),
        (UserInput("x9", "owner"), "role", "Unknown role"),
    ]
    for data, field, words in checks:
        refusal = _refusal(hr, data)
        assert refusal.field == field and words in str(refusal), (data, refusal)
    assert set(User.objects.values_list("username", flat=True)) == {"root", "hr-hq", "mg-wang"}
    # a superuser opens any role; the HR admin's grants are what was asked
    boss, _ = create_user(world["root"], UserInput("hr-plant", Role.HR_ADMIN, sites=("plant",)))
    assert [s.code for s in boss.sites.all()] == ["plant"] and boss.role == Role.HR_ADMIN
    refusal = _refusal(world["root"], UserInput("hr-x", Role.HR_ADMIN))
    assert refusal.field == "sites" and "至少要授予一个站点或部门" in str(refusal)
    entries = list(AuditEntry.objects.filter(action="user.create").order_by("seq"))
    assert [(e.actor, e.target) for e in entries] == [("hr-hq", "mg-wang"), ("root", "hr-plant")]
    assert entries[0].detail == {"role": "manager", "sites": [], "departments": ["hq/销售部"], "employee": "E002"}
    assert password not in json.dumps([e.detail for e in AuditEntry.objects.all()])
    assert audit.verify().intact


def test_nobody_changes_their_own_role_and_the_last_superuser_stays_one(world):
    root, hr = world["root"], world["hr"]
    manager = _user("mg-sales", Role.MANAGER, departments=[world["sales"]])
    changed = change_user(hr, manager, UserInput("mg-sales", Role.EMPLOYEE, employee="E001"))
    assert changed.role == Role.EMPLOYEE and not changed.departments.exists() and changed.employee.number == "E001"
    entry = AuditEntry.objects.get(action="user.change")
    assert entry.detail["was"]["role"] == "manager" and entry.detail["now"]["employee"] == "E001"
    # a manager a superuser also granted a site of the HR admin's: the HR admin's changes keep that site
    regional = _user("mg-region", Role.MANAGER, departments=[world["sales"]], sites=[world["hq"]])
    change_user(hr, regional, UserInput("mg-region", Role.MANAGER, name="区域经理", departments=(world["sales"].pk,)))
    regional.refresh_from_db()
    assert [s.code for s in regional.sites.all()] == ["hq"] and regional.first_name == "区域经理"
    with pytest.raises(AccountError, match="Only a superuser grants sites"):
        change_user(hr, regional, UserInput("mg-region", Role.MANAGER, sites=("plant",), departments=(world["sales"].pk,)))
    with pytest.raises(scope.ScopeDenied):  # an HR admin's own account is not theirs to change at all
        change_user(hr, hr, UserInput("hr-hq", Role.MANAGER, departments=(world["sales"].pk,)))
    with pytest.raises(AccountError, match="不能修改自己的角色"):
        change_user(root, root, UserInput("root", Role.AUDITOR))
    other = User.objects.create_user("root2", password=PASSWORD, is_superuser=True)
    with pytest.raises(AccountError, match="不能停用自己的账号"):
        set_active(root, root, False)
    set_active(root, other, False)
    with pytest.raises(AccountError, match="最后一个可用的超级管理员"):
        change_user(other, root, UserInput("root", Role.AUDITOR))  # root2 is inactive: root is the last one
    assert User.objects.get(username="root").is_superuser


def test_a_reset_password_signs_the_account_out_and_must_be_replaced(world):
    zhang = _user("zhang", Role.EMPLOYEE, employee="E001")
    browser = Client()
    assert browser.post(reverse("console:login"), {"username": "zhang", "password": PASSWORD}).status_code == 302
    assert browser.get(reverse("console:attendance_requests")).status_code == 200
    _, phone = create_token(zhang, "lost phone", actor="zhang")
    _, tablet = create_token(zhang, "tablet", actor="zhang")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {phone}").get("/api/v1/employees/E001").status_code == 200
    one_time = reset_password(world["hr"], zhang)
    assert browser.get(reverse("console:attendance_requests")).status_code == 302  # signed out everywhere
    for old_token in (phone, tablet):  # and whoever holds the phone is out too
        assert Client(HTTP_AUTHORIZATION=f"Bearer {old_token}").get("/api/v1/employees/E001").status_code == 401
    assert AuditEntry.objects.get(action="user.password_reset", target="zhang").detail == {"tokens_revoked": 2}
    assert authenticate(username="zhang", password=PASSWORD) is None
    assert browser.post(reverse("console:login"), {"username": "zhang", "password": one_time}).status_code == 302
    # held on the password page until they set their own; the API and signing out are not held
    answer = browser.get(reverse("console:attendance_requests"))
    assert answer.status_code == 302 and answer["Location"] == reverse("console:password_change")
    assert browser.get(reverse("console:attendance_requests"), HTTP_HX_REQUEST="true")["HX-Redirect"] \
        == reverse("console:password_change")
    page = browser.get(reverse("console:password_change"))
    assert page.status_code == 200 and "一次性密码" in page.content.decode()
    _, token = create_token(zhang, "phone", actor="zhang")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/employees/E001").status_code == 200
    weak = browser.post(reverse("console:password_change"), {"old_password": one_time, "new_password1": "12345678",
                                                            "new_password2": "12345678"})
    assert weak.status_code == 200 and weak.context["form"].errors["new_password2"]
    wrong_old = browser.post(reverse("console:password_change"), {"old_password": "nope", "new_password1": PASSWORD + "!",
                                                                 "new_password2": PASSWORD + "!"})
    assert wrong_old.context["form"].errors["old_password"]
    done = browser.post(reverse("console:password_change"), {"old_password": one_time, "new_password1": PASSWORD + "!",
                                                             "new_password2": PASSWORD + "!"})
    assert done.status_code == 302 and done["Location"] == reverse("console:home")
    assert browser.get(reverse("console:attendance_requests")).status_code == 200  # still signed in, free to go
    zhang.refresh_from_db()
    assert not zhang.must_change_password and authenticate(username="zhang", password=PASSWORD + "!") == zhang
    assert list(AuditEntry.objects.filter(target="zhang", action__startswith="user.").order_by("seq")
                .values_list("actor", "action")) == [
        ("hr-hq", "user.password_reset"), ("zhang", "user.password_changed")]


def test_a_deactivated_account_cannot_sign_in_and_its_tokens_stop_until_it_is_reactivated(world):
    manager = _user("mg-sales", Role.MANAGER, departments=[world["sales"]])
    _, token = create_token(manager, "script", actor="mg-sales")
    hr = client_for(world["hr"])
    answer = hr.post(reverse("console:user_active", args=["mg-sales"]), {"active": "0"})
    assert answer.status_code == 302
    assert authenticate(username="mg-sales", password=PASSWORD) is None and user_for_token(token) is None
    page = hr.get(reverse("console:user_edit", args=["mg-sales"])).content.decode()
    assert 'id="reactivate"' in page and "已停用" in page
    hr.post(reverse("console:user_active", args=["mg-sales"]), {"active": "1"})
    assert authenticate(username="mg-sales", password=PASSWORD) == manager and user_for_token(token) == manager
    assert list(AuditEntry.objects.filter(action__startswith="user.").values_list("action", flat=True).order_by("seq")) == [
        "user.deactivate", "user.reactivate"]
    # a manager may not, and an account outside the HR admin's scope is not found
    assert client_for(manager).post(reverse("console:user_active", args=["zhang"]), {"active": "0"}).status_code == 403
    _user("mg-line", Role.MANAGER, departments=[world["line"]])
    assert hr.post(reverse("console:user_active", args=["mg-line"]), {"active": "0"}).status_code == 404
    assert User.objects.get(username="mg-line").is_active


def test_the_users_page_shows_a_new_accounts_password_once_and_refusals_on_their_fields(world):
    hr = client_for(world["hr"])
    page = hr.get(reverse("console:users"), {"employee": "E001", "role": "employee"})  # from the employee's page
    assert page.context["form"]["employee"].value() == "E001"
    assert "sites" not in page.context["form"].fields  # only a superuser grants sites
    made = hr.post(reverse("console:users"), {"username": "zhang", "role": "employee", "employee": "E001"})
    password = made.context["issued"]["password"]
    assert f'id="one-time-password">{password}<' in made.content.decode()
    assert authenticate(username="zhang", password=password) is not None
    again = hr.get(reverse("console:users")).content.decode()
    assert password not in again and 'data-user="zhang"' in again and "待改密码" in again
    refused = hr.post(reverse("console:users"), {"username": "li", "role": "employee", "employee": "P001"})
    assert refused.status_code == 200 and "P001" in str(refused.context["form"].errors["employee"])
    assert not User.objects.filter(username="li").exists()
    # the role list offers an HR admin what they may open; a department outside their scope is not a choice
    form = refused.context["form"]
    assert {v for v, _ in form.fields["role"].choices} == {"manager", "employee"}
    assert {v for v, _ in form.fields["departments"].choices} == {str(world["sales"].pk)}
    outside = hr.post(reverse("console:users"), {"username": "mg", "role": "manager", "departments": [world["line"].pk]})
    assert outside.context["form"].errors["departments"] and not User.objects.filter(username="mg").exists()


def test_the_accounts_pages_speak_english_from_the_catalogue(world):
    _user("zhang", Role.EMPLOYEE, employee="E001")
    root = client_for(world["root"])
    root.cookies["seed_language"] = "en"
    pages = [root.get(reverse("console:users")), root.get(reverse("console:user_edit", args=["zhang"])),
             root.post(reverse("console:users"), {"username": "li", "role": "employee", "employee": "P001"}),
             root.post(reverse("console:users"), {"username": "zhang", "role": "employee", "employee": "E002"}),
             root.post(reverse("console:user_password_reset", args=["zhang"])),
             root.get(reverse("console:password_change")),
             root.post(reverse("console:user_employee_accounts"), {"site": "hq"})]
    texts = [re.sub(r"<[^>]+>", " ", p.content.decode().split("<main", 1)[1].split("</main>")[0]) for p in pages]
    assert "Users and access" in texts[0] and "Open an account" in texts[0] and "Role and grants" in texts[1]
    assert "Account li opened" in texts[2] and "The user name zhang is taken" in texts[3]
    assert "Password reset" in texts[4] and "Old password" in texts[5]
    assert "1 account opened" in texts[6] and "1 employee already has an account" in texts[6] and "Print" in texts[6]
    for text in texts:
        shown = re.sub(r"总部|工厂|销售部|生产一线|张伟|王芳|李娜", "", text)
        assert not re.findall(r"[\u4e00-\u9fff]+", shown), re.findall(r"[\u4e00-\u9fff]+", shown)


def test_a_one_time_password_is_stored_cheaply_and_again_at_full_strength_once_used(world):
    made, password = create_user(world["hr"], UserInput("zhang", Role.EMPLOYEE, employee="E001"))
    algorithm, iterations, _salt, _hash = made.password.split("$")
    assert (algorithm, iterations) == ("pbkdf2_sha256_one_time", "1000")
    assert authenticate(username="zhang", password=password) == made
    made.refresh_from_db()  # its first use stored it again with the first of PASSWORD_HASHERS
    assert not made.password.startswith("pbkdf2_sha256_one_time$") and made.check_password(password)


def test_a_sites_employees_get_their_accounts_in_one_go_and_their_slips_once(world):
    from central.accounts.users import open_employee_accounts

    roster.upsert_employees([{"number": "E003", "name": "赵六", "department": "销售部", "site": "hq"},
                             {"number": "E004", "name": "钱七", "department": "销售部", "site": "hq", "active": False},
                             {"number": "mg-sales", "name": "同名", "department": "销售部", "site": "hq"}])
    _user("zhang", Role.EMPLOYEE, employee="E001")  # has one already
    _user("MG-Sales", Role.MANAGER, departments=[world["sales"]])  # its user name is an employee's number
    hr = client_for(world["hr"])
    page = hr.post(reverse("console:user_employee_accounts"), {"site": "hq"})
    outcome = page.context["outcome"]
    assert [(o.username, o.employee.name) for o in outcome.opened] == [("E002", "王芳"), ("E003", "赵六")]
    assert [(e.number, "another account's" in r) for e, r in outcome.skipped] == [("mg-sales", True)]
    assert outcome.had_accounts == 1
    body = page.content.decode()
    for o in outcome.opened:
        assert f'<code class="slip-password">{o.password}</code>' in body
        assert authenticate(username=o.username, password=o.password).employee == o.employee
        assert User.objects.get(username=o.username).must_change_password
    assert not User.objects.filter(employee__number="E004").exists()  # left: not opened
    assert AuditEntry.objects.filter(action="user.create", actor="hr-hq").count() == 2
    again = hr.post(reverse("console:user_employee_accounts"), {"site": "hq"}).context["outcome"]
    assert (again.opened, again.had_accounts) == ([], 3)  # nothing twice
    # another site's employees are not the HR admin's: refused on the field, nothing opened
    refused = hr.post(reverse("console:user_employee_accounts"), {"site": "plant"})
    assert refused.context["outcome"] is None and refused.context["form"].errors["site"]
    assert not User.objects.filter(employee__number="P001").exists()
    with pytest.raises(scope.ScopeDenied):
        open_employee_accounts(User.objects.get(username="zhang"), Employee.objects.all())
    assert client_for(User.objects.get(username="MG-Sales")).post(
        reverse("console:user_employee_accounts"), {"site": "hq"}).status_code == 403


# -- sign-in attempts that guess --------------------------------------------------------------------
def _sign_in(client: Client, username: str, password: str, address: str = "10.0.0.5") -> Any:
    return client.post(reverse("console:login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_a_name_that_keeps_guessing_waits_and_no_password_is_checked_meanwhile(world):
    _user("zhang", Role.EMPLOYEE, employee="E001")
    client = Client()
    for attempt in range(4):
        answer = _sign_in(client, "zhang", f"guess-{attempt}")
        assert answer.status_code == 200 and "用户名或密码不正确" in answer.content.decode()
    fifth = _sign_in(client, "zhang", "guess-4").content.decode()  # the fifth refusal says what comes next
    assert "尝试次数过多，请 15 分钟后再试" in fifth and "用户名或密码不正确" not in fifth
    locked = _sign_in(client, "ZHANG", PASSWORD)  # the right password, the name in other case: it waits all the same
    assert locked.status_code == 429 and "尝试次数过多，请 15 分钟后再试" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert _sign_in(client, "zhang", PASSWORD, address="10.0.0.9").status_code == 429  # another machine: the name waits
    assert AuditEntry.objects.filter(action="user.sign_in_locked", target="zhang").count() == 1
    assert _sign_in(Client(), "root", PASSWORD).status_code == 302  # others from that address may go on
    SignInFailure.objects.update(at=F("at") - timedelta(minutes=11))
    assert "4 分钟" in _sign_in(client, "zhang", PASSWORD).content.decode()
    SignInFailure.objects.update(at=F("at") - timedelta(minutes=5))  # the window has passed
    assert _sign_in(client, "zhang", PASSWORD).status_code == 302 and client.session["_auth_user_id"]
    assert not SignInFailure.objects.filter(username="zhang").exists()  # signed in: the count starts again


def test_an_address_trying_many_names_waits_too(world):
    for i in range(20):
        assert _sign_in(Client(), f"name-{i}", "guess", address="10.9.9.9").status_code == 200
    assert _sign_in(Client(), "root", PASSWORD, address="10.9.9.9").status_code == 429
    assert _sign_in(Client(), "root", PASSWORD, address="10.9.9.10").status_code == 302
    assert AuditEntry.objects.get(action="user.sign_in_locked").detail == {"address": "10.9.9.9"}


# -- the command line ---------------------------------------------------------------------------------
def test_createadmin_grants_departments_and_links_an_employee(world):
    cli = central_cli

    code, out, _ = cli("createadmin", "mg-sales", "--role", "manager", "--department", "hq/销售部", "--employee", "E002")
    manager = User.objects.get(username="mg-sales")
    assert code == 0 and [d.name for d in manager.departments.all()] == ["销售部"] and manager.employee.number == "E002"
    assert manager.must_change_password and "one-time password" in out
    code, _, err = cli("createadmin", "mg-x", "--role", "manager", "--department", "hq/没有的部门")
    assert code == 2 and "hq/没有的部门" in err
    code, _, err = cli("createadmin", "mg-y", "--role", "manager")
    assert code == 2 and "A manager has at least one department" in err
    code, _, err = cli("createadmin", "wang", "--role", "employee", "--employee", "E002")
    assert code == 2 and "already has the account mg-sales" in err
    assert not User.objects.filter(username__in=["mg-x", "mg-y", "wang"]).exists()
