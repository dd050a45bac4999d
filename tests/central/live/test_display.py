"""The wall display: a TV at a plant's gate shows one site's numbers by a token in its URL, without sign-in.

Each site here has one shift that began two hours ago (site time) and the test's own table of who punched
when; the numbers the display must show are counted from that table, not from the product's counting.
"""
from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from central.accounts.models import AuditEntry, Role, User
from central.attendance.models import AttendanceProfile, LeaveRecord, LeaveType, ShiftType, SiteCalendar
from central.ingest.models import Punch
from central.live import display_services
from central.live.models import DisplayToken
from central.people.models import Device, Employee, Site

SHANGHAI = ZoneInfo("Asia/Shanghai")
GRACE = 5
NUMBER = re.compile(r'id="n-([a-z_]+)">(\d+)<')


@dataclass
class Plant:
    site: Site
    begins: datetime  # the shift's start, site time
    punches: dict[str, list[datetime]] = field(default_factory=dict)  # active employees' punches (aware)
    leave: set[str] = field(default_factory=set)
    online: int = 0
    offline: int = 0
    others: list[datetime] = field(default_factory=list)  # punches at the site by no active employee of it

    def expected_numbers(self) -> dict[str, int]:
        """What the display must show, counted here: alternate in/out punches, late after the grace."""
        late_after = self.begins + timedelta(minutes=GRACE)
        working = {n: p for n, p in self.punches.items() if n not in self.leave}
        today = timezone.now().astimezone(SHANGHAI).date()
        return {
            "on_site": sum(len(p) % 2 for p in self.punches.values()),
            "expected": len(working),
            "arrived": sum(1 for p in working.values() if p),
            "waiting": sum(1 for p in working.values() if not p),
            "late": sum(1 for p in working.values() if p and min(p) > late_after),
            "on_leave": len(self.leave),
            "punches": sum(1 for p in [*self.punches.values(), self.others] for at in p
                           if at.astimezone(SHANGHAI).date() == today),
            "devices_online": self.online, "devices_offline": self.offline,
        }


def store_punch(site: Site, number: str, at: datetime, way: str = "in", device: str = "") -> None:
    Punch.objects.create(id=str(uuid.uuid4()), site=site.code, device_id=device or f"{site.code}-door-1",
                         employee_number=number, direction=way, method="card", punched_at=at, boot_id="b",
                         monotonic_ns=1, time_source="ntp", batch_id=str(uuid.uuid4()), received_at=at)


def make_plant(code: str, name: str, people: dict[str, list[int]], *, leave: tuple[str, ...] = (),
               devices: tuple[bool, ...] = (True,)) -> Plant:
    """``people``: employee number → minutes after the shift's start of each of their punches (in, out, in…)."""
    site = Site.objects.create(code=code, name=name, time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[])
    begins = timezone.now().astimezone(SHANGHAI).replace(second=0, microsecond=0) - timedelta(hours=2)
    shift = ShiftType.objects.create(name=f"{code}-班", start=begins.time(), end=(begins + timedelta(hours=8)).time(),
                                     checkin_before_min=60, checkout_after_min=120, late_grace_min=GRACE)
    plant = Plant(site, begins)
    for number, minutes in people.items():
        emp = Employee.objects.create(number=number, name=f"姓名{number}", site=site)
        AttendanceProfile.objects.create(employee=emp, default_shift=shift)
        plant.punches[number] = []
        for i, m in enumerate(minutes):
            at = begins + timedelta(minutes=m)
            store_punch(site, number, at, "in" if i % 2 == 0 else "out")
            plant.punches[number].append(at)
    if leave:
        kind, _ = LeaveType.objects.get_or_create(code="annual", defaults={"name": "年假"})
        for number in leave:
            LeaveRecord.objects.create(employee=Employee.objects.get(number=number), leave_type=kind,
                                       start=begins.date(), end=begins.date(), state="approved")
            plant.leave.add(number)
    for i, up in enumerate(devices):
        Device.objects.create(device_id=f"{code}-door-{i + 1}", site=site, online=up)
        plant.online += up
        plant.offline += not up
    return plant


GATE_PEOPLE = {
    "A01": [-10],  # on time, in
    "A02": [3],  # within the grace, in
    "A03": [20],  # late, in
    "A04": [30, 60],  # late, went out
    "A05": [-5, 90],  # on time, went out
    "A06": [],  # not arrived
    "A07": [],  # not arrived
    "A08": [],  # on leave
}


@pytest.fixture
def gate(db: Any) -> Plant:
    plant = make_plant("gate", "东门厂", GATE_PEOPLE, leave=("A08",), devices=(True, False, False))
    # a former employee's punch counts nowhere
    gone = Employee.objects.create(number="A99", name="离职者", site=plant.site, active=False)
    store_punch(plant.site, gone.number, plant.begins)
    plant.others.append(plant.begins)
    # another site's people punch in the same minutes: none of it is the gate's
    make_plant("north", "北厂", {"B01": [0], "B02": [1], "B03": [2, 40, 50], "B04": []}, devices=(True, True))
    return plant


def admin(name: str, role: str = Role.HR_ADMIN, *, sites: tuple[Site, ...] = (), superuser: bool = False) -> User:
    user = User.objects.create_user(name, password="x" * 12, role=role, is_superuser=superuser)
    user.sites.set(sites)
    return user


@pytest.fixture
def root(db: Any) -> User:
    return admin("root", superuser=True)


def numbers(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in NUMBER.findall(html)}


def display_url(clear: str, live: bool = False) -> str:
    return reverse("display:wall_live" if live else "display:wall", args=[clear])


# -- the numbers -------------------------------------------------------------------------------------
def test_the_display_shows_the_sites_numbers_as_counted_from_its_punches_leave_and_doors(gate: Plant, root: User) -> None:
    _, clear = display_services.create_display(root, gate.site, "东门电视")
    want = gate.expected_numbers()
    assert want == {"on_site": 3, "expected": 7, "arrived": 5, "waiting": 2, "late": 2, "on_leave": 1,
                    "punches": want["punches"], "devices_online": 1, "devices_offline": 2}
    page = Client().get(display_url(clear))
    assert page.status_code == 200
    html = page.content.decode()
    assert numbers(html) == want
    assert "东门厂" in html and "北厂" not in html
    assert not any(f"姓名{n}" in html or n in html for n in GATE_PEOPLE)  # numbers only, no one's name or number
    for words in ("在岗", "On site", "应到", "Expected now", "已到", "Arrived", "未到", "Not arrived", "迟到", "Late",
                  "请假", "On leave", "连接中断", "Connection lost"):
        assert words in html
    assert 'hx-trigger="every 5s"' in html and display_url(clear, live=True) in html
    live = Client().get(display_url(clear, live=True))
    assert live.status_code == 200 and numbers(live.content.decode()) == want and "<html" not in live.content.decode()


def test_a_token_sees_its_own_site_only(gate: Plant, root: User) -> None:
    _, clear = display_services.create_display(root, gate.site, "东门电视")
    north = Site.objects.get(code="north")
    _, north_clear = display_services.create_display(root, north, "北门电视")
    before = numbers(Client().get(display_url(clear)).content.decode())
    # a north employee arrives: the north display counts one more on site, the gate display nothing
    store_punch(north, "B04", timezone.now() - timedelta(minutes=1))
    Device.objects.filter(site=north).update(online=False)
    assert numbers(Client().get(display_url(clear)).content.decode()) == before
    north_numbers = numbers(Client().get(display_url(north_clear)).content.decode())
    assert north_numbers["on_site"] == 4 and north_numbers["devices_offline"] == 2 and north_numbers["late"] == 1
    # and a gate employee's punch does move the gate's number
    store_punch(gate.site, "A06", timezone.now() - timedelta(minutes=1))
    after = numbers(Client().get(display_url(clear, live=True)).content.decode())
    assert after["on_site"] == before["on_site"] + 1 and after["waiting"] == before["waiting"] - 1
    assert after["late"] == before["late"] + 1


def test_a_wrong_revoked_or_malformed_token_gets_the_same_404_and_is_not_logged(
        gate: Plant, root: User, caplog: pytest.LogCaptureFixture) -> None:
    token, clear = display_services.create_display(root, gate.site, "东门电视")
    revoked, revoked_clear = display_services.create_display(root, gate.site, "旧电视")
    display_services.revoke_display(root, revoked)
    wrong = ("x" if clear[0] != "x" else "y") + clear[1:]
    client = Client()
    caplog.set_level(logging.DEBUG)
    answers = []
    for bad in (wrong, revoked_clear, clear[:-1], clear + "A", "a" * 300, "not a token", clear[:-1] + "."):
        for live in (False, True):
            answer = client.get(f"/display/{bad}/live/" if live else f"/display/{bad}/")
            assert answer.status_code == 404, (bad, live)
            answers.append(answer.content)
            assert answer["Cache-Control"] == "no-store"
    assert len(set(answers)) == 1 and b"gate" not in answers[0]
    ok = client.get(display_url(clear))
    assert ok.status_code == 200
    assert ok["Cache-Control"] == "no-store" and ok["X-Robots-Tag"].startswith("noindex")
    assert ok["Referrer-Policy"] == "no-referrer"
    for secret in (clear, wrong, revoked_clear):
        assert secret not in caplog.text
    # the token is kept only as a hash
    assert not DisplayToken.objects.filter(digest=clear).exists()
    assert DisplayToken.objects.get(pk=token.pk).digest == display_services.digest(clear)
    # a display shows nothing else: not the console, not another site
    assert client.get("/").status_code == 302 and client.get("/display/").status_code == 404


def test_last_used_is_written_at_most_once_a_minute(gate: Plant, root: User) -> None:
    token, clear = display_services.create_display(root, gate.site, "东门电视")
    assert token.last_used_at is None
    client = Client()
    client.get(display_url(clear))
    first = DisplayToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert client.get(display_url(clear, live=True)).status_code == 200
    assert not [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))]
    assert DisplayToken.objects.get(pk=token.pk).last_used_at == first
    DisplayToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(seconds=61))
    client.get(display_url(clear, live=True))
    assert DisplayToken.objects.get(pk=token.pk).last_used_at > first - timedelta(seconds=1)


# -- the console page ------------------------------------------------------------------------------------
def test_hr_admins_make_and_revoke_displays_of_their_own_sites_only_and_each_is_audited(gate: Plant, root: User) -> None:
    north = Site.objects.get(code="north")
    hr = admin("hr-gate", sites=(gate.site,))
    client = Client()
    client.force_login(hr)
    page = client.get(reverse("console:displays"))
    assert page.status_code == 200 and 'value="north"' not in page.content.decode()
    # a site outside the HR admin's scope is refused on the site field, and nothing is made
    refused = client.post(reverse("console:displays"), {"name": "北门电视", "site": "north"})
    assert refused.status_code == 200
    assert "您不能为这个站点创建显示屏" in refused.content.decode()
    assert refused.context["form"].errors["site"]
    assert not DisplayToken.objects.exists()
    with pytest.raises(display_services.DisplayError):
        display_services.create_display(hr, north, "北门电视")
    # one of their own: the URL is shown once, and it opens the display
    made = client.post(reverse("console:displays"), {"name": "东门电视", "site": "gate"})
    html = made.content.decode()
    url = re.search(r'id="display-url"[^>]*value="([^"]+)"', html)
    assert url, html
    path = url.group(1).split("testserver", 1)[1]
    clear = path.strip("/").split("/")[1]
    assert Client().get(path).status_code == 200
    assert made["Cache-Control"] == "no-store"
    token = DisplayToken.objects.get()
    assert (token.site, token.name, token.created_by) == (gate.site, "东门电视", "hr-gate")
    listing = client.get(reverse("console:displays")).content.decode()
    assert "东门电视" in listing and clear not in listing
    entry = AuditEntry.objects.filter(action="display.create").get()
    assert entry.actor == "hr-gate" and entry.detail["display"] == token.pk and clear not in str(entry.detail)
    # north's display: not listed for the gate's HR admin, and revoking it is a 404
    north_token, _ = display_services.create_display(root, north, "北门电视")
    assert "北门电视" not in client.get(reverse("console:displays")).content.decode()
    assert client.post(reverse("console:display_revoke", args=[north_token.pk])).status_code == 404
    assert DisplayToken.objects.get(pk=north_token.pk).revoked_at is None
    # revoking their own: audited, and the display answers 404 from then on
    assert client.post(reverse("console:display_revoke", args=[token.pk])).status_code == 302
    assert DisplayToken.objects.get(pk=token.pk).revoked_at is not None
    assert Client().get(path).status_code == 404
    revoked = AuditEntry.objects.filter(action="display.revoke").get()
    assert revoked.actor == "hr-gate" and revoked.detail["display"] == token.pk
    assert client.post(reverse("console:display_revoke", args=[token.pk])).status_code == 302
    assert AuditEntry.objects.filter(action="display.revoke").count() == 1  # revoking twice records once


@pytest.mark.parametrize("role", [Role.MANAGER, Role.AUDITOR, Role.EMPLOYEE])
def test_other_roles_may_not_use_the_displays_page(gate: Plant, root: User, role: str) -> None:
    token, _ = display_services.create_display(root, gate.site, "东门电视")
    client = Client()
    client.force_login(admin(f"u-{role}", role, sites=(gate.site,)))
    assert client.get(reverse("console:displays")).status_code == 403
    assert client.post(reverse("console:displays"), {"name": "x", "site": "gate"}).status_code == 403
    assert client.post(reverse("console:display_revoke", args=[token.pk])).status_code == 403
    assert DisplayToken.objects.count() == 1 and DisplayToken.objects.get().revoked_at is None
    with pytest.raises(PermissionError):
        display_services.create_display(User.objects.get(username=f"u-{role}"), gate.site, "x")


# -- in a real browser ---------------------------------------------------------------------------------
@pytest.fixture
def served_gate(transactional_db: Any, central_db_target: str, tmp_path: Any) -> Iterator[tuple[Plant, str, Any]]:
    from browser_support import served_console

    plant = make_plant("gate", "东门厂", GATE_PEOPLE, leave=("A08",), devices=(True, False, False))
    root = admin("root", superuser=True)
    _, clear = display_services.create_display(root, plant.site, "东门电视")
    for server in served_console(central_db_target, tmp_path):
        yield plant, clear, server


@pytest.mark.browser
@pytest.mark.slow
def test_the_display_fills_a_tv_and_follows_a_new_punch_then_says_when_the_server_is_gone(
        served_gate: tuple[Plant, str, Any]) -> None:
    from browser_support import by_css, wait

    from central.console.screenshots import chromium

    plant, clear, server = served_gate
    want = plant.expected_numbers()
    with chromium((1920, 1080)) as driver:
        driver.get(f"{server.url}/display/{clear}/")
        assert by_css(driver, "#n-on_site").text == str(want["on_site"])
        assert {k: by_css(driver, f"#n-{k}").text for k in want} == {k: str(v) for k, v in want.items()}
        size = driver.execute_script(
            "const r = document.querySelector('.wall').getBoundingClientRect();"
            "return [r.width, r.height, document.documentElement.scrollWidth, document.documentElement.scrollHeight];")
        assert size == [1920, 1080, 1920, 1080]
        hero = driver.execute_script("return parseFloat(getComputedStyle(document.querySelector('#n-on_site')).fontSize)")
        assert hero > 200  # readable across the gate
        store_punch(plant.site, "A06", timezone.now())
        wait(driver, lambda d: by_css(d, "#n-on_site").text == str(want["on_site"] + 1), 15, "the new punch on the display")
        assert by_css(driver, "#n-waiting").text == str(want["waiting"] - 1)
        access_log = server.log_file.read_text(encoding="utf-8", errors="replace")
        assert "/display/***/live/" in access_log and clear not in access_log  # the token is the display's key
        assert not by_css(driver, "#lost").is_displayed()
        server.stop()  # the server goes away: the last numbers stay, and the display says the connection is lost
        wait(driver, lambda d: by_css(d, "#lost").is_displayed(), 15, "the connection-lost indicator")
        assert by_css(driver, "#n-on_site").text == str(want["on_site"] + 1)
