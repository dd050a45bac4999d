"""The live dashboard in headless Chromium on ``seed-central serve``: the numbers on the page against the engine's
records and presence rules for a generated day, each role's scope, and a punch sent by a simulated terminal
through the real broker and receiver showing on the open page by itself within 5 s."""
from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sync"))

from browser_support import all_css, by_css, served_console, wait  # noqa: E402
from sync_support import SITE, wait_for  # noqa: E402
from test_browser import PBKDF2, admin, broker, pki_site, terminal  # noqa: E402, F401  (fixtures, shared)

from central.console.screenshots import ConsoleServer, chromium, sign_in  # noqa: E402

from .dashboard_day import build_day  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def value(driver: Any, css: str) -> int:
    return int(by_css(driver, css).get_attribute("data-value"))


def listed(driver: Any, section: str) -> list[str]:
    return [row.get_attribute("data-number") for row in all_css(driver, f"#{section} tbody tr")]


def user(name: str, role: str, password: str, **grants: Any) -> tuple[str, str]:
    from central.accounts.models import User

    made = User.objects.create_user(name, password=password, role=role, employee=grants.get("employee"),
                                    is_superuser=grants.get("superuser", False))
    made.sites.set(grants.get("sites", ()))
    made.departments.set(grants.get("departments", ()))
    return name, password


@pytest.fixture
def generated(transactional_db: None, settings: Any) -> dict[str, Any]:
    settings.PASSWORD_HASHERS = PBKDF2
    return build_day(timezone.now())


@pytest.fixture
def day_console(generated: dict[str, Any], central_db_target: str, tmp_path: Any) -> Iterator[ConsoleServer]:
    yield from served_console(central_db_target, tmp_path)


def test_the_page_shows_the_engines_numbers_and_each_role_only_its_scope(generated: dict[str, Any],
                                                                        day_console: ConsoleServer) -> None:
    from central.attendance.inputs import StaffRow
    from central.attendance.models import DailyRecord
    from central.attendance.presence import count
    from central.attendance.situations import situations
    from central.people.models import Employee

    url = day_console.url
    root = user("root", "hr_admin", "dash-root-2468", superuser=True)
    manager = user("mg", "manager", "dash-mg-2468", departments=[generated["assembly"]])
    hr = user("hr2", "hr_admin", "dash-hr-2468", sites=[generated["s2"]])
    me = user("a2", "employee", "dash-a2-2468", employee=generated["people"]["A2"])
    with chromium((1280, 900)) as driver:
        sign_in(driver, url, *root)
        driver.get(f"{url}/")
        wait(driver, lambda d: all_css(d, "#stat-on-site"), what="the dashboard")
        staff = [StaffRow(*row) for row in Employee.objects.filter(active=True).values_list(
            "id", "number", "site_id", "department_id", "active")]
        engine = count(situations(staff, timezone.now()).values())
        shown = (value(driver, "#stat-on-site .stat-value"), value(driver, "#stat-stale"),
                 value(driver, "#stat-expected .stat-expected"), value(driver, "#stat-expected .stat-arrived"),
                 value(driver, "#stat-waiting .stat-value"), value(driver, "#stat-leave .stat-value"))
        assert shown == (engine.on_site, engine.stale, engine.expected, engine.arrived, engine.waiting,
                         engine.on_leave) == (6, 1, 10, 6, 4, 1)
        late = DailyRecord.objects.filter(date=generated["today"], late=True)
        assert value(driver, "#stat-late .stat-value") == late.count() == 2
        assert listed(driver, "list-late") == ["A3", "A2"]  # most minutes first, in red
        assert all(cell.value_of_css_property("color") == "rgba(198, 40, 40, 1)"
                   for cell in all_css(driver, "#list-late .late-min"))
        assert [c.text for c in all_css(driver, "#list-late .late-min")] == [
            str(r.late_min) for r in late.order_by("-late_min")]
        missing = DailyRecord.objects.filter(date=generated["yesterday"], missing_out=True)
        assert value(driver, "#stat-missing-out .stat-value") == missing.count() == 2
        assert sorted(listed(driver, "list-waiting")) == ["A4", "Q3", "Q4", "W2"]
        assert listed(driver, "list-stale") == ["Q5"]
        assert (value(driver, "#stat-devices .stat-online"), value(driver, "#stat-devices .stat-offline")) == (1, 1)
        assert by_css(driver, "#provisional").is_displayed() and "东门" in by_css(driver, "#provisional").text
        assert "尾随 × 2" in by_css(driver, "#devices").text
        # the live part re-reads itself: the time it was updated moves on, the page stays
        driver.execute_script("window.__sameDocument = true")
        first = by_css(driver, ".updated-at").text
        wait(driver, lambda d: by_css(d, ".updated-at").text != first, timeout=6, what="an update of the live part")
        assert driver.execute_script("return window.__sameDocument === true")

        # the manager of 装配: its people only, and no way to 质检 by the address bar
        driver.delete_all_cookies()
        sign_in(driver, url, *manager)
        driver.get(f"{url}/")
        wait(driver, lambda d: all_css(d, "#list-waiting"), what="the manager's dashboard")
        assert listed(driver, "list-waiting") == ["A4"] and listed(driver, "list-stale") == []
        text = by_css(driver, "main").text
        assert "刘洋" in text and not any(name in text for name in ("赵军", "吴艳", "周杰", "孙明", "黄敏"))
        driver.get(f"{url}/?department={generated['quality'].pk}")
        assert not all_css(driver, "#dashboard-live")  # outside the scope: not found

        # the HR admin of 二厂: its one waiting person, no door of 一厂
        driver.delete_all_cookies()
        sign_in(driver, url, *hr)
        driver.get(f"{url}/")
        wait(driver, lambda d: all_css(d, "#list-waiting"), what="the HR admin's dashboard")
        assert listed(driver, "list-waiting") == ["W2"]
        assert "东门" not in by_css(driver, "main").text and "刘洋" not in by_css(driver, "main").text

        # an employee: their own day
        driver.delete_all_cookies()
        sign_in(driver, url, *me)
        driver.get(f"{url}/")
        mine = wait(driver, lambda d: all_css(d, "#my-day"), what="the employee's day")[0].text
        assert "迟到 12 分钟" in mine
        assert not all_css(driver, "#list-waiting") and not all_css(driver, "#devices")


# -- a punch through the real broker -----------------------------------------------------------------
@pytest.fixture
def world(transactional_db: None, settings: Any) -> dict[str, Any]:
    """The terminals' site with the simulated terminal's employees (E000…) on the central."""
    from central.people import roster
    from central.people.models import Department, Site

    settings.PASSWORD_HASHERS = PBKDF2
    site = Site.objects.create(code=SITE, name="总厂")
    Department.objects.create(site=site, name="生产部")
    roster.upsert_employees([{"number": f"E{i:03d}", "name": name, "site": SITE, "department": "生产部"}
                             for i, name in enumerate(("张伟", "王小红", "李娜"))])
    return {"site": site}


def test_a_punch_through_the_broker_shows_on_the_open_dashboard_within_5_s(
        world: dict[str, Any], console: ConsoleServer, admin: tuple[str, str], terminal: Any) -> None:  # noqa: F811
    from central.ingest.models import Punch
    from central.people.models import Device

    wait_for(lambda: Device.objects.filter(device_id="door-a").exists(), 20, what="the terminal's first status")
    with chromium((1280, 900)) as driver:
        sign_in(driver, console.url, *admin)
        driver.get(f"{console.url}/")
        wait(driver, lambda d: all_css(d, "#stat-on-site"), what="the dashboard")
        assert value(driver, "#stat-on-site .stat-value") == 0
        driver.execute_script("window.__sameDocument = true")
        terminal.clock.set_wall(timezone.now())
        punch_id = terminal.punch(1)[0]
        stored = wait_for(lambda: Punch.objects.filter(id=punch_id).exists() and time.monotonic(), 20, 0.01,
                          what="the punch stored by the receiver")

        def shown(d: Any) -> bool:
            return d.execute_script(
                "const v = document.querySelector('#stat-on-site .stat-value');"
                "return !!v && v.dataset.value === '1' && !!document.querySelector('#recent-punches tr[data-number=E000]');")

        wait(driver, shown, timeout=10, what="the punch on the page")
        latency = time.monotonic() - stored
        print(f"\npunch stored → visible on the dashboard: {latency:.2f} s")
        assert latency < 5.0
        assert "张伟" in by_css(driver, "#recent-punches").text
        assert driver.execute_script("return window.__sameDocument === true"), "the page was reloaded"
