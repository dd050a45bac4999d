"""The web console, through Django's test client: sign-in, language, employees end to end to the
roster, scope (404 outside it, 403 for a role that may not act), device commands, the audit log
and API tokens."""
from __future__ import annotations

import hashlib
import re

import pytest
from central_support import client_for
from django.test import Client
from django.urls import reverse

from central.accounts import audit
from central.accounts.models import ApiToken, AuditEntry, Role, User
from central.console.urls import ROLE_WALK, url_names
from central.ingest.models import Command, Event
from central.people import roster
from central.people.models import Department, Device, Employee, RosterChange, Site

pytestmark = [pytest.mark.django_db, pytest.mark.central]

PASSWORD = "correct-horse-battery"


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture
def world(db):
    """Two sites with a department, a door and an employee each."""
    hq = Site.objects.create(code="hq", name="总部")
    plant = Site.objects.create(code="plant", name="工厂")
    sales = Department.objects.create(site=hq, name="销售部")
    line = Department.objects.create(site=plant, name="生产一线")
    door_hq = Device.objects.create(device_id="door-hq", site=hq, name="总部大门", online=True,
                                    status={"queue_depth": 2, "clock_offset_s": 0.05})
    door_plant = Device.objects.create(device_id="door-plant", site=plant, name="工厂大门")
    roster.upsert_employee({"number": "E001", "name": "张伟", "department": "销售部", "site": "hq"})
    roster.upsert_employee({"number": "P001", "name": "李娜", "department": "生产一线", "site": "plant"})
    return {"hq": hq, "plant": plant, "sales": sales, "line": line, "door_hq": door_hq, "door_plant": door_plant,
            "e_hq": Employee.objects.get(number="E001"), "e_plant": Employee.objects.get(number="P001")}


def make_user(username: str, role: str, *, sites=(), departments=(), employee=None, superuser=False) -> User:
    user = User.objects.create_user(username, password=PASSWORD, role=role, is_superuser=superuser,
                                    first_name=username.title())
    user.sites.set(sites)
    user.departments.set(departments)
    if employee is not None:
        user.employee = employee
        user.save()
    return user



@pytest.fixture
def root(world) -> User:
    return make_user("root", Role.HR_ADMIN, superuser=True)


@pytest.fixture
def hr_hq(world) -> User:
    return make_user("hr_hq", Role.HR_ADMIN, sites=[world["hq"]])


def employee_post(**changes) -> dict:
    data = {"number": "E100", "name": "王芳", "site": "hq", "department": "", "card": "", "pin": "",
            "verify_mode": "any", "role": "employee"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# -- sign in and language ------------------------------------------------------------------------
def test_login_page_signs_in_and_every_page_needs_it(world):
    make_user("hr", Role.HR_ADMIN, sites=[world["hq"]])
    client = Client()
    assert client.get("/employees/").status_code == 302
    assert client.get("/employees/")["Location"].startswith(reverse("console:login"))
    page = client.get(reverse("console:login"))
    assert page.status_code == 200 and "登录" in page.content.decode()
    wrong = client.post(reverse("console:login"), {"username": "hr", "password": "nope"})
    assert wrong.status_code == 200 and "用户名或密码不正确" in wrong.content.decode()
    ok = client.post(reverse("console:login"), {"username": "hr", "password": PASSWORD})
    assert ok.status_code == 302 and ok["Location"] == reverse("console:home")
    home = client.get(reverse("console:home")).content.decode()
    assert "Seed 考勤" in home and "Hr" in home and "人事管理员" in home
    client.post(reverse("console:logout"))
    assert client.get(reverse("console:home")).status_code == 302


def test_language_switch_changes_the_page_language(root):
    client = client_for(root)
    before = client.get(reverse("console:employees")).content.decode()
    assert '<html lang="zh-hans">' in before and "按工号或姓名搜索" in before
    assert "Search by number or name" not in before
    switched = client.post(reverse("console:set_language"), {"language": "en", "next": "/employees/"})
    assert switched.status_code == 302 and switched["Location"] == "/employees/"
    after = client.get(reverse("console:employees")).content.decode()
    assert '<html lang="en">' in after and "Search by number or name" in after
    assert "按工号或姓名搜索" not in after
    assert "Superuser" in after and "超级管理员" not in after  # the role label follows the language too
    assert ">Employees</a>" in after and ">员工</a>" in before
    client.post(reverse("console:set_language"), {"language": "zh-hans", "next": "/"})
    assert "按工号或姓名搜索" in client.get(reverse("console:employees")).content.decode()


def test_chinese_first_even_when_the_browser_asks_for_english(root):
    client = client_for(root)
    page = client.get(reverse("console:employees"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in page and "按工号或姓名搜索" in page
    client.post(reverse("console:set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("console:employees"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '<html lang="en">' in page  # the person's own choice wins over the browser


# -- employees, through the services and the roster -----------------------------------------------
def test_add_edit_deactivate_employee_reaches_the_roster(world, hr_hq):
    client = client_for(hr_hq)
    start = roster.current_version()
    response = client.post(reverse("console:employee_add"), employee_post(
        department=str(world["sales"].pk), card="0041E34E", pin="2468", verify_mode="card+pin",
        allowed_devices="door-hq"))
    assert response.status_code == 302, response.content.decode()[:3000]
    added = Employee.objects.get(number="E100")
    assert response["Location"] == reverse("console:employee", args=[added.pk])
    assert roster.current_version() == start + 1
    message = next(u for u in roster.delta(start)["upserts"] if u["number"] == "E100")
    assert message["name"] == "王芳" and message["department"] == "销售部"
    assert message["card"] == "4318030" and message["verify_mode"] == "card+pin"
    assert message["allowed_devices"] == ["door-hq"] and message["pin_hash"].startswith("scrypt$")
    assert AuditEntry.objects.filter(actor="hr_hq", action="employee.create", target="E100").exists()

    # edit: new name, no card, PIN kept (blank field)
    pin_hash = message["pin_hash"]
    response = client.post(reverse("console:employee_edit", args=[added.pk]), employee_post(
        name="王芳芳", department=str(world["sales"].pk), verify_mode="pin", allowed_devices="door-hq",
        active="on"))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert roster.current_version() == start + 2
    message = roster.delta(start + 1)["upserts"][0]
    assert message["name"] == "王芳芳" and message["card"] is None and message["verify_mode"] == "pin"
    assert message["pin_hash"] == pin_hash

    # clear the PIN
    client.post(reverse("console:employee_edit", args=[added.pk]), employee_post(
        name="王芳芳", verify_mode="any", clear_pin="on", active="on"))
    assert roster.current_version() == start + 3
    assert roster.delta(start + 2)["upserts"][0]["pin_hash"] is None

    # deactivate
    response = client.post(reverse("console:employee_deactivate", args=[added.pk]))
    assert response.status_code == 302
    assert roster.current_version() == start + 4
    message = roster.delta(start + 3)["upserts"][0]
    assert message["number"] == "E100" and message["active"] is False
    assert Employee.objects.get(number="E100").active is False
    page = client.get(reverse("console:employee", args=[added.pk])).content.decode()
    assert '<span class="badge badge-muted">离职</span>' in page
    assert reverse("console:employee_deactivate", args=[added.pk]) not in page


def test_duplicate_card_is_refused_on_the_card_field_and_nothing_is_stored(world, hr_hq):
    client = client_for(hr_hq)
    assert client.post(reverse("console:employee_add"), employee_post(card="0041E34E")).status_code == 302
    version, count = roster.current_version(), Employee.objects.count()
    response = client.post(reverse("console:employee_add"), employee_post(number="E101", name="赵强", card="4318030"))
    assert response.status_code == 200
    form = response.context["form"]
    assert "card" in form.errors and "E100" in form.errors["card"][0]
    assert 'id="field-card"' in response.content.decode()
    assert roster.current_version() == version and Employee.objects.count() == count
    assert not Employee.objects.filter(number="E101").exists()
    assert not RosterChange.objects.filter(number="E101").exists()


def test_bad_verify_mode_is_refused_on_its_field(world, hr_hq):
    client = client_for(hr_hq)
    version = roster.current_version()
    response = client.post(reverse("console:employee_add"), employee_post(verify_mode="iris"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["verify_mode"] and "iris" in errors["verify_mode"][0]
    assert roster.current_version() == version and not Employee.objects.filter(number="E100").exists()


def test_bad_pin_is_refused_on_the_pin_field(world, hr_hq):
    response = client_for(hr_hq).post(reverse("console:employee_add"), employee_post(pin="12ab"))
    assert response.status_code == 200 and "pin" in response.context["form"].errors
    assert not Employee.objects.filter(number="E100").exists()


def test_search_by_chinese_name_and_by_number_with_htmx_partial(world, root):
    roster.upsert_employee({"number": "E002", "name": "张三丰", "department": "销售部", "site": "hq"})
    client = client_for(root)
    page = client.get(reverse("console:employees"), {"q": "张"}).content.decode()
    assert "张伟" in page and "张三丰" in page and "李娜" not in page
    assert "<html" in page and 'hx-get="/employees/"' in page
    partial = client.get(reverse("console:employees"), {"q": "三丰"}, headers={
        "HX-Request": "true", "HX-Target": "employee-results"}).content.decode()
    assert "<html" not in partial and "张三丰" in partial and "张伟" not in partial
    by_number = client.get(reverse("console:employees"), {"q": "p00"}).content.decode()
    assert "李娜" in by_number and "张伟" not in by_number
    nothing = client.get(reverse("console:employees"), {"q": "不存在"}).content.decode()
    assert "没有找到" in nothing


def test_pages_use_packaged_htmx_and_own_css_only(root):
    page = client_for(root).get(reverse("console:home")).content.decode()
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    links = re.findall(r'<link[^>]*href="([^"]+)"', page)
    assert scripts and all(s.startswith("/static/django_htmx/") for s in scripts)
    assert links == ["/static/console/seed.svg", "/static/console/console.css"]
    assert "http://" not in page and "https://" not in page


def test_the_pages_name_their_icon_and_a_browsers_icon_request_leaves_the_message_for_the_page(world, hr_hq):
    """A browser asks for /favicon.ico, in parallel with the page it is on. Answered by the console's 404 page, that
    request took the message a form had just left for the next page ("已添加部门 …"), and the page showed none."""
    from xml.etree import ElementTree

    client = client_for(hr_hq)
    page = client.get(reverse("console:home")).content.decode()
    assert re.search(r'<link rel="icon" type="image/svg\+xml" href="/static/console/seed.svg">', page)
    icon = client.get("/static/console/seed.svg")
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert ElementTree.fromstring(b"".join(icon.streaming_content)).tag == "{http://www.w3.org/2000/svg}svg"

    added = client.post(reverse("console:departments"), {"site": world["hq"].pk, "name": "财务部"})
    assert added.status_code == 302
    asked = client.get("/favicon.ico")
    assert (asked.status_code, asked["Location"]) == (301, "/static/console/seed.svg")
    assert client.get("/static/console/missing.png").status_code == 404  # nor does any other missing part of a page
    assert "已添加部门 财务部" in client.get(added["Location"]).content.decode()


# -- scope -----------------------------------------------------------------------------------------
def test_hr_admin_of_one_site_cannot_see_or_open_another_sites_employee(world, hr_hq):
    client = client_for(hr_hq)
    listing = client.get(reverse("console:employees")).content.decode()
    assert "张伟" in listing and "李娜" not in listing
    other = world["e_plant"]
    assert client.get(reverse("console:employee", args=[other.pk])).status_code == 404
    assert client.get(reverse("console:employee_edit", args=[other.pk])).status_code == 404
    version = roster.current_version()
    assert client.post(reverse("console:employee_deactivate", args=[other.pk])).status_code == 404
    assert roster.current_version() == version and Employee.objects.get(pk=other.pk).active
    assert client.get(reverse("console:device", args=["door-plant"])).status_code == 404
    assert client.post(reverse("console:device_command", args=["door-plant"]), {"cmd": "open_door"}).status_code == 404
    assert not Command.objects.exists()
    # placing an employee at the other site is refused on the site field
    response = client.post(reverse("console:employee_add"), employee_post(site="plant"))
    assert response.status_code == 200 and "site" in response.context["form"].errors
    assert not Employee.objects.filter(number="E100").exists()


def test_manager_cannot_add_or_change_employees(world):
    manager = make_user("mgr", Role.MANAGER, departments=[world["sales"]])
    client = client_for(manager)
    assert client.get(reverse("console:employee_add")).status_code == 403
    version = roster.current_version()
    assert client.post(reverse("console:employee_add"), employee_post()).status_code == 403
    assert client.post(reverse("console:employee_deactivate", args=[world["e_hq"].pk])).status_code == 403
    assert client.post(reverse("console:device_command", args=["door-hq"]), {"cmd": "open_door"}).status_code == 403
    assert roster.current_version() == version and not Employee.objects.filter(number="E100").exists()
    assert not Command.objects.exists()
    page = client.get(reverse("console:employee", args=[world["e_hq"].pk])).content.decode()
    assert "张伟" in page and "/deactivate/" not in page and "/edit/" not in page


def test_only_superuser_adds_sites_and_hr_admin_adds_departments_in_scope(world, root, hr_hq):
    assert client_for(hr_hq).post(reverse("console:sites"), {"code": "x", "name": "X", "time_zone": "UTC"}).status_code == 403
    response = client_for(root).post(reverse("console:sites"), {"code": "wh", "name": "仓库", "time_zone": "Asia/Shanghai"})
    assert response.status_code == 302 and Site.objects.filter(code="wh", name="仓库").exists()
    client = client_for(hr_hq)
    assert client.post(reverse("console:departments"), {"site": world["hq"].pk, "name": "财务部"}).status_code == 302
    assert Department.objects.filter(site=world["hq"], name="财务部").exists()
    refused = client.post(reverse("console:departments"), {"site": world["plant"].pk, "name": "财务部"})
    assert refused.status_code == 200 and "site" in refused.context["form"].errors
    assert not Department.objects.filter(site=world["plant"], name="财务部").exists()


# -- devices, events and commands ------------------------------------------------------------------
def test_device_command_button_queues_a_signed_command_with_its_issuer(world, hr_hq):
    client = client_for(hr_hq)
    page = client.get(reverse("console:devices")).content.decode()
    assert "总部大门" in page and "工厂大门" not in page and "在线" in page
    detail = client.get(reverse("console:device", args=["door-hq"])).content.decode()
    assert 'hx-post="/devices/door-hq/command/"' in detail and 'value="open_door"' in detail
    response = client.post(reverse("console:device_command", args=["door-hq"]), {"cmd": "open_door"},
                           headers={"HX-Request": "true", "HX-Target": "command-panel"})
    assert response.status_code == 200 and "<html" not in response.content.decode()
    command = Command.objects.get()
    assert (command.cmd, command.device_id, command.site, command.issued_by) == ("open_door", "door-hq", "hq", "hr_hq")
    assert command.published_at is None  # waiting for the receiver to sign and send it
    assert AuditEntry.objects.filter(actor="hr_hq", action="device.command", target="door-hq",
                                     detail__id=command.id).exists()
    assert "排队中" in response.content.decode()
    # without htmx: a redirect back to the device page
    response = client.post(reverse("console:device_command", args=["door-hq"]), {"cmd": "resync"})
    assert response.status_code == 302 and Command.objects.filter(cmd="resync", issued_by="hr_hq").exists()
    assert client.post(reverse("console:device_command", args=["door-hq"]), {"cmd": "purge_employee"}).status_code == 400
    assert Command.objects.count() == 2


def test_events_filter_by_device_and_kind(world, root):
    from django.utils import timezone

    now = timezone.now()
    for i, (device, kind) in enumerate([("door-hq", "tailgating"), ("door-hq", "clock_jump"), ("door-plant", "tailgating")]):
        Event.objects.create(id=f"ev{i}", site="hq" if device == "door-hq" else "plant", device_id=device, kind=kind,
                             severity="warning", at=now, payload={"n": i}, received_at=now)
    client = client_for(root)
    page = client.get(reverse("console:events"), {"device": "door-hq", "kind": "tailgating"})
    rows = page.context["page"].object_list
    assert [e.id for e in rows] == ["ev0"]
    assert len(client.get(reverse("console:events"), {"since": "1h"}).context["page"].object_list) == 3
    bad = client.get(reverse("console:events"), {"since": "yesterday-ish"})
    assert "since" in bad.context["form"].errors


# -- audit -----------------------------------------------------------------------------------------
def test_auditor_views_are_recorded_and_audit_page_verifies_the_chain(world, root):
    auditor = make_user("aud", Role.AUDITOR)
    client = client_for(auditor)
    assert client.get(reverse("console:employee", args=[world["e_plant"].pk])).status_code == 200
    path = reverse("console:employee", args=[world["e_plant"].pk])
    assert AuditEntry.objects.filter(actor="aud", action="view", target=path).count() == 1
    page = client.get(reverse("console:audit"))
    assert page.status_code == 200 and page.context["check"].intact
    assert "哈希链完整" in page.content.decode()
    assert AuditEntry.objects.filter(actor="aud", action="view", target="/audit/").exists()
    # an auditor changes nothing
    assert client.get(reverse("console:employee_add")).status_code == 403
    # a broken chain is shown at the top
    entry = AuditEntry.objects.order_by("seq").first()
    AuditEntry.objects.filter(seq=entry.seq).update(target="tampered")
    page = client_for(root).get(reverse("console:audit"))
    assert not page.context["check"].intact and "哈希链已损坏" in page.content.decode()
    # the HR admin and views by non-auditors are not in it
    hr = make_user("hr2", Role.HR_ADMIN, sites=[world["hq"]])
    assert client_for(hr).get(reverse("console:audit")).status_code == 403
    assert not AuditEntry.objects.filter(actor__in=["hr2", "root"], action="view").exists()


# -- API tokens ------------------------------------------------------------------------------------
def test_token_is_shown_once_stored_hashed_and_revocable(world, hr_hq):
    client = client_for(hr_hq)
    response = client.post(reverse("console:tokens"), {"name": "考勤导出"})
    assert response.status_code == 200
    clear = re.search(r'<code class="token" id="new-token">(seed_[^<]+)</code>', response.content.decode()).group(1)
    token = ApiToken.objects.get(user=hr_hq)
    assert token.name == "考勤导出" and token.digest == hashlib.sha256(clear.encode()).hexdigest()
    assert clear.startswith(token.prefix) and clear not in (token.prefix, token.digest)
    listing = client.get(reverse("console:tokens")).content.decode()
    assert "考勤导出" in listing and token.prefix in listing and clear not in listing
    # another user can neither see nor revoke it
    other = make_user("other", Role.HR_ADMIN, sites=[world["plant"]])
    assert "考勤导出" not in client_for(other).get(reverse("console:tokens")).content.decode()
    assert client_for(other).post(reverse("console:token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert client.post(reverse("console:token_revoke", args=[token.pk])).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "已吊销" in client.get(reverse("console:tokens")).content.decode()
    assert AuditEntry.objects.filter(action="token.revoke", actor="hr_hq").exists()
    from central.accounts.services import user_for_token

    assert user_for_token(clear) is None


# -- every URL as every role -----------------------------------------------------------------------
def test_role_walk_documents_every_url_and_holds(world):
    names = url_names()
    assert "set_language" in names and names == set(ROLE_WALK)
    employee_user = make_user("emp", Role.EMPLOYEE, employee=world["e_hq"])
    users = {
        "superuser": make_user("su", Role.HR_ADMIN, superuser=True),
        "hr_admin": make_user("hr", Role.HR_ADMIN, sites=[world["hq"]]),
        "manager": make_user("mg", Role.MANAGER, departments=[world["sales"]]),
        "auditor": make_user("au", Role.AUDITOR),
        "employee": employee_user,
    }
    for role, user in users.items():
        client = client_for(user)
        token = ApiToken.objects.create(user=user, name="t", prefix=f"seed_{role[:6]}", digest=role.ljust(64, "0"))
        values = {"{employee}": world["e_hq"].pk, "{device}": "door-hq", "{token}": token.pk, "{user}": "emp"}
        for name, spec in ROLE_WALK.items():
            if "GET" not in spec["methods"]:
                continue
            kwargs = {k: values.get(v, v) for k, v in spec["kwargs"].items()}
            response = client.get(reverse(f"console:{name}", kwargs=kwargs))
            if name == "login":
                assert response.status_code == 302  # already signed in: straight home
                continue
            expected = role in spec["get"]
            assert (response.status_code == 200) == expected, (role, name, response.status_code)
            if not expected:
                assert response.status_code in (403, 404), (role, name, response.status_code)
    assert audit.verify().intact


def test_a_punch_with_an_impossible_time_is_shown_flagged_on_the_employee_page(world, hr_hq):
    from central_support import batch, client_for, punch, send

    from central.ingest.handler import Ingest

    ingest = Ingest()
    send(ingest, "punches", batch(punch(device="door-hq", employee_number="E001", punched_at="2100-01-01T01:00:00.000000Z"),
                                  punch(device="door-hq", employee_number="E001")), site="hq", device="door-hq")
    page = client_for(hr_hq).get(reverse("console:employee", args=[world["e_hq"].pk])).content.decode()
    assert page.count("时间存疑") == 1 and "不计入考勤" in page


def test_the_sites_page_counts_each_sites_departments_active_employees_and_doors(world, root):
    Department.objects.create(site=world["hq"], name="财务部")
    Employee.objects.create(number="E900", name="离职者", site=world["hq"], active=False)
    Device.objects.create(device_id="door-hq-2", site=world["hq"], name="总部侧门")
    rows = {s.code: (s.n_departments, s.n_employees, s.n_devices)
            for s in client_for(root).get(reverse("console:sites")).context["sites"]}
    expected = {site.code: (Department.objects.filter(site=site).count(),
                            Employee.objects.filter(site=site, active=True).count(),
                            Device.objects.filter(site=site).count()) for site in Site.objects.all()}
    assert rows == expected and rows["hq"][0] == 2 and rows["hq"][2] == 2
