"""/api/v1/attendance/overtime-requests: overtime asked for (加班申请) through the REST API, as a company's own app or
chat bot asks for its user: asked, decided, taken back; listed with filters, pages and scope; bad bodies refused
naming their field. The overtime is real: punches stored as the receiver stores them and days computed by the
engine. Runs on SQLite and PostgreSQL.

Site 一厂 (s1, Asia/Shanghai) works Monday to Friday, everyone on the day shift 09:00-18:00; its overtime counts
from 30 minutes after 18:00, rounded down to half hours, and waits for approval. 张三 (E1), 李四 (E2) and 钱组长
(E4, who also manages 装配) are in 装配, 王五 (E3) in 包装. Site 二厂 (s2) has 赵六 (E9). The days used are a few
weeks in the past, so the engine computes them as days that happened.
"""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from central_support import every_page, token_for
from django.test import Client
from django.utils import timezone

from central.accounts.models import AuditEntry, Role
from central.attendance.models import (
    AttendanceProfile,
    ClosedMonth,
    DailyRecord,
    OvertimeRequest,
    OvertimeRule,
    ShiftType,
    SiteCalendar,
)
from central.attendance.overtime_requests import file_overtime
from central.attendance.services import recompute
from central.ingest.handler import store_punches
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
BASE = "/api/v1/attendance/overtime-requests"
_today = timezone.localdate()
MONDAY = _today - timedelta(days=_today.weekday(), weeks=4)  # four weeks back: every day below is over
TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = (MONDAY + timedelta(days=n) for n in (1, 2, 3, 4))


class Plant:
    def __init__(self) -> None:
        s1 = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
        s2 = Site.objects.create(code="s2", name="二厂", time_zone="Asia/Shanghai")
        for site in (s1, s2):
            SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
        rule = OvertimeRule.objects.create(name="平时加班", min_minutes=30, step_min=30, requires_approval=True)
        day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60,
                                       checkout_after_min=240, late_grace_min=5, early_grace_min=5,
                                       half_day_below_h=Decimal("6"), absent_below_h=Decimal("2"), overtime=rule)
        assembly = Department.objects.create(site=s1, name="装配")
        packing = Department.objects.create(site=s1, name="包装")
        self.people: dict[str, Employee] = {}
        for number, name, site, dept in (("E1", "张三", s1, assembly), ("E2", "李四", s1, assembly),
                                         ("E3", "王五", s1, packing), ("E4", "钱组长", s1, assembly),
                                         ("E9", "赵六", s2, None)):
            emp = Employee.objects.create(number=number, name=name, site=site, department=dept)
            AttendanceProfile.objects.create(employee=emp, default_shift=day)
            self.people[number] = emp
        self.tokens: dict[str, str] = {}
        self.user("root", Role.HR_ADMIN, superuser=True)
        self.user("hr", Role.HR_ADMIN, sites=[s1])
        self.user("hr_b", Role.HR_ADMIN, sites=[s2])
        self.user("boss", Role.MANAGER, departments=[assembly])
        self.user("pack_boss", Role.MANAGER, departments=[packing])
        self.user("lead", Role.MANAGER, departments=[assembly], employee=self.people["E4"])  # manages 装配, works in it
        self.user("zhang", Role.EMPLOYEE, employee=self.people["E1"])
        self.user("li", Role.EMPLOYEE, employee=self.people["E2"])
        self.user("zhao", Role.EMPLOYEE, employee=self.people["E9"])

    def user(self, name: str, role: str, **grants: Any) -> None:
        self.tokens[name] = token_for(name, role, **grants)

    def get(self, who: str, **params: Any) -> tuple[int, Any]:
        response = Client().get(f"{BASE}?{urlencode(params)}", HTTP_AUTHORIZATION=f"Bearer {self.tokens[who]}")
        assert response["Content-Type"].startswith("application/json")
        return response.status_code, json.loads(response.content)

    def post(self, who: str, path: str, body: Any) -> tuple[int, Any]:
        response = Client().post(f"{BASE}{path}", body if isinstance(body, str) else json.dumps(body),
                                 content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {self.tokens[who]}")
        assert response["Content-Type"].startswith("application/json")
        return response.status_code, json.loads(response.content)

    def overtime(self, number: str, day: date) -> tuple[int, str]:
        """The day's overtime minutes and their approval state, as the engine left them."""
        row = DailyRecord.objects.get(employee=self.people[number], date=day)
        return row.overtime_min, row.overtime_state


@pytest.fixture
def plant() -> Plant:
    return Plant()


def worked(number: str, day: date, out: time) -> None:
    """In at 08:55, out at ``out``, through the receiver's own store."""
    store_punches([{"id": f"{number}-{day}-{way}", "site": "s1", "device_id": "door-a", "employee_number": number,
                    "direction": way, "method": "card", "score": None,
                    "punched_at": datetime.combine(day, moment, SHANGHAI), "boot_id": "b", "monotonic_ns": 0,
                    "time_source": "ntp", "original_punched_at": None, "restamped_at": None, "batch_id": "x",
                    "received_at": timezone.now()} for way, moment in (("in", time(8, 55)), ("out", out))])


def asked(day: date, minutes: int, reason: str = "赶货 Rush order") -> dict[str, Any]:
    return {"date": day.isoformat(), "minutes": minutes, "reason": reason}


def _ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["items"]]


def test_an_employee_asks_for_overtime_and_bad_asks_are_refused_naming_their_field(plant: Plant) -> None:
    status, made = plant.post("zhang", "", asked(TUESDAY, 150))
    assert status == 201, made
    assert (made["employee_number"], made["employee_name"], made["site"], made["department"]) == ("E1", "张三", "s1", "装配")
    assert (made["date"], made["minutes"], made["reason"]) == (TUESDAY.isoformat(), 150, "赶货 Rush order")
    assert (made["state"], made["approved_by"], made["approved_at"]) == ("pending", "", None)
    assert made["created_at"].endswith("Z")

    # one waiting or approved request per day: a second one on Tuesday is refused, naming the day
    status, answer = plant.post("zhang", "", asked(TUESDAY, 60, "又一次 again"))
    assert (status, answer["field"]) == (400, "date"), answer
    assert "已有加班申请" in answer["detail"] and "already an overtime request" in answer["detail"]
    assert "150 min, waiting" in answer["detail"], answer
    # another employee's request on the same day is their own
    assert plant.post("li", "", asked(TUESDAY, 60))[0] == 201

    wed = WEDNESDAY.isoformat()
    for body, code, field in (
            ({"date": wed, "minutes": 60}, 422, "reason"),  # no reason
            ({"date": wed, "minutes": 60, "reason": ""}, 422, "reason"),
            ({"date": wed, "minutes": 60, "reason": "   "}, 422, "reason"),
            ({"date": wed, "minutes": 60, "reason": "a\x00b"}, 422, "reason"),
            ({"date": wed, "minutes": 60, "reason": "x" * 501}, 422, "reason"),
            ({"date": wed, "minutes": 0, "reason": "x"}, 422, "minutes"),  # 0 hours
            ({"date": wed, "minutes": 17 * 60, "reason": "x"}, 422, "minutes"),  # 17 hours: more than 16
            ({"date": wed, "minutes": 29, "reason": "x"}, 422, "minutes"),  # under half an hour
            ({"date": wed, "minutes": -60, "reason": "x"}, 422, "minutes"),
            ({"date": wed, "minutes": "two hours", "reason": "x"}, 422, "minutes"),
            ({"date": wed, "reason": "x"}, 422, "minutes"),
            ({"date": "2026-02-30", "minutes": 60, "reason": "x"}, 422, "date"),  # no such day
            ({"date": "tomorrow", "minutes": 60, "reason": "x"}, 422, "date"),
            ({"minutes": 60, "reason": "x"}, 422, "date"),
            ({"date": wed, "minutes": 60, "reason": "x", "employee": "E2"}, 422, "employee"),  # unknown field
            (asked(_today + timedelta(days=93), 60), 400, "date")):  # 92 days ahead at most
        status, answer = plant.post("zhang", "", body)
        assert (status, answer.get("field")) == (code, field), (body, answer)
        assert "/" in answer["detail"], answer  # Chinese, then English
    assert "92" in plant.post("zhang", "", asked(_today + timedelta(days=93), 60))[1]["detail"]
    assert plant.post("zhang", "", "{not json")[0] in (400, 422)

    # the edges are allowed: half an hour, 16 hours, 92 days ahead
    assert plant.post("zhang", "", asked(WEDNESDAY, 30))[0] == 201
    assert plant.post("zhang", "", asked(THURSDAY, 16 * 60))[0] == 201
    status, ahead = plant.post("zhang", "", asked(_today + timedelta(days=92), 60))
    assert status == 201 and ahead["date"] == (_today + timedelta(days=92)).isoformat()

    # a day of a closed month is refused, naming the day
    long_ago = (MONDAY - timedelta(days=70)).replace(day=1)
    ClosedMonth.objects.create(site=plant.people["E1"].site, month=long_ago, closed_by="hr")
    status, answer = plant.post("zhang", "", asked(long_ago + timedelta(days=9), 60))
    assert (status, answer["field"]) == (400, "date") and "closed" in answer["detail"], answer

    # only for oneself: a user with no employee record has no requests of their own
    for who in ("root", "hr", "boss"):
        status, answer = plant.post(who, "", asked(FRIDAY, 60))
        assert status == 403 and "没有员工档案" in answer["detail"], (who, answer)
    status, own = plant.post("lead", "", asked(FRIDAY, 60))  # a manager who is an employee asks for their own
    assert status == 201 and own["employee_number"] == "E4"

    assert sorted(OvertimeRequest.objects.values_list("employee__number", "minutes")) == [
        ("E1", 30), ("E1", 60), ("E1", 150), ("E1", 960), ("E2", 60), ("E4", 60)]
    assert AuditEntry.objects.filter(action="attendance.overtime_request_filed").count() == 6


def test_the_list_filters_pages_and_keeps_to_the_callers_scope(plant: Plant) -> None:
    e1, e2, e3, e4, e9 = (plant.people[n] for n in ("E1", "E2", "E3", "E4", "E9"))
    a = file_overtime(e1, MONDAY, 60, reason="a", actor="zhang")
    b = file_overtime(e3, TUESDAY, 90, reason="b", actor="wang")
    c = file_overtime(e2, WEDNESDAY, 120, reason="c", actor="li")
    d = file_overtime(e1, THURSDAY, 30, reason="d", actor="zhang")
    e = file_overtime(e9, MONDAY, 60, reason="e", actor="zhao")
    f = file_overtime(e4, TUESDAY, 60, reason="f", actor="lead")
    assert plant.post("zhang", f"/{d.pk}/withdrawal", {})[0] == 200

    # by day, then by id: Monday a and e, Tuesday b and f, Wednesday c, Thursday d
    status, body = plant.get("root")
    assert status == 200 and body["next_cursor"] is None
    assert _ids(body) == [a.pk, e.pk, b.pk, f.pk, c.pk, d.pk]
    item = body["items"][2]
    assert (item["employee_number"], item["employee_name"], item["site"], item["department"]) == ("E3", "王五", "s1", "包装")
    assert (item["date"], item["minutes"], item["reason"], item["state"]) == (TUESDAY.isoformat(), 90, "b", "pending")
    assert body["items"][4]["department"] == "装配" and body["items"][1]["department"] == ""  # 赵六 has none
    assert (body["items"][5]["state"], body["items"][5]["approved_by"]) == ("withdrawn", "zhang")
    seen, pages = every_page(lambda **params: plant.get("root", **params), limit=2)
    assert pages == 3 and seen == body["items"]

    assert _ids(plant.get("root", **{"from": TUESDAY.isoformat(), "to": WEDNESDAY.isoformat()})[1]) == [b.pk, f.pk, c.pk]
    assert _ids(plant.get("root", **{"from": WEDNESDAY.isoformat()})[1]) == [c.pk, d.pk]
    assert _ids(plant.get("root", to=MONDAY.isoformat())[1]) == [a.pk, e.pk]
    assert _ids(plant.get("root", state="withdrawn")[1]) == [d.pk]
    assert _ids(plant.get("root", state="pending")[1]) == [a.pk, e.pk, b.pk, f.pk, c.pk]
    assert _ids(plant.get("root", employee="E1")[1]) == [a.pk, d.pk]
    assert _ids(plant.get("root", department="包装")[1]) == [b.pk]
    assert _ids(plant.get("root", department="装配")[1]) == [a.pk, f.pk, c.pk, d.pk]
    assert _ids(plant.get("root", site="s2")[1]) == [e.pk]
    assert _ids(plant.get("root", site="s1", department="装配", employee="E2", state="pending")[1]) == [c.pk]

    # scope: a manager sees their department only, HR their site, an employee their own
    assert _ids(plant.get("boss")[1]) == [a.pk, f.pk, c.pk, d.pk]
    assert _ids(plant.get("boss", employee="E3")[1]) == []
    assert _ids(plant.get("boss", department="包装")[1]) == []
    assert _ids(plant.get("pack_boss")[1]) == [b.pk]
    assert _ids(plant.get("lead")[1]) == [a.pk, f.pk, c.pk, d.pk]
    assert _ids(plant.get("hr")[1]) == [a.pk, b.pk, f.pk, c.pk, d.pk]
    assert _ids(plant.get("hr", site="s2")[1]) == []
    assert _ids(plant.get("hr_b")[1]) == [e.pk]
    assert _ids(plant.get("zhang")[1]) == [a.pk, d.pk]
    assert _ids(plant.get("li")[1]) == [c.pk]
    assert _ids(plant.get("zhao")[1]) == [e.pk]
    # what a caller does not see is not there for them to decide either
    for who, request in (("boss", b), ("pack_boss", a), ("hr_b", a), ("hr", e), ("li", a)):
        status, answer = plant.post(who, f"/{request.pk}/decision", {"decision": "approve"})
        assert status == 404 and "/" in answer["detail"], (who, answer)
    assert OvertimeRequest.objects.filter(state="pending").count() == 5

    for params, field in (({"from": "2026-02-30"}, "from"), ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
                          ({"cursor": "WyJub3QtYS1kYXRlIiwiYWJjIl0"}, "cursor"), ({"state": "maybe"}, "state"),
                          ({"limit": 0}, "limit"), ({"employee": "E 1"}, "employee")):
        status, body = plant.get("root", **params)
        assert status in (400, 422) and body["field"] == field, (params, body)
        assert "/" in body["detail"]


def test_approved_the_days_overtime_up_to_the_minutes_asked_is_approved_and_rejected_it_still_waits(
        plant: Plant) -> None:
    worked("E1", TUESDAY, time(20, 0))  # 18:00 to 20:00: 120 minutes over
    worked("E1", WEDNESDAY, time(21, 10))  # 190 minutes over, rounded down to half hours: 180
    worked("E2", TUESDAY, time(20, 0))  # 120
    recompute(MONDAY, FRIDAY)
    assert plant.overtime("E1", TUESDAY) == (120, "pending")
    assert plant.overtime("E1", WEDNESDAY) == (180, "pending")
    assert plant.overtime("E2", TUESDAY) == (120, "pending")

    tuesday = plant.post("zhang", "", asked(TUESDAY, 150))[1]  # more than was worked
    wednesday = plant.post("zhang", "", asked(WEDNESDAY, 120))[1]  # less than was worked
    rejected = plant.post("li", "", asked(TUESDAY, 120))[1]  # as much as was worked
    assert plant.overtime("E1", TUESDAY) == (120, "pending"), "asked for, not yet approved: it still waits"

    status, decided = plant.post("boss", f"/{tuesday['id']}/decision", {"decision": "approve"})
    assert status == 200, decided
    assert (decided["state"], decided["approved_by"], decided["minutes"]) == ("approved", "boss", 150)
    assert decided["approved_at"].endswith("Z")
    assert plant.overtime("E1", TUESDAY) == (120, "approved"), "120 worked, 150 asked: no second decision"

    assert plant.post("boss", f"/{wednesday['id']}/decision", {"decision": "approve"})[0] == 200
    assert plant.overtime("E1", WEDNESDAY) == (180, "pending"), "180 worked, 120 asked: more than asked waits"

    status, decided = plant.post("hr", f"/{rejected['id']}/decision", {"decision": "reject"})
    assert status == 200 and (decided["state"], decided["approved_by"]) == ("rejected", "hr")
    assert plant.overtime("E2", TUESDAY) == (120, "pending"), "rejected: the day's overtime waits for its own decision"

    # decided once; the body is approve or reject, nothing else
    status, answer = plant.post("hr", f"/{tuesday['id']}/decision", {"decision": "reject"})
    assert (status, answer["field"]) == (409, "decision") and "already approved" in answer["detail"], answer
    assert plant.post("hr", f"/{rejected['id']}/decision", {"decision": "approve"})[0] == 409
    for body, field in (({"decision": "in_lieu"}, "decision"), ({"decision": "maybe"}, "decision"), ({}, "decision"),
                        ({"decision": "approve", "minutes": 120}, "minutes")):
        status, answer = plant.post("hr", f"/{wednesday['id']}/decision", body)
        assert (status, answer["field"]) == (422, field), (body, answer)
    assert plant.post("hr", "/999999/decision", {"decision": "approve"})[0] == 404
    assert plant.post("hr", "/not-a-number/decision", {"decision": "approve"})[0] == 422

    # the approval holds whenever the day is recomputed
    recompute(MONDAY, FRIDAY)
    assert plant.overtime("E1", TUESDAY) == (120, "approved")
    assert plant.overtime("E1", WEDNESDAY) == (180, "pending")
    # a rejected request leaves the day free to ask again
    status, again = plant.post("li", "", asked(TUESDAY, 120, "再申请 asking again"))
    assert status == 201 and again["state"] == "pending"

    # asked for ahead: approved before the punches come, the overtime worked later needs no decision
    status, ahead = plant.post("zhang", "", asked(THURSDAY, 60))
    assert status == 201 and plant.post("boss", f"/{ahead['id']}/decision", {"decision": "approve"})[0] == 200
    worked("E1", THURSDAY, time(19, 5))  # 65 minutes over: 60 after rounding, as asked
    recompute(THURSDAY, THURSDAY)
    assert plant.overtime("E1", THURSDAY) == (60, "approved")

    assert list(AuditEntry.objects.filter(action__in=("attendance.overtime_request_approved",
                                                      "attendance.overtime_request_rejected"))
                .order_by("seq").values_list("action", "actor", "target")) == [
        ("attendance.overtime_request_approved", "boss", f"E1 {TUESDAY}"),
        ("attendance.overtime_request_approved", "boss", f"E1 {WEDNESDAY}"),
        ("attendance.overtime_request_rejected", "hr", f"E2 {TUESDAY}"),
        ("attendance.overtime_request_approved", "boss", f"E1 {THURSDAY}")]


def test_nobody_decides_their_own_request(plant: Plant) -> None:
    worked("E4", TUESDAY, time(20, 0))
    recompute(TUESDAY, TUESDAY)
    status, own = plant.post("lead", "", asked(TUESDAY, 120))
    assert status == 201
    status, answer = plant.post("lead", f"/{own['id']}/decision", {"decision": "approve"})  # a manager, and it is theirs
    assert status == 403 and "不能审批自己的请求" in answer["detail"] and "your own request" in answer["detail"], answer
    status, mine = plant.post("zhang", "", asked(TUESDAY, 60))
    assert status == 201
    status, answer = plant.post("zhang", f"/{mine['id']}/decision", {"decision": "approve"})  # an employee does not decide
    assert status == 403 and "does not decide" in answer["detail"], answer
    assert set(OvertimeRequest.objects.values_list("state", flat=True)) == {"pending"}
    assert plant.overtime("E4", TUESDAY) == (120, "pending")
    # the other manager of the department decides it
    status, decided = plant.post("boss", f"/{own['id']}/decision", {"decision": "approve"})
    assert status == 200 and (decided["state"], decided["approved_by"]) == ("approved", "boss")
    assert plant.overtime("E4", TUESDAY) == (120, "approved")


def test_the_employee_takes_back_their_own_request_while_it_waits(plant: Plant) -> None:
    status, made = plant.post("zhang", "", asked(WEDNESDAY, 90))
    assert status == 201
    path = f"/{made['id']}/withdrawal"
    status, answer = plant.post("boss", path, {})  # sees it, did not ask for it
    assert status == 403 and "withdraw only your own" in answer["detail"], answer
    assert plant.post("hr", path, {})[0] == 403
    assert plant.post("hr_b", path, {})[0] == 404  # another site's: not there
    assert plant.post("li", path, {})[0] == 404  # a colleague sees only their own
    status, back = plant.post("zhang", path, {})
    assert status == 200 and (back["state"], back["approved_by"], back["minutes"]) == ("withdrawn", "zhang", 90)
    assert back["approved_at"].endswith("Z")
    again = plant.post("zhang", path, {})
    assert again[0] == 409 and again[1]["field"] == "state", again
    assert plant.post("boss", f"/{made['id']}/decision", {"decision": "approve"})[0] == 409  # nobody decides it after
    assert plant.post("zhang", "/999999/withdrawal", {})[0] == 404

    # withdrawn, the day is free to ask again; once approved it can no longer be taken back
    status, second = plant.post("zhang", "", asked(WEDNESDAY, 120))
    assert status == 201
    assert plant.post("boss", f"/{second['id']}/decision", {"decision": "approve"})[0] == 200
    status, answer = plant.post("zhang", f"/{second['id']}/withdrawal", {})
    assert status == 409 and "already approved" in answer["detail"], answer
    assert list(OvertimeRequest.objects.order_by("pk").values_list("state", flat=True)) == ["withdrawn", "approved"]
    assert list(AuditEntry.objects.filter(action__startswith="attendance.overtime_request_").order_by("seq")
                .values_list("action", "actor")) == [
        ("attendance.overtime_request_filed", "zhang"), ("attendance.overtime_request_withdrawn", "zhang"),
        ("attendance.overtime_request_filed", "zhang"), ("attendance.overtime_request_approved", "boss")]


def test_the_openapi_document_lists_the_overtime_request_endpoints() -> None:
    doc = json.loads(Client().get("/api/v1/openapi.json").content)
    assert set(doc["paths"][BASE]) == {"get", "post"}
    for tail in ("decision", "withdrawal"):
        assert set(doc["paths"][f"{BASE}/{{request_id}}/{tail}"]) == {"post"}, tail
    for item in (doc["paths"][BASE], *(doc["paths"][f"{BASE}/{{request_id}}/{t}"] for t in ("decision", "withdrawal"))):
        for op in item.values():
            assert "/" in op["summary"] and "/" in op["description"], op["summary"]
            assert {"401", "403", "404", "422"} <= set(op["responses"]), op["summary"]
    assert {"400", "201"} <= set(doc["paths"][BASE]["post"]["responses"])
    for tail in ("decision", "withdrawal"):
        assert "409" in doc["paths"][f"{BASE}/{{request_id}}/{tail}"]["post"]["responses"], tail
    params = {p["name"]: p for p in doc["paths"][BASE]["get"]["parameters"]}
    assert {"from", "to", "site", "department", "employee", "state", "limit", "cursor"} <= set(params)
    assert all("/" in param["description"] for param in params.values())
    for name in ("OvertimeRequestOut", "OvertimeRequestIn"):
        props = doc["components"]["schemas"][name]["properties"]
        assert all("/" in field.get("description", "") for field in props.values()), name
        assert all("examples" in field for field in props.values()), name
    minutes = doc["components"]["schemas"]["OvertimeRequestIn"]["properties"]["minutes"]
    assert (minutes["minimum"], minutes["maximum"]) == (30, 16 * 60)


def test_time_off_in_lieu_is_asked_for_a_rest_day_only_and_shown_back(plant: Plant) -> None:
    from central.attendance.models import LeaveType

    saturday = MONDAY + timedelta(days=5)
    status, answer = plant.post("zhang", "", asked(saturday, 240) | {"in_lieu": True})
    assert (status, answer["field"]) == (400, "in_lieu") and "还没有调休假别" in answer["detail"], answer
    LeaveType.objects.create(code="comp", name="调休假", in_lieu=True)
    status, answer = plant.post("zhang", "", asked(TUESDAY, 120) | {"in_lieu": True})
    assert (status, answer["field"]) == (400, "in_lieu"), answer
    assert "is a working day (day): overtime after it is paid" in answer["detail"]
    assert plant.post("zhang", "", asked(saturday, 240) | {"in_lieu": "perhaps"})[0] == 422
    status, made = plant.post("zhang", "", asked(saturday, 240) | {"in_lieu": True})
    assert status == 201 and made["in_lieu"] is True, made
    status, paid = plant.post("zhang", "", asked(TUESDAY, 120))
    assert status == 201 and paid["in_lieu"] is False
    status, page = plant.get("hr", employee="E1")
    assert status == 200 and {(i["date"], i["in_lieu"]) for i in page["items"]} == {
        (saturday.isoformat(), True), (TUESDAY.isoformat(), False)}
    assert OvertimeRequest.objects.get(date=saturday).in_lieu
