"""/api/v1/attendance/*: records, exceptions, leave and make-up punches through the REST API — filters,
cursor pages, scope, bad input and the OpenAPI examples. Runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import urlencode

import pytest
from central_support import every_page, token_for
from django.test import Client

from central.accounts.models import Role, User
from central.attendance.models import DailyRecord, LeaveRecord, LeaveType, MakeupPunch
from central.people import roster
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


class World:
    def __init__(self) -> None:
        a = Site.objects.create(code="site-a", name="工厂 A", time_zone="Asia/Shanghai")
        b = Site.objects.create(code="site-b", name="工厂 B", time_zone="Europe/Berlin")
        Department.objects.create(site=a, name="装配 Assembly")
        Department.objects.create(site=b, name="仓库 Store")
        roster.upsert_employees([
            {"number": "A001", "name": "张三", "site": "site-a", "department": "装配 Assembly"},
            {"number": "A002", "name": "李四", "site": "site-a", "department": "装配 Assembly"},
            {"number": "B001", "name": "王五", "site": "site-b", "department": "仓库 Store"},
        ])
        self.people = {e.number: e for e in Employee.objects.all()}
        self.annual = LeaveType.objects.create(code="AL", name="年假 Annual")
        self.sick = LeaveType.objects.create(code="SL", name="病假 Sick", paid=False)
        self.tokens: dict[str, str] = {}
        self.user("root", Role.HR_ADMIN, superuser=True)
        self.user("hr_a", Role.HR_ADMIN, sites=[a])
        self.user("hr_b", Role.HR_ADMIN, sites=[b])
        self.user("employee", Role.EMPLOYEE, employee=self.people["A002"])

    def user(self, name: str, role: str, **grants: Any) -> None:
        self.tokens[name] = token_for(name, role, **grants)

    def get(self, who: str, path: str, **params: Any) -> tuple[int, Any]:
        url = f"/api/v1/attendance/{path}" + (f"?{urlencode(params)}" if params else "")
        response = Client().get(url, HTTP_AUTHORIZATION=f"Bearer {self.tokens[who]}")
        assert response["Content-Type"].startswith("application/json")
        return response.status_code, json.loads(response.content)

    def record(self, number: str, day: date, **values: Any) -> DailyRecord:
        values.setdefault("status", "present")
        values.setdefault("source", "punches")
        return DailyRecord.objects.create(employee=self.people[number], date=day, shift_name="白班 Day", **values)


@pytest.fixture
def world() -> World:
    return World()


def _all_pages(world: World, who: str, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    return every_page(lambda **query: world.get(who, path, **query), **params)


def test_records_filters_scope_and_pages(world: World) -> None:
    for day in range(1, 11):
        world.record("A001", date(2026, 3, day), late=day % 3 == 0, late_min=day, hours="7.50", final=day < 6,
                     first_in=utc(2026, 3, day, 1, 0))
        world.record("B001", date(2026, 3, day), status="absent", source="absent")
    world.record("A002", date(2026, 3, 4), status="on_leave", source="leave", leave_type=world.annual)
    # every record once, in (date, id) order, over pages of 3 — also when dates repeat across employees
    items, pages = _all_pages(world, "root", "records", limit=3, **{"from": "2026-03-01", "to": "2026-03-31"})
    assert len(items) == 21 and pages == 7
    assert [(i["date"], i["id"]) for i in items] == sorted((i["date"], i["id"]) for i in items)
    assert len({i["id"] for i in items}) == 21
    first = next(i for i in items if i["employee_number"] == "A001" and i["date"] == "2026-03-03")
    assert (first["late"], first["late_min"], first["hours"], first["site"], first["department"]) == (
        True, 3, "7.50", "site-a", "装配 Assembly")
    assert first["first_in"] == "2026-03-03T01:00:00.000000Z" and first["employee_name"] == "张三"
    leave = next(i for i in items if i["status"] == "on_leave")
    assert leave["leave_type"] == "AL" and leave["employee_number"] == "A002"
    # HR of site A never sees site B, even when asking for it
    items, _ = _all_pages(world, "hr_a", "records")
    assert {i["employee_number"] for i in items} == {"A001", "A002"}
    assert world.get("hr_a", "records", employee="B001")[1]["items"] == []
    assert world.get("hr_a", "records", site="site-b")[1]["items"] == []
    assert {i["employee_number"] for i in _all_pages(world, "employee", "records")[0]} == {"A002"}
    # filters
    body = world.get("root", "records", status="absent", **{"from": "2026-03-09"})[1]
    assert [(i["employee_number"], i["date"]) for i in body["items"]] == [("B001", "2026-03-09"), ("B001", "2026-03-10")]
    body = world.get("root", "records", employee="A001", final="false")[1]
    assert [i["date"] for i in body["items"]] == [f"2026-03-{d:02d}" for d in range(6, 11)]
    assert len(world.get("root", "records", department="仓库 Store")[1]["items"]) == 10


def test_exceptions_with_states_and_pages(world: World) -> None:
    world.record("A001", date(2026, 3, 2), late=True, late_min=12, first_in=utc(2026, 3, 2, 1, 12))
    world.record("A001", date(2026, 3, 3), status="absent", source="absent")
    pending = LeaveRecord.objects.create(employee=world.people["A001"], leave_type=world.sick, start=date(2026, 3, 3),
                                         end=date(2026, 3, 3), state="pending")
    world.record("A002", date(2026, 3, 3), missing_out=True)
    world.record("B001", date(2026, 3, 2), late=True, late_min=4)
    status, body = world.get("root", "exceptions", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert status == 200
    assert [(i["employee_number"], i["date"], i["kind"], i["state"]) for i in body["items"]] == [
        ("A001", "2026-03-02", "late", "open"), ("B001", "2026-03-02", "late", "open"),
        ("A001", "2026-03-03", "absent", "explained"), ("A002", "2026-03-03", "missing_out", "open")]
    late = body["items"][0]
    assert late["minutes"] == 12 and late["first_in"] == "2026-03-02T09:12:00" and late["kind_label"] == "迟到 Late"
    assert (body["items"][2]["request_kind"], body["items"][2]["request_id"]) == ("leave", pending.pk)
    items, pages = _all_pages(world, "root", "exceptions", limit=1, **{"from": "2026-03-01", "to": "2026-03-31"})
    assert pages == 4 and items == body["items"]
    _, mine = world.get("hr_a", "exceptions", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert {i["employee_number"] for i in mine["items"]} == {"A001", "A002"}
    _, only = world.get("root", "exceptions", kind="late", state="open", site="site-b",
                        **{"from": "2026-03-01", "to": "2026-03-31"})
    assert [i["employee_number"] for i in only["items"]] == ["B001"]


@pytest.mark.parametrize("params, field", [
    ({"from": "2026-03-01"}, "to"),  # to is required
    ({"from": "2026-13-01", "to": "2026-03-31"}, "from"),
    ({"from": "yesterday", "to": "2026-03-31"}, "from"),
    ({"from": "2026-03-31", "to": "2026-03-01"}, "to"),  # out of order
    ({"from": "2025-01-01", "to": "2026-03-31"}, "to"),  # more than 366 days
    ({"from": "2026-03-01", "to": "2026-03-31", "kind": "sleepy"}, "kind"),
    ({"from": "2026-03-01", "to": "2026-03-31", "cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
])
def test_bad_exception_queries_are_explained(world: World, params: dict[str, str], field: str) -> None:
    status, body = world.get("root", "exceptions", **params)
    assert status in (400, 422) and body["field"] == field, body
    assert "/" in body["detail"]  # Chinese, then English


def test_bad_dates_and_cursors_on_every_list(world: World) -> None:
    for path in ("records", "leave", "makeup-punches"):
        status, body = world.get("root", path, **{"from": "2026-02-30"})
        assert status == 400 and body["field"] == "from" and "2026-03-01" in body["detail"], (path, body)
        status, body = world.get("root", path, cursor="WyJub3QtYS1kYXRlIiwiYWJjIl0")
        assert status == 400 and body["field"] == "cursor", (path, body)


def test_leave_and_makeup_punches(world: World) -> None:
    a1, a2, b1 = world.people["A001"], world.people["A002"], world.people["B001"]
    LeaveRecord.objects.create(employee=a1, leave_type=world.annual, start=date(2026, 2, 26), end=date(2026, 3, 2),
                               state="approved", approved_by="hr_a", approved_at=utc(2026, 2, 20, 3, 0))
    LeaveRecord.objects.create(employee=a2, leave_type=world.sick, start=date(2026, 3, 10), end=date(2026, 3, 10))
    LeaveRecord.objects.create(employee=a2, leave_type=world.annual, start=date(2026, 4, 1), end=date(2026, 4, 2))
    LeaveRecord.objects.create(employee=b1, leave_type=world.annual, start=date(2026, 3, 5), end=date(2026, 3, 5))
    _, body = world.get("root", "leave", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert [(i["employee_number"], i["start"], i["end"]) for i in body["items"]] == [
        ("A001", "2026-02-26", "2026-03-02"), ("B001", "2026-03-05", "2026-03-05"), ("A002", "2026-03-10", "2026-03-10")]
    assert body["items"][0]["approved_at"] == "2026-02-20T03:00:00.000000Z" and body["items"][0]["leave_type_name"] == "年假 Annual"
    _, body = world.get("root", "leave", state="pending", leave_type="SL")
    assert [i["employee_number"] for i in body["items"]] == ["A002"] and body["items"][0]["paid"] is False
    _, body = world.get("hr_b", "leave")
    assert [i["employee_number"] for i in body["items"]] == ["B001"]
    # make-up punches: the day is the employee's own site's day (Shanghai is UTC+8)
    MakeupPunch.objects.create(employee=a1, at=utc(2026, 2, 28, 16, 30), direction="in", reason="忘记 forgot")  # 3/1
    MakeupPunch.objects.create(employee=a1, at=utc(2026, 2, 28, 15, 30), direction="out", reason="忘记 forgot")  # 2/28
    MakeupPunch.objects.create(employee=a2, at=utc(2026, 3, 4, 10, 0), reason="忘记 forgot", state="approved")
    MakeupPunch.objects.create(employee=b1, at=utc(2026, 2, 28, 23, 30), reason="vergessen", state="rejected")  # 3/1 Berlin
    _, body = world.get("root", "makeup-punches", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert [(i["employee_number"], i["at"]) for i in body["items"]] == [
        ("A001", "2026-02-28T16:30:00.000000Z"), ("B001", "2026-02-28T23:30:00.000000Z"), ("A002", "2026-03-04T10:00:00.000000Z")]
    assert body["items"][0]["direction"] == "in" and body["items"][2]["direction"] is None
    _, body = world.get("employee", "makeup-punches")
    assert [(i["employee_number"], i["state"]) for i in body["items"]] == [("A002", "approved")]
    items, pages = _all_pages(world, "root", "makeup-punches", limit=1)
    assert pages == 4 and len({i["id"] for i in items}) == 4


def test_the_openapi_document_has_descriptions_and_examples() -> None:
    doc = json.loads(Client().get("/api/v1/openapi.json").content)
    for path in ("records", "exceptions", "leave", "makeup-punches"):
        op = doc["paths"][f"/api/v1/attendance/{path}"]["get"]
        params = {p["name"]: p for p in op["parameters"]}
        assert {"from", "to", "site", "department", "employee", "limit", "cursor"} <= set(params), path
        for name, param in params.items():
            assert "/" in param["description"], (path, name)  # Chinese / English
        assert params["from"]["example"] == "2026-03-01" and params["employee"]["example"] == "A001"
    assert doc["paths"]["/api/v1/attendance/exceptions"]["get"]["parameters"][0]["required"] is True
    for name in ("RecordOut", "ExceptionOut", "LeaveOut", "MakeupOut"):
        props = doc["components"]["schemas"][name]["properties"]
        assert all(field.get("description") for field in props.values()), name
        assert all(field.get("examples") for field in props.values()), name
    assert doc["components"]["schemas"]["ExceptionOut"]["properties"]["kind"]["examples"] == ["late"]
    for name in ("LeaveIn", "MakeupIn"):  # what a company's own app sends
        props = doc["components"]["schemas"][name]["properties"]
        assert all("/" in field.get("description", "") for field in props.values()), name


def test_a_pending_leave_and_make_up_punch_are_decided_through_the_api(world: World) -> None:
    """As on the console's requests page: the token's user decides within their scope, never their own request,
    once; the answer is the request as it now stands, and the audit log names who decided."""
    from central.accounts.models import AuditEntry

    leave = LeaveRecord.objects.create(employee=world.people["A001"], leave_type=world.annual, start=date(2026, 3, 2),
                                       end=date(2026, 3, 3), reason="探亲")
    punch = MakeupPunch.objects.create(employee=world.people["A001"], at=utc(2026, 3, 4, 10), direction="out",
                                       reason="忘记打卡")
    roster.upsert_employees([{"number": "A003", "name": "人事小赵", "site": "site-a", "department": "装配 Assembly"}])
    hr_person = Employee.objects.get(number="A003")
    own = LeaveRecord.objects.create(employee=hr_person, leave_type=world.annual, start=date(2026, 3, 5),
                                     end=date(2026, 3, 5), reason="体检")
    employees_own = LeaveRecord.objects.create(employee=world.people["A002"], leave_type=world.annual,
                                               start=date(2026, 3, 6), end=date(2026, 3, 6), reason="事假")
    User.objects.filter(username="hr_a").update(employee=hr_person)  # HR of site A is also employee A003

    def post(who: str, path: str, body: Any) -> tuple[int, Any]:
        response = Client().post(f"/api/v1/attendance/{path}", json.dumps(body), content_type="application/json",
                                 HTTP_AUTHORIZATION=f"Bearer {world.tokens[who]}")
        return response.status_code, json.loads(response.content)

    assert post("hr_b", f"leave/{leave.pk}/decision", {"decision": "approve"})[0] == 404  # another site's: not there
    assert post("employee", f"leave/{employees_own.pk}/decision", {"decision": "approve"})[0] == 403  # sees, not decides
    assert post("hr_a", f"leave/{own.pk}/decision", {"decision": "approve"})[0] == 403  # their own
    for body, field in (({"decision": "maybe"}, "decision"), ({}, "decision"), ({"decision": "approve", "x": 1}, "x")):
        status, answer = post("hr_a", f"leave/{leave.pk}/decision", body)
        assert status == 422 and answer["field"] == field, (body, answer)
    assert post("hr_a", "leave/999999/decision", {"decision": "approve"})[0] == 404
    assert LeaveRecord.objects.get(pk=leave.pk).state == "pending"

    status, answer = post("hr_a", f"leave/{leave.pk}/decision", {"decision": "approve"})
    assert status == 200 and (answer["state"], answer["approved_by"], answer["employee_number"]) == ("approved", "hr_a", "A001")
    assert {r.date: r.status for r in DailyRecord.objects.filter(employee=world.people["A001"])}.get(date(2026, 3, 2)) == "on_leave"
    again = post("root", f"leave/{leave.pk}/decision", {"decision": "reject"})
    assert again[0] == 409 and "already" in again[1]["detail"]
    status, answer = post("root", f"makeup-punches/{punch.pk}/decision", {"decision": "reject"})
    assert status == 200 and (answer["state"], answer["approved_by"], answer["at"]) == ("rejected", "root",
                                                                                         "2026-03-04T10:00:00.000000Z")
    assert list(AuditEntry.objects.filter(action__in=("attendance.leave_approved", "attendance.makeup_rejected"))
                .order_by("pk").values_list("action", "actor")) == [("attendance.leave_approved", "hr_a"),
                                                                    ("attendance.makeup_rejected", "root")]
    assert LeaveRecord.objects.get(pk=own.pk).state == "pending"


def test_a_days_overtime_is_decided_through_the_api_on_the_minutes_the_caller_was_shown(world: World) -> None:
    """Approved overtime is paid, rejected is recorded; a decision naming minutes a recompute changed since is 409 and
    changes nothing; another site's record is not there, an employee does not decide."""
    from central.accounts.models import AuditEntry

    first = world.record("A001", date(2026, 3, 2), overtime_min=90, overtime_state="pending")
    second = world.record("A001", date(2026, 3, 3), overtime_min=60, overtime_state="pending")
    none = world.record("A001", date(2026, 3, 4))  # no overtime to decide
    far = world.record("B001", date(2026, 3, 2), overtime_min=30, overtime_state="pending")
    mine = world.record("A002", date(2026, 3, 2), overtime_min=30, overtime_state="pending")  # the employee's own

    def post(who: str, pk: int, body: Any) -> tuple[int, Any]:
        response = Client().post(f"/api/v1/attendance/overtime/{pk}/decision", json.dumps(body),
                                 content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {world.tokens[who]}")
        return response.status_code, json.loads(response.content)

    assert post("hr_a", far.pk, {"decision": "approve"})[0] == 404  # another site's
    assert post("employee", first.pk, {"decision": "approve", "minutes": 90})[0] == 404  # not theirs to see
    assert post("employee", mine.pk, {"decision": "approve", "minutes": 30})[0] == 403  # sees it, does not decide
    for body, field in (({"decision": "approve", "minutes": "ninety"}, "minutes"),
                        ({"decision": "approve", "minutes": 0}, "minutes"),
                        ({"decision": "approve", "minutes": 90, "paid": True}, "paid")):
        status, answer = post("hr_a", first.pk, body)
        assert status == 422 and answer["field"] == field, (body, answer)
    status, answer = post("hr_a", first.pk, {"decision": "approve", "minutes": 60})  # shown before a recompute
    assert status == 409 and "60" in answer["detail"] and "90" in answer["detail"]
    assert DailyRecord.objects.get(pk=first.pk).overtime_state == "pending"

    status, answer = post("hr_a", first.pk, {"decision": "approve", "minutes": 90})
    assert status == 200 and (answer["overtime_state"], answer["overtime_min"], answer["employee_number"], answer["date"]) \
        == ("approved", 90, "A001", "2026-03-02")
    status, answer = post("root", second.pk, {"decision": "reject"})
    assert status == 200 and answer["overtime_state"] == "rejected"
    assert post("root", first.pk, {"decision": "reject", "minutes": 90})[0] == 409  # decided already
    assert post("root", none.pk, {"decision": "approve"})[0] == 409  # nothing to decide
    assert list(AuditEntry.objects.filter(action__startswith="attendance.overtime_").order_by("pk")
                .values_list("action", "actor")) == [("attendance.overtime_approved", "hr_a"),
                                                     ("attendance.overtime_rejected", "root")]


def test_leave_balances_by_employee_with_pages_scope_and_bad_input(world: World) -> None:
    """What each employee has left of the leave types that keep an allowance, read back against the leave filed."""
    from decimal import Decimal

    from central.attendance.leave_balances import set_allowance
    from central.attendance.models import AttendanceProfile, ShiftType, SiteCalendar
    from central.attendance.requests import file_leave

    day = ShiftType.objects.create(name="day", start=datetime(2026, 1, 1, 9).time(), end=datetime(2026, 1, 1, 18).time())
    for emp in world.people.values():
        AttendanceProfile.objects.create(employee=emp, default_shift=day)
        SiteCalendar.objects.get_or_create(site=emp.site, defaults={"weekly_rest": [5, 6]})
    LeaveType.objects.filter(pk=world.annual.pk).update(yearly_days=Decimal(5))
    world.annual.refresh_from_db()
    file_leave(world.people["A001"], world.annual, date(2026, 3, 2), date(2026, 3, 3), reason="探亲", actor="A001")
    file_leave(world.people["A002"], world.annual, date(2026, 3, 6), date(2026, 3, 6), half_day=True, reason="x",
               actor="A002")
    set_allowance(User.objects.get(username="root"), world.people["B001"], world.annual, 2026, Decimal(12))

    items, pages = _all_pages(world, "root", "leave-balances", year=2026, limit=1)
    assert pages == 3
    got = {(r["employee_number"], r["leave_type"]): (r["allowance"], r["own"], r["taken"], r["waiting"], r["left"])
           for r in items}
    assert got == {("A001", "AL"): ("5", False, "0", "2", "3"), ("A002", "AL"): ("5", False, "0", "0.5", "4.5"),
                   ("B001", "AL"): ("12", True, "0", "0", "12")}  # sick leave keeps no allowance: no rows
    assert {r["employee_number"]: (r["basis"], r["working_years"]) for r in items} == {
        "A001": ("type", None), "A002": ("type", None), "B001": ("own", None)}
    status, body = world.get("hr_a", "leave-balances", year=2026)
    assert status == 200 and sorted(r["employee_number"] for r in body["items"]) == ["A001", "A002"]
    status, body = world.get("employee", "leave-balances", year=2026)
    assert status == 200 and [r["employee_number"] for r in body["items"]] == ["A002"]  # their own only
    status, body = world.get("root", "leave-balances", year=2027, employee="A001")
    assert [(r["year"], r["left"]) for r in body["items"]] == [(2027, "5")]
    for params in ({}, {"year": "twenty"}, {"year": 1999}, {"year": 2026, "limit": 0}, {"year": 2026, "cursor": "%%"}):
        status, body = world.get("root", "leave-balances", **params)
        assert status in (400, 422) and body["field"] in ("year", "limit", "cursor"), (params, body)
    # carried over since 2025: 2025's 5 days went unused, 3 carry into 2026 until 31 March. A001's leave of 2-3 March
    # takes two of them, the third lapsed on 1 April: all 5 of the year's own days are left
    carrying = {"carry_over_days": Decimal(3), "carry_over_until": 3, "carry_over_since": 2025}
    LeaveType.objects.filter(pk=world.annual.pk).update(**carrying)
    status, body = world.get("root", "leave-balances", year=2026, employee="A001")
    assert [(r["carried"], r["carried_until"], r["carried_left"], r["waiting"], r["left"]) for r in body["items"]] == [
        ("3", "2026-03-31", "0", "2", "5")]
    status, body = world.get("root", "leave-balances", year=2026, employee="B001")  # an own allowance carries too
    assert [(r["allowance"], r["carried"], r["left"]) for r in body["items"]] == [("12", "3", "12")]
    LeaveType.objects.filter(pk=world.annual.pk).update(**{k: None for k in carrying})
    world.annual.yearly_days, world.annual.statutory = None, True  # by law, from the years of working life
    world.annual.save()
    AttendanceProfile.objects.update_or_create(employee=world.people["A001"], defaults={"work_started": date(2006, 7, 1)})
    status, body = world.get("root", "leave-balances", year=2026, employee="A001")
    # 20 years on 1 July: 181 days × 10 + 184 days × 15 = 4570 / 365 = 12.52 → 12
    assert [(r["allowance"], r["basis"], r["working_years"], r["left"]) for r in body["items"]] == [
        ("12", "statutory", 20, "10")]
    status, body = world.get("root", "leave-balances", year=2026, employee="A002")  # no dates: nothing to count from
    assert [(r["allowance"], r["basis"], r["left"]) for r in body["items"]] == [("0", "unknown", "-0.5")]


def _post(world: World, who: str, path: str, body: Any) -> tuple[int, Any]:
    response = Client().post(f"/api/v1/attendance/{path}", json.dumps(body) if not isinstance(body, str) else body,
                             content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {world.tokens[who]}")
    assert response["Content-Type"].startswith("application/json")
    return response.status_code, json.loads(response.content)


def test_an_employee_asks_for_leave_and_a_make_up_punch_through_the_api_and_takes_them_back(world: World) -> None:
    """A company's own app asks for its user: pending, audited, told to the managers; taken back while waiting; HR
    records leave for an employee it manages, approved at once."""
    from central.accounts.models import AuditEntry

    leave = {"leave_type": "AL", "start": "2026-03-09", "end": "2026-03-10", "reason": "探亲"}
    status, made = _post(world, "employee", "leave", leave)
    assert status == 201, made
    assert (made["employee_number"], made["state"], made["start"], made["end"], made["reason"]) == (
        "A002", "pending", "2026-03-09", "2026-03-10", "探亲")
    assert LeaveRecord.objects.get(pk=made["id"]).employee == world.people["A002"]
    # the employee's own number is the same as leaving it out; anyone else's is refused before any lookup
    assert _post(world, "employee", "leave", {**leave, "employee": "A002", "start": "2026-03-11",
                                               "end": "2026-03-11"})[0] == 201
    for number in ("A001", "B001", "NOBODY"):
        status, answer = _post(world, "employee", "leave", {**leave, "employee": number})
        assert status == 403 and "人事管理员" in answer["detail"], (number, answer)
    # bad input: each names its field, nothing is filed
    filed = LeaveRecord.objects.count()
    for body, code, field in (
            ({**leave, "leave_type": "XX"}, 400, "leave_type"),
            ({**leave, "end": "2026-03-01"}, 400, "end"),  # before the start
            ({**leave, "half_day": True}, 400, "end"),  # a half day over two days
            ({**leave, "start": "2026-02-30"}, 422, "start"),
            ({**leave, "reason": ""}, 422, "reason"),
            ({**leave, "reason": "a\x00b"}, 422, "reason"),
            ({**leave, "approved": True}, 422, "approved"),
            ({k: v for k, v in leave.items() if k != "leave_type"}, 422, "leave_type")):
        status, answer = _post(world, "employee", "leave", body)
        assert (status, answer.get("field")) == (code, field), (body, answer)
    assert _post(world, "employee", "leave", "{not json")[0] in (400, 422)
    assert LeaveRecord.objects.count() == filed
    # a user with no employee record has no requests of their own
    status, answer = _post(world, "root", "leave", leave)
    assert status == 403 and "没有员工档案" in answer["detail"]

    # a make-up punch: a time without an offset is the site's local time (Asia/Shanghai, UTC+8)
    status, punch = _post(world, "employee", "makeup-punches", {"at": "2026-03-03T18:02", "direction": "out",
                                                               "reason": "忘记打卡"})
    assert status == 201 and (punch["at"], punch["direction"], punch["state"]) == (
        "2026-03-03T10:02:00.000000Z", "out", "pending")
    status, other = _post(world, "employee", "makeup-punches", {"at": "2026-03-04T09:00:00+02:00", "reason": "门禁坏了"})
    assert status == 201 and (other["at"], other["direction"]) == ("2026-03-04T07:00:00.000000Z", None)
    for body, code, field in (({"at": "2099-01-01T09:00", "reason": "x"}, 400, "at"),  # the future
                              ({"at": "2026-03-03T18:02", "direction": "sideways", "reason": "x"}, 422, "direction"),
                              ({"at": "yesterday", "reason": "x"}, 422, "at"),
                              ({"at": "2026-03-03T18:02", "reason": "x", "employee": "A001"}, 422, "employee")):
        status, answer = _post(world, "employee", "makeup-punches", body)
        assert (status, answer.get("field")) == (code, field), (body, answer)
    assert _post(world, "hr_a", "makeup-punches", {"at": "2026-03-03T18:02", "reason": "x"})[0] == 403

    # taken back: only by the one who asked, only while it waits
    assert _post(world, "hr_a", f"leave/{made['id']}/withdrawal", {})[0] == 403  # sees it, did not ask for it
    assert _post(world, "hr_b", f"leave/{made['id']}/withdrawal", {})[0] == 404  # another site's
    status, back = _post(world, "employee", f"leave/{made['id']}/withdrawal", {})
    assert status == 200 and (back["state"], back["approved_by"]) == ("withdrawn", "employee")
    again = _post(world, "employee", f"leave/{made['id']}/withdrawal", {})
    assert again[0] == 409 and again[1]["field"] == "state"
    assert _post(world, "hr_a", f"makeup-punches/{punch['id']}/decision", {"decision": "approve"})[0] == 200
    assert _post(world, "employee", f"makeup-punches/{punch['id']}/withdrawal", {})[0] == 409  # decided already
    status, back = _post(world, "employee", f"makeup-punches/{other['id']}/withdrawal", {})
    assert status == 200 and back["state"] == "withdrawn"
    assert _post(world, "employee", "makeup-punches/999999/withdrawal", {})[0] == 404

    # HR records a leave for an employee it manages: approved at once, the day recomputed; another site's is not there
    status, recorded = _post(world, "hr_a", "leave", {**leave, "employee": "A001", "leave_type": "SL",
                                                      "start": "2026-03-12", "end": "2026-03-12", "reason": "住院"})
    assert status == 201 and (recorded["employee_number"], recorded["state"], recorded["approved_by"], recorded["paid"]) == (
        "A001", "approved", "hr_a", False)
    assert _post(world, "hr_a", "leave", {**leave, "employee": "B001"})[0] == 404
    assert not LeaveRecord.objects.filter(employee=world.people["B001"]).exists()
    assert list(AuditEntry.objects.filter(action__startswith="attendance.leave_").order_by("pk")
                .values_list("action", "actor")) == [
        ("attendance.leave_filed", "employee"), ("attendance.leave_filed", "employee"),
        ("attendance.leave_withdrawn", "employee"), ("attendance.leave_filed", "hr_a"),
        ("attendance.leave_approved", "hr_a")]


def test_evidence_is_sent_in_base64_with_a_request_and_a_type_that_needs_it_is_not_approved_without(world: World) -> None:
    import base64
    import io

    from PIL import Image

    from central.attendance.models import RequestEvidence

    LeaveType.objects.filter(pk=world.sick.pk).update(needs_evidence=True)
    photo = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    Image.new("RGB", (800, 600), (250, 250, 250)).save(photo, "JPEG", exif=exif)
    leave = {"leave_type": "SL", "start": "2026-03-09", "end": "2026-03-09", "reason": "发烧 Fever"}
    status, early = _post(world, "employee", "leave", leave)  # asked for before the doctor: filed, not approved yet
    assert status == 201 and early["has_evidence"] is False
    status, answer = _post(world, "hr_a", f"leave/{early['id']}/decision", {"decision": "approve"})
    assert status == 409 and "还没有证明" in answer["detail"] and LeaveRecord.objects.get().state == "pending"
    assert _post(world, "employee", f"leave/{early['id']}/withdrawal", {})[0] == 200
    for sent, says in (({"name": "x.jpg", "content_base64": "@@not base64@@"}, "Base64"),
                       ({"name": "x.jpg", "content_base64": base64.b64encode(b"<html></html>").decode()}, "JPEG、PNG"),
                       ({"name": "x.jpg"}, None)):
        status, answer = _post(world, "employee", "leave", {**leave, "evidence": sent})
        assert status in (400, 422) and "evidence" in answer["field"] and (says is None or says in answer["detail"]), answer
    assert LeaveRecord.objects.filter(state="pending").count() == 0
    sent = {"name": "病假条.jpeg", "content_base64": base64.b64encode(photo.getvalue()).decode()}
    status, made = _post(world, "employee", "leave", {**leave, "evidence": sent})
    assert status == 201 and made["has_evidence"] is True
    kept = RequestEvidence.objects.get(leave_id=made["id"])
    assert kept.name == "病假条.jpg" and b"PhoneMaker" not in bytes(kept.data)
    status, punch = _post(world, "employee", "makeup-punches", {"at": "2026-03-03T18:02", "reason": "门禁坏了",
                                                               "evidence": {**sent, "name": "door.jpg"}})
    assert status == 201 and punch["has_evidence"] is True
    assert RequestEvidence.objects.get(makeup_id=punch["id"]).name == "door.jpg"
