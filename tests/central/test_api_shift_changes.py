"""/api/v1/attendance/shift-changes: shift changes (调班) and swaps (换班) through the REST API, as a company's own app
or chat bot asks for its user: asked, answered by the colleague, decided, taken back; listed with filters, pages and
scope; hostile bodies refused naming their field. Runs on SQLite and PostgreSQL.

Site 一厂 (s1, Asia/Shanghai) works Monday to Friday. 张三 (E1, 装配) is on the day shift 09:00-18:00 by default,
李四 (E2, 装配) on the night shift 22:00-06:00, 王五 (E3, 包装) on the day shift. Site 二厂 (s2) has 赵六 (E9). Every
day used is a few weeks in the past, so the engine computes it as a day that happened.
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
from central.attendance.models import AttendanceProfile, DailyRecord, ShiftChange, ShiftType, SiteCalendar
from central.attendance.services import recompute
from central.attendance.shift_changes import file_change, file_swap
from central.ingest.handler import store_punches
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
_today = timezone.localdate()
MONDAY = _today - timedelta(days=_today.weekday(), weeks=4)  # four weeks back: every day below is over
WEDNESDAY, SATURDAY = MONDAY + timedelta(days=2), MONDAY + timedelta(days=5)


def shift(name: str, start: int, end: int) -> ShiftType:
    return ShiftType.objects.create(name=name, start=time(start), end=time(end), checkin_before_min=60,
                                    checkout_after_min=120, late_grace_min=5, early_grace_min=5,
                                    half_day_below_h=Decimal("6"), absent_below_h=Decimal("2"))


class Plant:
    def __init__(self) -> None:
        s1 = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
        s2 = Site.objects.create(code="s2", name="二厂", time_zone="Asia/Shanghai")
        for site in (s1, s2):
            SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
        self.day, self.night = shift("day", 9, 18), shift("night", 22, 6)
        assembly = Department.objects.create(site=s1, name="装配")
        packing = Department.objects.create(site=s1, name="包装")
        self.people: dict[str, Employee] = {}
        for number, name, site, dept, default in (("E1", "张三", s1, assembly, self.day),
                                                  ("E2", "李四", s1, assembly, self.night),
                                                  ("E3", "王五", s1, packing, self.day),
                                                  ("E9", "赵六", s2, None, self.day)):
            emp = Employee.objects.create(number=number, name=name, site=site, department=dept)
            AttendanceProfile.objects.create(employee=emp, default_shift=default)
            self.people[number] = emp
        self.tokens: dict[str, str] = {}
        self.user("root", Role.HR_ADMIN, superuser=True)
        self.user("hr", Role.HR_ADMIN, sites=[s1])
        self.user("hr_b", Role.HR_ADMIN, sites=[s2])
        self.user("boss", Role.MANAGER, departments=[assembly])
        self.user("pack_boss", Role.MANAGER, departments=[packing])
        self.user("zhang", Role.EMPLOYEE, employee=self.people["E1"])
        self.user("li", Role.EMPLOYEE, employee=self.people["E2"])
        self.user("wang", Role.EMPLOYEE, employee=self.people["E3"])
        self.user("zhao", Role.EMPLOYEE, employee=self.people["E9"])

    def user(self, name: str, role: str, **grants: Any) -> None:
        self.tokens[name] = token_for(name, role, **grants)

    def get(self, who: str, **params: Any) -> tuple[int, Any]:
        response = Client().get(f"/api/v1/attendance/shift-changes?{urlencode(params)}",
                                HTTP_AUTHORIZATION=f"Bearer {self.tokens[who]}")
        assert response["Content-Type"].startswith("application/json")
        return response.status_code, json.loads(response.content)

    def post(self, who: str, path: str, body: Any) -> tuple[int, Any]:
        response = Client().post(f"/api/v1/attendance/shift-changes{path}",
                                 body if isinstance(body, str) else json.dumps(body), content_type="application/json",
                                 HTTP_AUTHORIZATION=f"Bearer {self.tokens[who]}")
        assert response["Content-Type"].startswith("application/json")
        return response.status_code, json.loads(response.content)

    def records(self, number: str, day: date) -> list[tuple[str, str]]:
        return sorted((r.shift_name, r.status) for r in DailyRecord.objects.filter(employee=self.people[number], date=day))


@pytest.fixture
def plant() -> Plant:
    return Plant()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def punches(number: str, *times: datetime) -> None:
    store_punches([{"id": f"{number}-{moment.isoformat()}", "site": "s1", "device_id": "door-a",
                    "employee_number": number, "direction": "in", "method": "card", "score": None,
                    "punched_at": moment, "boot_id": "b", "monotonic_ns": 0, "time_source": "ntp",
                    "original_punched_at": None, "restamped_at": None, "batch_id": "x",
                    "received_at": timezone.now()} for moment in times])


def test_a_swap_is_asked_answered_by_the_colleague_and_decided_and_the_days_follow_it(plant: Plant) -> None:
    day = WEDNESDAY
    punches("E1", at(day, 21, 55), at(day + timedelta(days=1), 6, 4))  # 张三 works the night
    punches("E2", at(day, 9, 12), at(day, 18, 0))  # 李四 the day, 12 minutes late
    recompute(day, day)
    assert plant.records("E1", day)[0][0] == "day" and plant.records("E2", day)[0][0] == "night"

    status, swap = plant.post("zhang", "", {"day": day.isoformat(), "partner": "E2", "reason": "孩子生病 child ill"})
    assert status == 201, swap
    assert (swap["employee_number"], swap["employee_name"], swap["site"], swap["department"]) == ("E1", "张三", "s1", "装配")
    assert (swap["start"], swap["end"], swap["shift"], swap["was"]) == (day.isoformat(), day.isoformat(), "night", "day")
    assert (swap["partner"], swap["partner_shift"], swap["partner_answer"]) == ("E2", "day", "asked")
    assert (swap["state"], swap["reason"], swap["approved_by"], swap["approved_at"]) == ("pending", "孩子生病 child ill", "", None)
    assert swap["created_at"].endswith("Z")
    path = f"/{swap['id']}"

    status, answer = plant.post("boss", f"{path}/decision", {"decision": "approve"})  # the colleague has not agreed
    assert status == 409 and answer["field"] == "decision" and "not agreed" in answer["detail"]
    for who in ("zhang", "boss", "hr"):  # only the colleague asked answers, whoever else sees it
        status, answer = plant.post(who, f"{path}/answer", {"agree": True})
        assert status == 403 and "Only the colleague" in answer["detail"], (who, answer)
    for who in ("hr_b", "zhao", "wang"):  # not theirs to see: as if it did not exist
        assert plant.post(who, f"{path}/answer", {"agree": True})[0] == 404, who
    assert plant.post("li", f"{path}/answer", {"agree": "yes"})[0] == 422
    status, answered = plant.post("li", f"{path}/answer", {"agree": True})
    assert status == 200 and (answered["partner_answer"], answered["state"]) == ("agreed", "pending")
    status, answer = plant.post("li", f"{path}/answer", {"agree": False})
    assert status == 409 and answer["field"] == "partner_answer"
    assert plant.post("li", f"{path}/decision", {"decision": "approve"})[0] == 403  # an employee does not decide
    assert plant.post("li", f"{path}/withdrawal", {})[0] == 403  # the colleague declines, never withdraws
    assert plant.post("pack_boss", f"{path}/decision", {"decision": "approve"})[0] == 404  # another department's

    status, decided = plant.post("boss", f"{path}/decision", {"decision": "approve"})
    assert status == 200 and (decided["state"], decided["approved_by"]) == ("approved", "boss")
    assert decided["approved_at"].endswith("Z")
    assert plant.records("E1", day) == [("night", "present")]
    row = DailyRecord.objects.get(employee=plant.people["E2"], date=day)
    assert (row.shift_name, row.status, row.late, row.late_min) == ("day", "present", True, 12)
    status, answer = plant.post("hr", f"{path}/decision", {"decision": "reject"})
    assert status == 409 and "already approved" in answer["detail"]
    assert plant.post("zhang", f"{path}/withdrawal", {})[0] == 409
    assert list(AuditEntry.objects.filter(action__startswith="attendance.shift_").order_by("seq")
                .values_list("action", "actor")) == [("attendance.shift_swap_filed", "zhang"),
                                                     ("attendance.shift_swap_agreed", "li"),
                                                     ("attendance.shift_change_approved", "boss")]


def test_a_declined_swap_is_rejected_by_the_colleague(plant: Plant) -> None:
    status, swap = plant.post("zhang", "", {"day": WEDNESDAY.isoformat(), "partner": "E2", "reason": "x"})
    assert status == 201
    status, declined = plant.post("li", f"/{swap['id']}/answer", {"agree": False})
    assert status == 200 and (declined["state"], declined["partner_answer"], declined["approved_by"]) == (
        "rejected", "declined", "li")
    assert plant.post("boss", f"/{swap['id']}/decision", {"decision": "approve"})[0] == 409


def test_a_day_off_and_a_saturday_worked(plant: Plant) -> None:
    monday = MONDAY + timedelta(weeks=1)
    recompute(monday - timedelta(days=2), monday)
    assert plant.records("E1", monday) == [("day", "absent")] and plant.records("E1", monday - timedelta(days=2)) == []
    status, off = plant.post("zhang", "", {"start": monday.isoformat(), "end": monday.isoformat(), "shift": None,
                                           "reason": "换休 day off for Saturday"})
    assert status == 201, off
    assert (off["shift"], off["was"], off["partner"], off["partner_shift"], off["partner_answer"]) == (
        None, "day", None, None, None)
    saturday = monday - timedelta(days=2)
    status, worked = plant.post("zhang", "", {"start": saturday.isoformat(), "end": saturday.isoformat(), "shift": "day",
                                              "reason": "赶货 rush order"})
    assert status == 201 and (worked["shift"], worked["was"]) == ("day", "")  # empty: a rest day
    assert plant.post("li", f"/{off['id']}/answer", {"agree": True})[0] == 404  # li sees only their own
    assert plant.post("boss", f"/{off['id']}/answer", {"agree": True})[0] == 403  # a change asks no colleague
    assert plant.post("zhang", f"/{off['id']}/decision", {"decision": "approve"})[0] == 403  # their own
    status, answer = plant.post("hr", f"/{off['id']}/decision", {"decision": "in_lieu"})  # only overtime, as for leave
    assert status == 422 and answer["field"] == "decision"
    status, decided = plant.post("hr", f"/{off['id']}/decision", {"decision": "approve"})
    assert status == 200 and (decided["state"], decided["approved_by"]) == ("approved", "hr")
    assert plant.records("E1", monday) == [], "the Monday now off is no absence"
    assert plant.records("E1", saturday) == [], "pending: the Saturday is still a rest day"
    status, decided = plant.post("boss", f"/{worked['id']}/decision", {"decision": "approve"})
    assert status == 200
    assert plant.records("E1", saturday) == [("day", "absent")], "a working day now, and nobody punched"
    assert plant.post("boss", f"/{worked['id']}/decision", {"decision": "approve"})[0] == 409  # once

    # taken back while it waits, only by the one who asked
    status, later = plant.post("zhang", "", {"start": (monday + timedelta(days=1)).isoformat(),
                                             "end": (monday + timedelta(days=2)).isoformat(), "shift": "night",
                                             "reason": "x"})
    assert status == 201 and later["was"] == "day"
    assert plant.post("boss", f"/{later['id']}/withdrawal", {})[0] == 403
    assert plant.post("hr_b", f"/{later['id']}/withdrawal", {})[0] == 404
    status, back = plant.post("zhang", f"/{later['id']}/withdrawal", {})
    assert status == 200 and (back["state"], back["approved_by"]) == ("withdrawn", "zhang")
    again = plant.post("zhang", f"/{later['id']}/withdrawal", {})
    assert again[0] == 409 and again[1]["field"] == "state"
    assert plant.post("zhang", "/999999/withdrawal", {})[0] == 404


def _ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["items"]]


def test_the_list_filters_pages_and_keeps_to_the_callers_scope(plant: Plant) -> None:
    e1, e2, e3, e9 = (plant.people[n] for n in ("E1", "E2", "E3", "E9"))
    first = file_change(e1, MONDAY, MONDAY, None, reason="a", actor="zhang")
    packing = file_change(e3, MONDAY + timedelta(days=1), MONDAY + timedelta(days=1), plant.night, reason="b",
                          actor="wang")
    swap = file_swap(e3, e2, WEDNESDAY, reason="c", actor="wang")  # 王五 of 包装 asks 李四 of 装配
    later = file_change(e1, MONDAY + timedelta(weeks=1), MONDAY + timedelta(weeks=1, days=2), plant.night, reason="d",
                        actor="zhang")
    far = file_change(e9, MONDAY, MONDAY, None, reason="e", actor="zhao")
    assert plant.post("zhang", f"/{later.pk}/withdrawal", {})[0] == 200

    status, body = plant.get("root")
    assert status == 200 and body["next_cursor"] is None
    assert sorted(_ids(body)) == sorted(x.pk for x in (first, packing, swap, later, far))
    assert [(i["start"], i["id"]) for i in body["items"]] == sorted((i["start"], i["id"]) for i in body["items"])
    seen, pages = every_page(lambda **params: plant.get("root", **params), limit=2)
    assert pages == 3 and seen == body["items"]

    # from/to select the changes overlapping them: a day inside the withdrawn change's span finds it, and only it
    inside = (MONDAY + timedelta(weeks=1, days=1)).isoformat()
    assert _ids(plant.get("root", **{"from": inside})[1]) == [later.pk]
    assert sorted(_ids(plant.get("root", **{"from": MONDAY.isoformat(), "to": WEDNESDAY.isoformat()})[1])) == sorted(
        [first.pk, packing.pk, swap.pk, far.pk])
    assert _ids(plant.get("root", state="withdrawn")[1]) == [later.pk]
    assert _ids(plant.get("root", employee="E2")[1]) == [swap.pk]  # 李四 is the colleague of the swap
    assert _ids(plant.get("root", department="包装")[1]) == [packing.pk, swap.pk]
    assert _ids(plant.get("root", department="装配")[1]) == [first.pk, swap.pk, later.pk]
    assert _ids(plant.get("root", site="s2")[1]) == [far.pk]
    [item] = plant.get("root", employee="E2")[1]["items"]
    assert (item["employee_number"], item["department"], item["partner"], item["partner_answer"]) == (
        "E3", "包装", "E2", "asked")

    # scope: each sees the changes of the employees they see, a swap through either of its two
    assert sorted(_ids(plant.get("hr")[1])) == sorted(x.pk for x in (first, packing, swap, later))
    assert _ids(plant.get("hr", site="s2")[1]) == []
    assert _ids(plant.get("hr_b")[1]) == [far.pk]
    assert _ids(plant.get("boss")[1]) == [first.pk, swap.pk, later.pk]
    assert _ids(plant.get("pack_boss")[1]) == [packing.pk, swap.pk]
    assert _ids(plant.get("li")[1]) == [swap.pk]
    assert _ids(plant.get("zhang")[1]) == [first.pk, later.pk]
    assert _ids(plant.get("zhao")[1]) == [far.pk]
    for who, change in (("boss", packing), ("pack_boss", first), ("hr_b", first), ("hr", far)):
        status, answer = plant.post(who, f"/{change.pk}/decision", {"decision": "approve"})
        assert status == 404 and "/" in answer["detail"], (who, answer)
    assert ShiftChange.objects.filter(state="pending").count() == 4

    for params, field in (({"from": "2026-02-30"}, "from"), ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
                          ({"cursor": "WyJub3QtYS1kYXRlIiwiYWJjIl0"}, "cursor"), ({"state": "maybe"}, "state"),
                          ({"limit": 0}, "limit")):
        status, body = plant.get("root", **params)
        assert status in (400, 422) and body["field"] == field, (params, body)


def test_hostile_bodies_are_refused_naming_their_field_and_file_nothing(plant: Plant) -> None:
    start, end = WEDNESDAY.isoformat(), (WEDNESDAY + timedelta(days=1)).isoformat()
    change = {"start": start, "end": end, "shift": "night", "reason": "x"}
    swap = {"day": start, "partner": "E2", "reason": "x"}
    status, unknown = plant.post("zhang", "", {**swap, "partner": "NOBODY"})
    status_far, elsewhere = plant.post("zhang", "", {**swap, "partner": "E9"})  # exists, at another site
    assert (status, unknown["field"]) == (status_far, elsewhere["field"]) == (400, "partner")
    assert unknown == elsewhere, "an unknown number and one elsewhere read the same"
    for body, code, field, says in (
            ({**change, "start": "2026-02-30"}, 422, "start", None),
            ({**change, "end": "tomorrow"}, 422, "end", None),
            ({**change, "end": (WEDNESDAY - timedelta(days=1)).isoformat()}, 400, "end", "before the start"),
            ({**change, "end": (WEDNESDAY + timedelta(days=39)).isoformat()}, 400, "end", "at most 31 days"),
            ({**change, "shift": "夜班 Nights"}, 400, "shift", "No shift is named 夜班 Nights"),
            ({k: v for k, v in change.items() if k != "shift"}, 400, "shift", "null to rest"),
            ({k: v for k, v in change.items() if k != "end"}, 400, "end", "required"),
            ({**change, "shift": "day"}, 400, "end", "nothing to change"),
            ({**change, "reason": "x" * 501}, 422, "reason", None),
            ({**change, "reason": "   "}, 422, "reason", None),
            ({**change, "reason": "a\x00b"}, 422, "reason", None),
            ({k: v for k, v in change.items() if k != "reason"}, 422, "reason", None),
            ({**change, **swap}, 400, "start", "not both"),
            ({**swap, "shift": None}, 400, "shift", "not both"),
            ({k: v for k, v in swap.items() if k != "partner"}, 400, "partner", "required for a swap"),
            ({k: v for k, v in swap.items() if k != "day"}, 400, "day", "required for a swap"),
            ({**swap, "partner": "E1"}, 400, "partner", "with yourself"),
            ({**swap, "partner": "E3"}, 400, "day", "both of you are day"),  # that day, nothing differs
            ({**swap, "partner": "x" * 33}, 422, "partner", None),
            ({**swap, "employee": "E2"}, 422, "employee", "unknown field"),
            ({"reason": "x"}, 400, "start", "required")):
        status, answer = plant.post("zhang", "", body)
        assert (status, answer.get("field")) == (code, field), (body, answer)
        assert "/" in answer["detail"] and (says is None or says in answer["detail"]), (body, answer)
    assert plant.post("zhang", "", "{not json")[0] in (400, 422)
    status, answer = plant.post("root", "", change)  # no employee record: no requests of one's own
    assert status == 403 and "没有员工档案" in answer["detail"]
    assert ShiftChange.objects.count() == 0
    for body in ({"decision": "maybe"}, {}, {"decision": "approve", "x": 1}):
        assert plant.post("hr", "/1/decision", body)[0] == 422
    assert plant.post("hr", "/not-a-number/decision", {"decision": "approve"})[0] == 422


def test_the_openapi_document_lists_the_shift_change_endpoints() -> None:
    doc = json.loads(Client().get("/api/v1/openapi.json").content)
    base = "/api/v1/attendance/shift-changes"
    assert set(doc["paths"][base]) == {"get", "post"}
    for tail in ("answer", "decision", "withdrawal"):
        assert set(doc["paths"][f"{base}/{{change_id}}/{tail}"]) == {"post"}, tail
    for item in (doc["paths"][base], *(doc["paths"][f"{base}/{{change_id}}/{t}"] for t in ("answer", "decision",
                                                                                           "withdrawal"))):
        for op in item.values():
            assert "/" in op["summary"] and "/" in op["description"] and "403" in op["responses"], op["summary"]
    assert {"400", "201"} <= set(doc["paths"][base]["post"]["responses"])
    assert "409" in doc["paths"][f"{base}/{{change_id}}/answer"]["post"]["responses"]
    params = {p["name"]: p for p in doc["paths"][base]["get"]["parameters"]}
    assert {"from", "to", "site", "department", "employee", "state", "limit", "cursor"} <= set(params)
    for name in ("ShiftChangeOut", "ShiftChangeIn", "SwapAnswerIn"):
        props = doc["components"]["schemas"][name]["properties"]
        assert all("/" in field.get("description", "") for field in props.values()), name
        assert all("examples" in field for field in props.values()), name


def test_whoever_decides_a_swap_sees_both_employees(plant: Plant) -> None:
    """A swap shows to whoever sees either employee, but only someone who sees both decides it."""
    swap = file_swap(plant.people["E3"], plant.people["E2"], WEDNESDAY, reason="c", actor="wang")  # 包装 asks 装配
    assert plant.post("li", f"/{swap.pk}/answer", {"agree": True})[0] == 200
    for who in ("boss", "pack_boss"):  # 装配's manager sees only 李四, 包装's only 王五
        status, answer = plant.post(who, f"/{swap.pk}/decision", {"decision": "approve"})
        assert status == 403 and "HR decides it" in answer["detail"], (who, answer)
    assert ShiftChange.objects.get(pk=swap.pk).state == "pending"
    status, decided = plant.post("hr", f"/{swap.pk}/decision", {"decision": "approve"})
    assert status == 200 and (decided["state"], decided["approved_by"]) == ("approved", "hr")
    assert plant.records("E3", WEDNESDAY) == [("night", "absent")] and plant.records("E2", WEDNESDAY) == [
        ("day", "absent")]
