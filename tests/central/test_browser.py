"""The web console in a real browser: ``seed-central serve`` (gunicorn) on the test database, driven by
headless Chromium. Sign-in (a wrong password first), the page language and its switch, adding an
employee through the form (a bad card refused next to the card field), the live search, and the
employee reaching a simulated terminal through the real broker, the receiver and the sync agent.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))

from browser_support import PBKDF2, all_css, by_css, wait  # noqa: E402
from sync_support import SITE, AgentThread, Broker, Terminal, central_settings, device_config, wait_for  # noqa: E402

from central.console.screenshots import chromium, sign_in, switch_language  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEVICE = "door-a"


# -- the site, its broker and a terminal -------------------------------------------------------------
@pytest.fixture(scope="module")
def pki_site(tmp_path_factory) -> dict:
    """The site's PKI and a provisioned bundle for the test terminal."""
    from central.pki import SitePki
    from central.provision import provision_device

    root = tmp_path_factory.mktemp("site")
    pki = SitePki(root / "pki", SITE)
    bundle = provision_device(pki, DEVICE, root / "bundles", broker_host="127.0.0.1", broker_port=1,
                              install_dir=root / "bundles" / DEVICE)
    return {"root": root, "pki": pki, "bundles": {DEVICE: bundle}}


@pytest.fixture(scope="module")
def broker(pki_site, tmp_path_factory) -> Iterator[Broker]:
    running = Broker(pki_site["pki"], tmp_path_factory.mktemp("broker")).start()
    yield running
    running.stop()


@pytest.fixture
def world(transactional_db, settings) -> dict:
    """The site 总厂 (the terminals' site code) with two departments and three employees."""
    from central.people import roster
    from central.people.models import Department, Site

    settings.PASSWORD_HASHERS = PBKDF2
    site = Site.objects.create(code=SITE, name="总厂")
    for name in ("生产部", "质检部"):
        Department.objects.create(site=site, name=name)
    roster.upsert_employees([
        {"number": "A001", "name": "张伟", "site": SITE, "department": "生产部"},
        {"number": "A002", "name": "王小红", "site": SITE, "department": "质检部"},
        {"number": "A003", "name": "李娜", "site": SITE, "department": "生产部"},
    ])
    return {"site": site}


@pytest.fixture
def admin(world) -> tuple[str, str]:
    from browser_support import account

    return "hr-chen", account("hr-chen", role="superuser", actor="test")


@pytest.fixture
def browser(console) -> Iterator:
    """Headless Chromium on an office machine set to English (Accept-Language en-US): the console still
    speaks Chinese until the person picks English."""
    with chromium((1280, 800), accept_language="en-US,en") as driver:
        yield driver


@pytest.fixture
def terminal(pki_site, broker, world, tmp_path) -> Iterator[Terminal]:
    """The receiver (CentralService) on the test database and a simulated terminal running its sync agent."""
    from central.ingest.service import CentralService

    central = CentralService(central_settings(pki_site, broker)).start()
    term = agent = None
    try:
        assert central.wait_connected(10), "the receiver did not connect to the broker"
        term = Terminal(device_config(pki_site, broker, DEVICE, tmp_path / DEVICE))
        agent = AgentThread(term.config).start()
        yield term
    finally:
        if agent is not None:
            agent.stop()
        if term is not None:
            term.close()
        central.stop()


# -- helpers ---------------------------------------------------------------------------------------


def nav_labels(driver) -> list[str]:
    return [a.text.strip() for a in all_css(driver, "nav.sidenav a")]


def result_names(driver) -> list[str]:
    return [row.find_elements("css selector", "td")[1].text for row in all_css(driver, "#employee-results tbody tr")]


def local_employee(terminal: Terminal, number: str) -> dict | None:
    return terminal.store.query_one(
        "SELECT name, department, card, pin_hash, verify_mode, allowed_devices, active FROM employees WHERE number = ?",
        (number,))


# -- the tests -------------------------------------------------------------------------------------
def test_sign_in_in_chinese_and_switch_the_language(console, browser, admin):
    username, password = admin
    url = console.url
    browser.get(f"{url}/employees/")
    wait(browser, lambda d: "/login/" in d.current_url, what="redirect to the sign-in page")
    assert by_css(browser, "html").get_attribute("lang") == "zh-hans"
    assert by_css(browser, ".login-card h1").text == "登录 Seed 考勤"

    # a wrong password: the page says so, in Chinese, and nobody is signed in
    by_css(browser, "input[name=username]").send_keys(username)
    by_css(browser, "input[name=password]").send_keys(password + "x")
    by_css(browser, "form.form button[type=submit]").click()
    error = wait(browser, lambda d: all_css(d, ".login-card .alert-bad"), what="the sign-in error")[0]
    assert error.text == "用户名或密码不正确，请重试。"
    assert not all_css(browser, "nav.sidenav")
    assert by_css(browser, "input[name=username]").get_attribute("value") == username

    # the right one: back to the page that was asked for, in Chinese
    sign_in(browser, url, username, password)
    assert browser.current_url == f"{url}/employees/"
    labels = nav_labels(browser)
    assert {"概览", "员工", "部门", "设备", "审计日志"} <= set(labels), labels
    assert by_css(browser, "h1").text == "员工"
    assert by_css(browser, ".badge-role").text == "超级管理员"
    assert by_css(browser, ".lang-current").text == "简体中文"

    # the page's own switch: English, and it stays English from page to page
    switch_language(browser, "en")
    assert browser.current_url == f"{url}/employees/"
    labels = nav_labels(browser)
    assert {"Overview", "Employees", "Departments", "Devices", "Audit log"} <= set(labels), labels
    assert not any("\u4e00" <= ch <= "\u9fff" for label in labels for ch in label), labels
    assert by_css(browser, "h1").text == "Employees"
    assert by_css(browser, "#search").get_attribute("placeholder") == "Search by number or name"
    assert by_css(browser, ".lang-current").text == "English"
    browser.get(f"{url}/devices/")
    assert by_css(browser, "h1").text == "Devices"
    assert by_css(browser, "#backups h2").text == "Database backups"  # the superuser sees the machine's backups
    assert by_css(browser, "#backups .badge-bad").text == "No backup yet"

    # and back to Chinese
    switch_language(browser, "zh-hans")
    assert by_css(browser, "h1").text == "设备"
    assert "员工" in nav_labels(browser)


def test_an_employee_added_in_the_browser_reaches_the_terminal(console, browser, admin, terminal):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    from central.people import roster
    from central.people.models import Device, Employee
    from sync_agent.roster import roster_version

    url = console.url
    # the terminal is connected and holds the roster as it is now
    wait_for(lambda: Device.objects.filter(device_id=DEVICE, site__code=SITE).exists(), 20,
             what="the terminal's first status")
    wait_for(lambda: roster_version(terminal.store) == roster.current_version() == 3, 20, what="roster v3 on the terminal")
    assert local_employee(terminal, "B100") is None

    sign_in(browser, url, *admin)
    browser.get(f"{url}/employees/")
    by_css(browser, "a.btn-primary[href$='/employees/new/']").click()
    wait(browser, lambda d: d.current_url == f"{url}/employees/new/", what="the employee form")
    assert by_css(browser, "h1").text == "添加员工"

    def fill(card: str) -> None:
        for name, value in (("number", "B100"), ("name", "王小明"), ("card", card), ("pin", "2468")):
            field = by_css(browser, f"[name={name}]")
            field.clear()
            field.send_keys(value)
        Select(by_css(browser, "[name=site]")).select_by_value(SITE)
        Select(by_css(browser, "[name=department]")).select_by_visible_text("生产部")
        Select(by_css(browser, "[name=verify_mode]")).select_by_value("card+pin")
        door = by_css(browser, f"input[name=allowed_devices][value='{DEVICE}']")
        if not door.is_selected():
            door.click()

    # a card no reader could produce: refused, the error next to the card field, nothing stored
    fill("12G4!")
    by_css(browser, "form.form button[type=submit]").click()
    wait(browser, lambda d: all_css(d, "#field-card .error"), what="the card error")
    assert "field-error" in by_css(browser, "#field-card").get_attribute("class")
    assert "12G4!" in by_css(browser, "#field-card .error").text  # the error names what was typed
    assert [f.get_attribute("id") for f in all_css(browser, ".field-error")] == ["field-card"]
    assert by_css(browser, "[name=name]").get_attribute("value") == "王小明"  # what was typed is kept
    assert not Employee.objects.filter(number="B100").exists()
    assert roster.current_version() == 3

    # a hex card as a wedge reader types it: saved, then shown on the employee's page
    fill("0041E34E")
    by_css(browser, "form.form button[type=submit]").click()
    wait(browser, lambda d: all_css(d, ".alert-ok"), what="the saved message")
    assert "王小明" in by_css(browser, ".alert-ok").text
    assert by_css(browser, "h1").text.startswith("王小明")
    saved = Employee.objects.select_related("department").get(number="B100")
    assert (saved.name, saved.department.name, saved.card, saved.allowed_devices) == ("王小明", "生产部", "4318030",
                                                                                     [DEVICE])
    assert browser.current_url == f"{url}/employees/{saved.pk}/"

    # in the list, and found by its Chinese name in the live search (htmx: no page load)
    browser.get(f"{url}/employees/")
    assert "王小明" in result_names(browser) and len(result_names(browser)) == 4
    browser.execute_script("window.__sameDocument = true")
    search = by_css(browser, "#search")
    search.send_keys("王小明")
    wait(browser, lambda d: result_names(d) == ["王小明"], what="the live search result")
    assert browser.execute_script("return window.__sameDocument === true"), "the search reloaded the page"
    wait(browser, lambda d: "q=" in d.current_url, what="the search in the address bar")
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys("王")
    wait(browser, lambda d: sorted(result_names(d)) == ["王小明", "王小红"], what="the search for 王")
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys("赵无此人")
    wait(browser, lambda d: all_css(d, "#employee-results .empty"), what="no match")
    assert "赵无此人" in by_css(browser, "#employee-results .empty").text
    assert browser.execute_script("return window.__sameDocument === true")

    # the terminal gets the employee: over the broker, from the receiver, applied by its sync agent
    wait_for(lambda: local_employee(terminal, "B100"), 30, what="B100 in the terminal's store")
    local = local_employee(terminal, "B100")
    assert (local["name"], local["department"], local["card"], local["verify_mode"], local["active"]) == (
        "王小明", "生产部", "4318030", "card+pin", 1)
    assert local["pin_hash"] and local["pin_hash"] == saved.pin_hash and "2468" not in local["pin_hash"]
    assert json.loads(local["allowed_devices"]) == [DEVICE]
    assert roster_version(terminal.store) == roster.current_version() == 4


def test_a_dashboard_left_open_past_the_idle_limit_goes_to_the_sign_in_form_and_back(console, browser, admin,
                                                                                    settings):
    """The overview refreshes its numbers every 2 s by itself; that keeps nobody signed in. Once the session has
    been left alone past the limit (120 minutes by default, here made so in the session's own record), the next
    refresh takes the whole page to the sign-in form, which says why; signing in comes back to the overview."""
    import time

    from django.contrib.sessions.backends.db import SessionStore

    settings.SECRET_KEY = console.env["SEED_CENTRAL_SECRET_KEY"]  # the served console's, which signs its sessions
    username, password = admin
    sign_in(browser, console.url, username, password)
    assert by_css(browser, "#dashboard-live")
    session = SessionStore(session_key=browser.get_cookie("sessionid")["value"])
    assert time.time() - session["seed_seen"] < 60  # the pages asked for so far stamped it
    session["seed_seen"] = time.time() - 121 * 60
    session.save()

    wait(browser, lambda d: "/login/" in d.current_url, what="the refresh to take the page to the sign-in form")
    assert browser.current_url == f"{console.url}/login/?next=/"
    assert by_css(browser, ".alert-ok").text == "您已 120 分钟未操作，为保护数据已自动退出，请重新登录。"
    assert not all_css(browser, "#dashboard-live")  # the form is the page, not drawn inside the dashboard's panel
    sign_in(browser, console.url, username, password)
    assert browser.current_url == f"{console.url}/" and by_css(browser, "#dashboard-live")


def test_a_form_sent_past_the_idle_limit_comes_back_filled_in_after_signing_in(console, browser, admin, settings):
    """HR types a new employee, leaves the machine past the idle limit and comes back to press 保存: the console
    signs them out (nothing is saved on its own), keeps what was typed, and once they have signed in again shows
    the same form filled in (the door ticked too), the PIN left empty, for them to check and send."""
    import time

    from django.contrib.sessions.backends.db import SessionStore
    from selenium.webdriver.support.ui import Select

    from central.people.models import Device, Employee, Site

    settings.SECRET_KEY = console.env["SEED_CENTRAL_SECRET_KEY"]
    username, password = admin
    url = console.url
    gate = "gate-kept"  # a door of the site to tick
    Device.objects.get_or_create(device_id=gate, defaults={"site": Site.objects.get(code=SITE)})
    sign_in(browser, url, username, password)
    browser.get(f"{url}/employees/new/")
    for name, value in (("number", "B200"), ("name", "陈晓红"), ("card", "90817263"), ("pin", "1357")):
        by_css(browser, f"[name={name}]").send_keys(value)
    Select(by_css(browser, "[name=site]")).select_by_value(SITE)
    Select(by_css(browser, "[name=verify_mode]")).select_by_value("card+pin")
    door = by_css(browser, f"input[name=allowed_devices][value='{gate}']")
    assert not door.is_selected()
    door.click()  # only this door
    session = SessionStore(session_key=browser.get_cookie("sessionid")["value"])
    session["seed_seen"] = time.time() - 121 * 60
    session.save()

    by_css(browser, "form.form button[type=submit]").click()
    wait(browser, lambda d: "/login/" in d.current_url, what="the sign-in form")
    assert browser.current_url == f"{url}/login/?next=/employees/new/"
    assert [a.text for a in all_css(browser, ".alert-ok")] == [
        "您已 120 分钟未操作，为保护数据已自动退出，请重新登录。", "您填写的内容已保留：重新登录后会回到该页并填好，检查后再提交即可。"]
    assert not Employee.objects.filter(number="B200").exists()

    sign_in(browser, url, username, password)
    wait(browser, lambda d: d.current_url == f"{url}/employees/new/", what="the employee form again")
    assert "您上次提交时已超时退出，填写的内容已恢复：请检查后再提交。" in by_css(browser, ".messages").text
    values = {name: by_css(browser, f"[name={name}]").get_attribute("value") for name in ("number", "name", "card", "pin")}
    assert values == {"number": "B200", "name": "陈晓红", "card": "90817263", "pin": ""}
    assert Select(by_css(browser, "[name=verify_mode]")).first_selected_option.get_attribute("value") == "card+pin"
    assert by_css(browser, f"input[name=allowed_devices][value='{gate}']").is_selected()
    assert "kept-form" in by_css(browser, "form.form").get_attribute("class")
    by_css(browser, "[name=pin]").send_keys("1357")
    by_css(browser, "form.form button[type=submit]").click()
    wait(browser, lambda d: Employee.objects.filter(number="B200").exists(), what="the employee saved")
    saved = Employee.objects.get(number="B200")
    assert (saved.name, saved.card, saved.allowed_devices, saved.verify_mode) == ("陈晓红", "90817263", [gate],
                                                                                   "card+pin")
