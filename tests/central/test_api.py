"""The REST API /api/v1: token and session auth, employee writes reaching the roster, cursor pages,
scope on every endpoint, hostile input, the OpenAPI document and the offline docs page.

Runs on SQLite and, with ``--central-db=postgresql``, on PostgreSQL.
"""
from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone as dj_timezone

from central.accounts.models import ApiToken, AuditEntry, Role, User
from central.accounts.services import create_token, revoke_token
from central.api.api import ENDPOINTS
from central.attendance.models import (
    DailyRecord,
    LeaveRecord,
    LeaveType,
    MakeupPunch,
    OvertimeRequest,
    ShiftChange,
    ShiftType,
)
from central.ingest.models import Command, Event, Punch
from central.people import roster
from central.people.models import Department, Device, Employee, Site
from contract import protocol as p

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)
STAMP = re.compile(p.STAMP_RE)


# ---------------------------------------------------------------- fixtures and helpers

class World:
    """Two sites, A and B, each with a department, a door, employees, punches and an event; a user of every role."""

    def __init__(self) -> None:
        self.site_a = Site.objects.create(code="site-a", name="工厂 A")
        self.site_b = Site.objects.create(code="site-b", name="工厂 B")
        self.dept_a = Department.objects.create(site=self.site_a, name="装配 Assembly")
        self.dept_b = Department.objects.create(site=self.site_b, name="仓库 Store")
        self.door_a = Device.objects.create(device_id="door-a", site=self.site_a, name="A 正门")
        self.door_b = Device.objects.create(device_id="door-b", site=self.site_b, name="B 正门")
        roster.upsert_employees([
            {"number": "A001", "name": "张三", "site": "site-a", "department": self.dept_a.name},
            {"number": "A002", "name": "李四", "site": "site-a", "department": self.dept_a.name},
            {"number": "B001", "name": "王五", "site": "site-b", "department": self.dept_b.name},
        ])
        for i, (number, door, site) in enumerate([("A001", "door-a", "site-a"), ("A002", "door-a", "site-a"),
                                                  ("B001", "door-b", "site-b"), ("A001", "door-a", "site-a")]):
            make_punches(1, number=number, device=door, site=site, start=BASE + timedelta(hours=i))
        for door, site in (("door-a", "site-a"), ("door-b", "site-b")):
            Event.objects.create(id=str(uuid.uuid4()), site=site, device_id=door, kind="tailgating", severity="warning",
                                 at=BASE, payload={"faces": 2}, received_at=BASE)
        a001 = Employee.objects.get(number="A001")  # a pending leave and make-up punch to decide
        self.leave = LeaveRecord.objects.create(employee=a001, leave_type=LeaveType.objects.create(code="AL", name="年假"),
                                                start=date(2026, 3, 9), end=date(2026, 3, 9), reason="探亲")
        self.makeup = MakeupPunch.objects.create(employee=a001, at=BASE, direction="in", reason="忘记打卡")
        self.overtime = DailyRecord.objects.create(employee=a001, date=date(2026, 3, 2), shift_name="day",
                                                   status="present", source="punches", overtime_min=90,
                                                   overtime_state="pending")
        ShiftType.objects.create(name="白班 Day", start=datetime(2026, 1, 1, 9).time(),
                                 end=datetime(2026, 1, 1, 18).time())  # the example change of ENDPOINTS asks for it
        self.change = ShiftChange.objects.create(employee=a001, start=date(2026, 3, 10), end=date(2026, 3, 10),
                                                 shift=None, was="day", reason="换休")  # a pending change to rest
        self.asked = OvertimeRequest.objects.create(employee=a001, date=date(2026, 3, 12), minutes=120,
                                                    reason="赶货")  # pending overtime asked for
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}
        self.add_user("superuser", is_superuser=True, role=Role.HR_ADMIN)
        self.add_user("hr_admin", role=Role.HR_ADMIN, sites=[self.site_a])
        self.add_user("hr_admin_b", role=Role.HR_ADMIN, sites=[self.site_b])
        self.add_user("manager", role=Role.MANAGER, departments=[self.dept_a])
        self.add_user("auditor", role=Role.AUDITOR, sites=[self.site_a])
        self.add_user("employee", role=Role.EMPLOYEE, employee=Employee.objects.get(number="A002"))

    def add_user(self, name: str, *, role: str, is_superuser: bool = False, sites=(), departments=(),
                 employee: Employee | None = None) -> User:
        user = User.objects.create(username=name, role=role, is_superuser=is_superuser, is_staff=is_superuser,
                                   employee=employee)
        user.sites.set(sites)
        user.departments.set(departments)
        self.users[name] = user
        self.tokens[name] = create_token(user, f"{name} token", actor="test")[1]
        return user

    def client(self, who: str) -> Api:
        return Api(self.tokens[who])


class Api:
    """A test client that sends one bearer token with every request and decodes JSON answers."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}

    def call(self, method: str, path: str, body: Any = None, **params: Any):
        url = path if path.startswith("/") else f"/api/v1/{path}"
        kwargs: dict[str, Any] = dict(self.headers)
        if method in ("GET", "DELETE") and params:
            from urllib.parse import urlencode

            url += "?" + urlencode(params)
        if body is not None:
            kwargs.update(data=body if isinstance(body, (str, bytes)) else json.dumps(body),
                          content_type="application/json")
        response = getattr(self.client, method.lower())(url, **kwargs)
        return response

    def get(self, path: str, **params: Any):
        return self.call("GET", path, **params)

    def json(self, method: str, path: str, body: Any = None, expect: int = 200, **params: Any) -> Any:
        response = self.call(method, path, body, **params)
        assert response.status_code == expect, (response.status_code, response.content.decode()[:500])
        assert response["Content-Type"].startswith("application/json")
        return json.loads(response.content)


def make_punches(n: int, *, number: str = "A001", device: str = "door-a", site: str = "site-a",
                 start: datetime = BASE, step: timedelta = timedelta(seconds=1), same_time_every: int = 1) -> list[Punch]:
    """``n`` punches stored straight into the table; ``same_time_every`` punches share each time."""
    rows = [Punch(id=str(uuid.uuid4()), site=site, device_id=device, employee_number=number, direction="in",
                  method="face", score=0.3, punched_at=start + step * (i // same_time_every), boot_id="boot",
                  monotonic_ns=i, time_source="ntp", batch_id=str(uuid.uuid4()), received_at=start)
            for i in range(n)]
    Punch.objects.bulk_create(rows)
    return rows


def all_pages(api: Api, path: str, limit: int, **params: Any) -> tuple[list[dict], int]:
    items: list[dict] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        page = api.json("GET", path, **query)
        pages += 1
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 100


@pytest.fixture
def world() -> World:
    return World()


# ---------------------------------------------------------------- auth

def test_a_good_token_answers_and_a_revoked_unknown_or_garbage_one_is_401(world):
    good = world.client("hr_admin")
    assert [s["code"] for s in good.json("GET", "sites")] == ["site-a"]
    assert ApiToken.objects.get(user=world.users["hr_admin"]).last_used_at is not None

    token = ApiToken.objects.get(user=world.users["hr_admin"])
    revoke_token(token, actor="test")
    for header in (f"Bearer {world.tokens['hr_admin']}",  # revoked
                   "Bearer seed_" + "x" * 43,  # well-formed, unknown
                   "Bearer garbage", "Bearer ", "Basic dXNlcjpwYXNz", "seed_abc", "Bearer " + "A" * 5000):
        response = Client().get("/api/v1/sites", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert response["Content-Type"].startswith("application/json")
        assert "detail" in json.loads(response.content)
    # no credentials at all: 401 too, and a write with a revoked token is 401, not a CSRF 403
    assert Client().get("/api/v1/employees").status_code == 401
    response = Api(world.tokens["hr_admin"]).call("POST", "employees", {"number": "X1", "name": "x", "site": "site-a"})
    assert response.status_code == 401 and not Employee.objects.filter(number="X1").exists()
    assert "Bearer" in response["WWW-Authenticate"]


def test_a_deactivated_users_token_stops_working(world):
    api = world.client("hr_admin")
    assert api.get("sites").status_code == 200
    User.objects.filter(username="hr_admin").update(is_active=False)
    assert api.get("sites").status_code == 401


def test_the_console_session_works_and_its_writes_need_the_csrf_token(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["hr_admin"])
    listed = json.loads(browser.get("/api/v1/employees").content)
    assert [e["number"] for e in listed["items"]] == ["A001", "A002"]
    body = json.dumps({"number": "A100", "name": "新人", "site": "site-a"})
    refused = browser.post("/api/v1/employees", body, content_type="application/json")
    assert refused.status_code == 403 and not Employee.objects.filter(number="A100").exists()
    browser.get("/api/v1/docs")  # sets the CSRF cookie, as the docs page does for "try it out"
    accepted = browser.post("/api/v1/employees", body, content_type="application/json",
                            HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert accepted.status_code == 201, accepted.content
    # a bad bearer token is never rescued by the session that comes along
    assert browser.get("/api/v1/sites", HTTP_AUTHORIZATION="Bearer seed_nope").status_code == 401


def test_every_call_of_an_auditor_is_in_the_audit_log(world):
    before = AuditEntry.objects.filter(actor="auditor", action="view").count()
    world.client("auditor").json("GET", "punches", limit=5)
    world.client("auditor").json("GET", "employees/A001")
    targets = list(AuditEntry.objects.filter(actor="auditor", action="view").order_by("seq")
                   .values_list("target", flat=True))
    assert len(targets) == before + 2
    assert targets[-2] == "/api/v1/punches?limit=5" and targets[-1] == "/api/v1/employees/A001"
    world.client("hr_admin").json("GET", "punches")
    assert not AuditEntry.objects.filter(actor="hr_admin", action="view").exists()


# ---------------------------------------------------------------- employees

def test_employee_round_trip_reaches_the_roster(world):
    api = world.client("hr_admin")
    start = roster.current_version()
    created = api.json("POST", "employees", {"number": "A010", "name": "赵六", "site": "site-a",
                                             "department": world.dept_a.name, "card": "0041E34E", "pin": "1234",
                                             "verify_mode": "card+pin", "allowed_devices": ["door-a"]}, expect=201)
    assert created["card"] == "4318030" and created["has_pin"] is True
    assert created["faces"] == 0 and created["fingers"] == 0
    assert not {"pin", "pin_hash"} & set(created) and "1234" not in json.dumps(created)
    assert STAMP.match(created["created_at"])
    v1 = roster.current_version()
    assert v1 == start + 1 and created["version"] == v1
    delta = roster.delta(start)
    assert [u["number"] for u in delta["upserts"]] == ["A010"]
    assert delta["upserts"][0]["card"] == "4318030" and delta["upserts"][0]["pin_hash"].startswith("scrypt$")
    assert AuditEntry.objects.filter(actor="hr_admin", action="employee.create", target="A010").exists()

    assert api.json("GET", "employees/A010") == created
    changed = api.json("PUT", "employees/A010", {"name": "赵六六", "card": None})
    assert changed["name"] == "赵六六" and changed["card"] is None
    assert changed["has_pin"] is True and changed["verify_mode"] == "card+pin"  # left out: kept
    assert changed["department"] == world.dept_a.name and changed["allowed_devices"] == ["door-a"]
    v2 = roster.current_version()
    assert v2 == v1 + 1
    upsert = roster.delta(v1)["upserts"][0]
    assert upsert["name"] == "赵六六" and upsert["card"] is None

    gone = api.json("DELETE", "employees/A010")
    assert gone == {"number": "A010", "action": "deactivated", "roster_version": v2 + 1}
    assert roster.delta(v2)["upserts"][0]["active"] is False
    assert api.json("GET", "employees/A010")["active"] is False
    assert [e["number"] for e in api.json("GET", "employees", active="false")["items"]] == ["A010"]

    purged = api.json("DELETE", "employees/A010", purge="true")
    assert purged == {"number": "A010", "action": "deleted", "roster_version": v2 + 2}
    assert roster.delta(v2 + 1)["deletes"] == ["A010"]
    assert api.call("GET", "employees/A010").status_code == 404
    assert not Employee.objects.filter(number="A010").exists()


@pytest.mark.parametrize("body, field", [
    ({"card": "not-a-card!"}, "card"),
    ({"verify_mode": "retina"}, "verify_mode"),
    ({"verify_mode": "face+face+face+face+face"}, "verify_mode"),
    ({"pin": "12"}, "pin"),
    ({"allowed_devices": ["door-nowhere"]}, "allowed_devices"),
    ({"role": "god"}, "role"),
    ({"active": "perhaps"}, "active"),
    ({"name": ""}, "name"),
    ({"favourite_colour": "blue"}, "favourite_colour"),
    ({"number": "../etc"}, "number"),
    ({"number": "A001"}, "number"),  # taken
    ({"site": "site-nowhere"}, "site"),
])
def test_a_bad_employee_is_refused_with_the_field_named(world, body, field):
    api = world.client("hr_admin")
    start = roster.current_version()
    payload = {"number": "A020", "name": "测试", "site": "site-a", **body}
    answer = api.json("POST", "employees", payload, expect=422)
    assert answer["field"] == field, answer
    assert answer["detail"]
    assert roster.current_version() == start
    assert not Employee.objects.filter(number="A020").exists()


def test_a_bad_change_is_refused_and_leaves_the_employee_as_it_was(world):
    api = world.client("hr_admin")
    before = api.json("GET", "employees/A001")
    for body, field in (({"card": "zz"}, "card"), ({"verify_mode": "palm"}, "verify_mode"),
                        ({"nickname": "x"}, "nickname"), ({"name": None}, "name")):
        assert api.json("PUT", "employees/A001", body, expect=422)["field"] == field
    assert api.json("GET", "employees/A001") == before


def test_an_employee_can_not_take_a_card_someone_holds(world):
    api = world.client("hr_admin")
    api.json("PUT", "employees/A001", {"card": "12345678"})
    answer = api.json("POST", "employees", {"number": "A030", "name": "x", "site": "site-a", "card": "12345678"},
                      expect=422)
    assert answer["field"] == "card"


def test_hostile_bodies_are_400_or_422_never_500(world):
    api = world.client("hr_admin")
    for raw in ("{not json", "[]", "null", "\"text\"", json.dumps({"number": 5, "name": ["x"], "site": {}}),
                json.dumps({"number": "A040", "name": "x" * 10_000, "site": "site-a"})):
        response = api.call("POST", "employees", raw)
        assert response.status_code in (400, 422), (raw[:40], response.status_code)
        assert "detail" in json.loads(response.content)
    assert not Employee.objects.filter(number="A040").exists()


def test_nul_characters_anywhere_are_refused_not_a_database_error(world):
    """PostgreSQL refuses NUL in text; every way in is checked before a query (run with --central-db=postgresql)."""
    api = world.client("superuser")
    for path in ("employees/A%00", "devices/door%00a"):
        for method in ("GET", "PUT", "DELETE"):
            if method != "GET" and path.startswith("devices"):
                continue
            response = api.call(method, path, {"name": "x"} if method == "PUT" else None)
            assert response.status_code == 404, (method, path, response.status_code)
    assert api.call("POST", "devices/door%00a/commands", {"cmd": "resync"}).status_code == 404
    for field, value in (("name", "a\x00b"), ("department", "d\x00"), ("site", "site-a\x00"), ("card", "12\x00"),
                         ("pin", "12\x0034"), ("verify_mode", "any\x00"), ("allowed_devices", ["door-a\x00"])):
        answer = api.json("POST", "employees", {"number": "N001", "name": "x", "site": "site-a", field: value},
                          expect=422)
        assert answer["field"].split(".")[0] == field, answer
    for path, params in (("employees", {"department": "x\x00"}), ("events", {"kind": "k\x00"}),
                         ("departments", {"site": "s\x00"}), ("punches", {"cursor": _b64(["2026-03-02T00:00:00.000000Z", "a\x00"])}),
                         ("employees", {"cursor": _b64(["A\x00"])})):
        assert api.call("GET", path, **params).status_code in (400, 422), (path, params)
    assert not Employee.objects.filter(number="N001").exists()


# ---------------------------------------------------------------- pagination

def test_250_punches_come_once_each_in_order_across_pages(world):
    Punch.objects.all().delete()
    rows = make_punches(250, start=BASE, same_time_every=3)  # ties on punched_at are broken by id
    expected = [r.id for r in sorted(rows, key=lambda r: (r.punched_at, r.id))]
    items, pages = all_pages(world.client("superuser"), "punches", 100)
    assert pages == 3
    assert [i["id"] for i in items] == expected
    assert all(STAMP.match(i["punched_at"]) and STAMP.match(i["received_at"]) for i in items)
    assert items[0]["punched_at"] == "2026-03-02T00:00:00.000000Z" and {i["time_flag"] for i in items} == {""}
    # the default page is 100, the filters narrow it
    assert len(world.client("superuser").json("GET", "punches")["items"]) == 100
    window = world.client("superuser").json("GET", "punches", since="2026-03-02T00:00:10Z", until="2026-03-02T00:00:20Z",
                                            limit=1000)["items"]
    assert len(window) == 30 and {i["punched_at"][:19] for i in window} == {
        f"2026-03-02T00:00:{s}" for s in range(10, 20)}


def test_pages_stay_stable_while_punches_arrive(world):
    Punch.objects.all().delete()
    rows = make_punches(60, start=BASE + timedelta(hours=1), same_time_every=2)
    api = world.client("superuser")
    first = api.json("GET", "punches", limit=25)
    make_punches(10, start=BASE, number="A002")  # older than everything seen: not sent again later
    late = make_punches(10, start=BASE + timedelta(days=1), number="A002")  # newer: on a later page
    rest, _ = all_pages(api, "punches", 25, cursor=first["next_cursor"])
    seen = [i["id"] for i in first["items"] + rest]
    assert len(seen) == len(set(seen)) == 70
    assert seen == [r.id for r in sorted(rows, key=lambda r: (r.punched_at, r.id))] + [
        r.id for r in sorted(late, key=lambda r: (r.punched_at, r.id))]


def test_events_page_the_same_way_and_filter_by_kind(world):
    for i in range(30):
        Event.objects.create(id=f"ev-{i:03d}", site="site-a", device_id="door-a", kind="spoof" if i % 2 else "sensor_lost",
                             severity="warning", at=BASE + timedelta(minutes=i // 3), payload={"i": i}, received_at=BASE)
    items, pages = all_pages(world.client("hr_admin"), "events", 7, kind="spoof")
    assert [i["id"] for i in items] == [f"ev-{i:03d}" for i in range(30) if i % 2] and pages == 3
    assert all(STAMP.match(i["at"]) for i in items)
    everything, _ = all_pages(world.client("superuser"), "events", 1000, device="door-a")
    assert len(everything) == 31


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize("path", ["punches", "events", "employees"])
@pytest.mark.parametrize("cursor", [
    "!!!", "abc", _b64([1, 2]), _b64(["2026-03-02T00:00:00.000000Z"]), _b64({"a": 1}), _b64("x"),
    _b64(["not a stamp", "id"]), _b64(["2026-02-30T00:00:00.000000Z", "id"]), "A" * 399,
    base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
])
def test_a_bad_cursor_is_400(world, path, cursor):
    response = world.client("superuser").call("GET", path, cursor=cursor)
    if path == "employees" and cursor == _b64(["2026-03-02T00:00:00.000000Z"]):
        assert response.status_code == 200  # one text key is an employee cursor (numbers after it: all of them)
        assert len(json.loads(response.content)["items"]) == 3
        return
    assert response.status_code == 400, response.content
    body = json.loads(response.content)
    assert body["field"] == "cursor" and "cursor" in body["detail"]


@pytest.mark.parametrize("params, status, field", [
    ({"limit": 5000}, 422, "limit"),
    ({"limit": 0}, 422, "limit"),
    ({"limit": "ten"}, 422, "limit"),
    ({"limit": "9" * 40}, 422, "limit"),
    ({"since": "yesterday"}, 400, "since"),
    ({"since": "2026-13-45T99:00:00"}, 400, "since"),
    ({"until": "2026-03-02T00:00:00+99:00"}, 400, "until"),
    ({"since": "2026-03-03", "until": "2026-03-02"}, 400, "until"),
    ({"since": "999999999999d"}, 400, "since"),
    ({"since": "9999-12-31T23:59:59-05:00"}, 400, "since"),
    ({"since": "2026-03-02\x00"}, 400, "since"),
    ({"cursor": "x" * 5000}, 422, "cursor"),
    ({"employee": "A\x00"}, 422, "employee"),
    ({"device": "door\x00"}, 422, "device"),
    ({"site": "../site"}, 422, "site"),
])
def test_bad_query_parameters_are_refused_with_the_parameter_named(world, params, status, field):
    response = world.client("superuser").call("GET", "punches", **params)
    assert response.status_code == status, response.content
    assert json.loads(response.content)["field"] == field


def test_employees_page_by_number(world):
    api = world.client("superuser")
    for i in range(12):
        api.json("POST", "employees", {"number": f"C{i:03d}", "name": f"n{i}", "site": "site-b"}, expect=201)
    items, pages = all_pages(api, "employees", 5)
    assert [e["number"] for e in items] == sorted(Employee.objects.values_list("number", flat=True)) and pages == 3


# ---------------------------------------------------------------- scope

def test_an_hr_admin_of_site_a_never_sees_site_b(world):
    api = world.client("hr_admin")
    assert [e["number"] for e in all_pages(api, "employees", 1)[0]] == ["A001", "A002"]
    assert [s["code"] for s in api.json("GET", "sites")] == ["site-a"]
    assert [d["name"] for d in api.json("GET", "departments")] == [world.dept_a.name]
    assert api.json("GET", "departments", site="site-b") == []
    assert [d["device_id"] for d in api.json("GET", "devices")] == ["door-a"]
    punches = api.json("GET", "punches", limit=1000)["items"]
    assert len(punches) == 3 and {p_["site"] for p_ in punches} == {"site-a"}
    for params in ({"employee": "B001"}, {"device": "door-b"}, {"site": "site-b"}):
        assert api.json("GET", "punches", **params)["items"] == []
    assert [e["site"] for e in api.json("GET", "events")["items"]] == ["site-a"]
    assert api.json("GET", "events", device="door-b")["items"] == []
    # a row of site B answers exactly like a row that does not exist
    for method, path, body in (("GET", "employees/B001", None), ("PUT", "employees/B001", {"name": "x"}),
                               ("DELETE", "employees/B001", None), ("GET", "devices/door-b", None),
                               ("POST", "devices/door-b/commands", {"cmd": "open_door"})):
        hidden = api.call(method, path, body)
        missing = api.call(method, path.replace("B001", "Z999").replace("door-b", "door-z"), body)
        assert hidden.status_code == missing.status_code == 404, (method, path)
        assert json.loads(hidden.content)["detail"] == json.loads(missing.content)["detail"].replace(
            "Z999", "B001").replace("door-z", "door-b")
    # nor can it place anyone at site B, or move someone there
    assert api.json("POST", "employees", {"number": "B050", "name": "x", "site": "site-b"}, expect=422)["field"] == "site"
    assert api.json("PUT", "employees/A001", {"site": "site-b"}, expect=422)["field"] == "site"
    assert Employee.objects.get(number="B001").name == "王五" and not Employee.objects.filter(number="B050").exists()
    assert Employee.objects.get(number="A001").site == world.site_a
    assert not Command.objects.exists()


def test_an_employee_sees_only_their_own_punches_and_record(world):
    api = world.client("employee")  # linked to A002
    punches = api.json("GET", "punches", limit=1000)["items"]
    assert len(punches) == 1 and punches[0]["employee_number"] == "A002"
    assert api.json("GET", "punches", employee="A001")["items"] == []
    assert [e["number"] for e in api.json("GET", "employees")["items"]] == ["A002"]
    assert api.call("GET", "employees/A001").status_code == 404
    assert api.json("GET", "devices") == [] and api.json("GET", "events")["items"] == []
    assert api.json("PUT", "employees/A002", {"name": "我自己"}, expect=403)["detail"]
    assert api.json("POST", "employees", {"number": "E1", "name": "x", "site": "site-a"}, expect=403)
    assert Employee.objects.get(number="A002").name == "李四"


def test_a_manager_reads_their_department_but_may_not_write(world):
    api = world.client("manager")
    assert [e["number"] for e in api.json("GET", "employees")["items"]] == ["A001", "A002"]
    assert api.call("GET", "employees/B001").status_code == 404
    start = roster.current_version()
    answer = api.json("POST", "employees", {"number": "A060", "name": "x", "site": "site-a"}, expect=403)
    assert "role" in answer["detail"]
    api.json("PUT", "employees/A001", {"name": "改名"}, expect=403)
    api.json("DELETE", "employees/A001", expect=403)
    api.json("POST", "devices/door-a/commands", {"cmd": "open_door"}, expect=403)
    assert roster.current_version() == start and Employee.objects.get(number="A001").active
    assert not Employee.objects.filter(number="A060").exists() and not Command.objects.exists()


# ---------------------------------------------------------------- devices and commands

def test_commands_are_queued_for_the_receiver_and_audited(world):
    api = world.client("hr_admin")
    device = api.json("GET", "devices/door-a")
    assert device["site"] == "site-a" and device["online"] is False and device["last_seen_at"] is None
    sent = api.json("POST", "devices/door-a/commands", {"cmd": "open_door", "seconds": 3}, expect=202)
    assert sent["state"] == "queued" and sent["args"] == {"seconds": 3.0} and STAMP.match(sent["issued_at"])
    row = Command.objects.get(id=sent["id"])
    assert (row.site, row.device_id, row.cmd, row.issued_by, row.published_at) == (
        "site-a", "door-a", "open_door", "hr_admin", None)
    entry = AuditEntry.objects.get(action="device.command", detail__id=sent["id"])
    assert (entry.actor, entry.target, entry.detail["cmd"], entry.detail["args"]) == (
        "hr_admin", "door-a", "open_door", {"seconds": 3.0})
    assert api.json("POST", "devices/door-a/commands", {"cmd": "resync"}, expect=202)["args"] == {}
    for body, field in (({"cmd": "purge_employee"}, "cmd"), ({"cmd": "set_setting"}, "cmd"),
                        ({"cmd": "open_door", "seconds": 600}, "seconds"), ({"cmd": "resync", "seconds": 1}, "seconds"),
                        ({"cmd": "open_door", "args": {"x": 1}}, "args"), ({}, "cmd")):
        assert api.json("POST", "devices/door-a/commands", body, expect=422)["field"] == field, body
    assert Command.objects.count() == 2


# ---------------------------------------------------------------- every endpoint, every role

def _fill(text: str) -> str:
    yesterday = (dj_timezone.localdate() - timedelta(days=1)).isoformat()
    return (text.replace("{number}", "A001").replace("{device_id}", "door-a").replace("{site}", "site-a")
            .replace("{name}", "punches").replace("{username}", "manager").replace("{yesterday}", yesterday))


def test_openapi_lists_every_endpoint_with_descriptions(world):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = json.loads(response.content)
    assert doc["info"]["title"] == "Seed 考勤 API" and doc["openapi"].startswith("3.")
    operations = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert operations == {(e.method, e.path) for e in ENDPOINTS}
    assert {"/api/v1/employees", "/api/v1/employees/{number}", "/api/v1/employees/{number}/faces", "/api/v1/sites",
            "/api/v1/departments",
            "/api/v1/devices", "/api/v1/devices/{device_id}", "/api/v1/devices/{device_id}/commands",
            "/api/v1/punches", "/api/v1/punches/import", "/api/v1/events", "/api/v1/attendance/records", "/api/v1/attendance/exceptions",
            "/api/v1/attendance/leave", "/api/v1/attendance/makeup-punches", "/api/v1/reports",
            "/api/v1/attendance/leave/{leave_id}/decision", "/api/v1/attendance/makeup-punches/{punch_id}/decision",
            "/api/v1/attendance/leave/{leave_id}/early-end",
            "/api/v1/attendance/overtime/{record_id}/decision",
            "/api/v1/attendance/leave/{leave_id}/withdrawal", "/api/v1/attendance/makeup-punches/{punch_id}/withdrawal",
            "/api/v1/attendance/leave-balances", "/api/v1/attendance/closed-months",
            "/api/v1/attendance/month-confirmations", "/api/v1/attendance/shift-changes",
            "/api/v1/attendance/shift-changes/{change_id}/answer", "/api/v1/attendance/shift-changes/{change_id}/decision",
            "/api/v1/attendance/shift-changes/{change_id}/withdrawal", "/api/v1/attendance/overtime-requests",
            "/api/v1/attendance/overtime-requests/{request_id}/decision",
            "/api/v1/attendance/overtime-requests/{request_id}/withdrawal",
            "/api/v1/reports/{name}", "/api/v1/users", "/api/v1/users/{username}",
            "/api/v1/users/{username}/password-reset"} == set(doc["paths"])
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op["summary"] and op["security"], (method, path)
            assert {"401", "403", "404", "422"} <= set(op["responses"]), (method, path)
    for name in ("EmployeeOut", "EmployeeCreate", "PunchOut", "EventOut", "DeviceOut", "CommandIn"):
        props = doc["components"]["schemas"][name]["properties"]
        assert all(field.get("description") for field in props.values()), name
    assert "pin" not in doc["components"]["schemas"]["EmployeeOut"]["properties"]
    assert "pin_hash" not in json.dumps(doc)


@pytest.mark.parametrize("role", ["superuser", "hr_admin", "manager", "auditor", "employee"])
def test_every_endpoint_as_every_role(world, role, request):
    api = world.client(role)
    # a writer's face upload succeeds with a real photo (the others are refused before the photo is read)
    photo = ((request.getfixturevalue("faces_dir") / "people" / "obama" / "obama.jpg").read_bytes()
             if role in ("superuser", "hr_admin") else b"-")
    for endpoint in sorted(ENDPOINTS, key=lambda e: e.method == "DELETE"):  # A001 deactivated last: leave needs them
        params = {k: _fill(str(v)) for k, v in endpoint.params.items()}
        body = json.loads(_fill(json.dumps(endpoint.body)).replace("{face_photo}", base64.b64encode(photo).decode())
                          ) if endpoint.body is not None else None
        if endpoint.method == "POST" and endpoint.path.endswith("/employees"):
            body["number"] = f"N-{role}"
        if endpoint.method == "POST" and endpoint.path.endswith("/users"):
            body["username"] = f"u-{role}"
        path = (_fill(endpoint.path).replace("{leave_id}", str(world.leave.pk)).replace("{punch_id}", str(world.makeup.pk))
                .replace("{record_id}", str(world.overtime.pk)).replace("{change_id}", str(world.change.pk))
                .replace("{request_id}", str(world.asked.pk)))
        response = api.call(endpoint.method, path, body, **params)
        assert response["Content-Type"].startswith("application/json"), endpoint
        hidden = role == "employee" and "{" in endpoint.path.replace("{name}", "")  # A001 and door-a are outside an employee's scope
        if hidden:
            expected = 404  # read or write: a row outside the scope answers as if it did not exist
        elif endpoint.method == "GET":
            expected = 200
        elif role in endpoint.roles:
            expected = {"POST": 202 if "commands" in endpoint.path
                        else 200 if endpoint.path.endswith(("/decision", "/early-end", "/password-reset")) else 201}.get(
                endpoint.method, 200)
        else:
            expected = 403  # may read this row, may not change it
        assert response.status_code == expected, (role, endpoint, response.status_code, response.content[:300])
    # what each role sees of A001 (detail) follows the scope table
    sees_a001 = api.call("GET", "employees/A001").status_code == 200
    assert sees_a001 == (role in ("superuser", "hr_admin", "manager", "auditor"))


def test_unknown_paths_and_methods_answer_without_a_500(world):
    api = world.client("superuser")
    missing = api.call("GET", "/api/v1/no-such-thing")
    assert missing.status_code == 404 and "detail" in json.loads(missing.content)
    assert api.call("PATCH", "employees/A001", {"name": "x"}).status_code == 405


# ---------------------------------------------------------------- docs page

def test_the_docs_page_loads_nothing_from_the_internet():
    client = Client()
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Seed 考勤 API" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I), "a remote asset"
    assert "http://" not in html and "https://" not in html
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:  # every asset is served by this server itself
        served = client.get(asset)
        assert served.status_code == 200, asset
        content = b"".join(served.streaming_content) if served.streaming else served.content
        assert len(content) > 100, asset
    settings = json.loads(re.search(r'id="swagger-settings">(.*?)</script>', html, re.S).group(1))
    assert settings["validatorUrl"] is None  # no badge fetched from validator.swagger.io
    assert settings["url"] == "/api/v1/openapi.json"
