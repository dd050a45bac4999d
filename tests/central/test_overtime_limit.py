"""The monthly overtime line (《劳动法》 第四十一条, 36 hours): what an employee's month counts, and where HR sees it
(the requests page, the employee's month). Overtime made from real punches by the engine, decided through the page,
and read back from the pages' HTML; the expected hours are worked out here by hand."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from central_support import client_for
from django.urls import reverse

from central.accounts.models import Role, User
from central.attendance import overtime_limit
from central.attendance.models import AttendanceProfile, DailyRecord, OvertimeRule, ShiftType
from central.attendance.services import recompute
from central.ingest.handler import store_punches
from central.people.models import Employee, Site

pytestmark = pytest.mark.django_db
SHANGHAI = timezone(timedelta(hours=8))
PAGE, DECIDE = reverse("console:attendance_requests"), reverse("console:attendance_request_decide")
MARCH = [date(2026, 3, d) for d in (2, 3, 4, 5)]  # Monday to Thursday


@pytest.fixture
def plant() -> dict[str, Any]:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    rule = OvertimeRule.objects.create(name="平时加班", min_minutes=30, step_min=30, requires_approval=True,
                                       listed_only=True)
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=240, late_grace_min=0, early_grace_min=0, overtime=rule)
    people = {}
    for number, name, listed in (("E1", "张三", True), ("E2", "李四", True), ("E3", "王五", False)):
        people[number] = Employee.objects.create(number=number, name=name, site=site)
        AttendanceProfile.objects.create(employee=people[number], default_shift=day, overtime_listed=listed)
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([site])
    return {"site": site, "people": people, "hr": client_for(hr)}


def worked_until(number: str, days: list[date], hh: int, mm: int = 0) -> None:
    """In at 08:55, out at hh:mm on each day, through the receiver's own store."""
    rows = []
    for i, day in enumerate(days):
        for j, (at, way) in enumerate(((time(8, 55), "in"), (time(hh, mm), "out"))):
            rows.append({"id": f"{number}-{i}-{j}", "site": "s1", "device_id": "door-a", "employee_number": number,
                         "direction": way, "method": "card", "score": None,
                         "punched_at": datetime.combine(day, at, SHANGHAI), "boot_id": "b", "monotonic_ns": i * 2 + j,
                         "time_source": "ntp", "original_punched_at": None, "restamped_at": None,
                         "batch_id": "b1", "received_at": datetime(2026, 3, 20, tzinfo=timezone.utc)})
    store_punches(rows)


def overtime(number: str, day: date) -> DailyRecord:
    return DailyRecord.objects.get(employee__number=number, date=day)


@pytest.fixture
def month(plant: dict[str, Any]) -> dict[str, Any]:
    """E1 worked till 20:00 on four March days (2 h over each, 120 min after the 30-minute step) and HR approved
    one, rejected one and left two waiting; E1 also has a Saturday taken as time off in lieu (4 h) and 10 h
    approved in February. E3 is not on the overtime list: the same 2 h a day are unpaid."""
    worked_until("E1", MARCH, 20)
    worked_until("E3", MARCH, 20)
    recompute(date(2026, 3, 1), date(2026, 3, 31), actor="test")
    hr = plant["hr"]
    for day, decision in ((MARCH[0], "approve"), (MARCH[1], "reject")):
        rec = overtime("E1", day)
        hr.post(DECIDE, {"kind": "overtime", "id": str(rec.pk), "decision": decision,
                         "minutes": str(rec.overtime_min)})
    e1 = plant["people"]["E1"]
    DailyRecord.objects.create(employee=e1, date=date(2026, 3, 7), shift_name="", status="present", source="manual",
                               hours=4, overtime_min=240, overtime_kind="rest_day", overtime_state="in_lieu")
    DailyRecord.objects.create(employee=e1, date=date(2026, 2, 27), shift_name="day", status="present",
                               source="manual", hours=18, overtime_min=600, overtime_state="approved")
    return plant


def test_the_engine_gave_the_states_the_month_is_counted_from(month: dict[str, Any]) -> None:
    states = [(overtime("E1", d).overtime_min, overtime("E1", d).overtime_state) for d in MARCH]
    assert states == [(120, "approved"), (120, "rejected"), (120, "pending"), (120, "pending")]
    assert {overtime("E3", d).overtime_state for d in MARCH} == {"unpaid"}


def test_a_month_counts_waiting_approved_and_in_lieu_minutes_and_leaves_out_rejected_and_unpaid(
        month: dict[str, Any]) -> None:
    e1, e2, e3 = (month["people"][n].pk for n in ("E1", "E2", "E3"))
    found = overtime_limit.of_months([(e1, date(2026, 3, 15)), (e1, date(2026, 2, 1)), (e2, date(2026, 3, 1)),
                                      (e3, date(2026, 3, 31))])
    # March: approved 120 + waiting 120 + 120 + in lieu 240 (the rejected 120 left out) = 600 min
    assert found[(e1, date(2026, 3, 15))].minutes == 600
    assert found[(e1, date(2026, 3, 15))].hours == Decimal("10.00")
    assert found[(e1, date(2026, 2, 1))].minutes == 600  # February's own record, not March's
    assert found[(e2, date(2026, 3, 1))].minutes == 0
    assert found[(e3, date(2026, 3, 31))].minutes == 0  # not on the list: unpaid, not overtime


def _pending_texts(page: str) -> list[str]:
    rows = re.findall(r'<tr id="request-overtime-\d+">(.*?)</tr>', page, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)) for row in rows]


def test_the_requests_page_gives_each_waiting_overtime_its_month_and_marks_it_past_the_line(
        month: dict[str, Any], settings: Any) -> None:
    settings.OVERTIME_LIMIT_H = 36
    rows = _pending_texts(month["hr"].get(PAGE).content.decode())
    assert len(rows) == 2 and all("本月加班共 10.00 小时（含此条）" in r for r in rows), rows
    assert not any("超过每月" in r for r in rows)
    settings.OVERTIME_LIMIT_H = 9  # 10 h is past a 9-hour line: both waiting days say so
    rows = _pending_texts(month["hr"].get(PAGE).content.decode())
    assert all("超过每月 9 小时" in r for r in rows), rows
    month["hr"].cookies["seed_language"] = "en"
    rows = _pending_texts(month["hr"].get(PAGE).content.decode())
    assert all("10.00 h of overtime this month, this included" in r and "Beyond 9 h a month" in r for r in rows), rows
    settings.OVERTIME_LIMIT_H = 10  # exactly at the line is not past it
    assert not any("超过每月" in r for r in _pending_texts(month["hr"].get(PAGE).content.decode()))


def _line(page: str) -> str:
    found = re.search(r'<span class="sub( over)?" id="overtime-limit"[^>]*>(.*?)</span>', page, re.S)
    return f"{found.group(1) or ''}|{found.group(2)}" if found else ""


def test_the_employees_month_shows_the_counted_hours_against_the_line(month: dict[str, Any], settings: Any) -> None:
    url = reverse("console:attendance_month", args=[month["people"]["E1"].pk])
    settings.OVERTIME_LIMIT_H = 36
    assert _line(month["hr"].get(url, {"month": "2026-03"}).content.decode()) == "|计入月上限 10.00 / 36 小时"
    settings.OVERTIME_LIMIT_H = 8
    assert _line(month["hr"].get(url, {"month": "2026-03"}).content.decode()) == " over|计入月上限 10.00 / 8 小时 · 已超"
    month["hr"].cookies["seed_language"] = "en"
    assert _line(month["hr"].get(url, {"month": "2026-03"}).content.decode()) == " over|10.00 of 8 h a month · Over"
    settings.OVERTIME_LIMIT_H = 0  # no line: nothing measured against it
    assert _line(month["hr"].get(url, {"month": "2026-03"}).content.decode()) == ""


def test_a_decision_moves_the_month_only_when_it_takes_minutes_out(month: dict[str, Any], settings: Any) -> None:
    settings.OVERTIME_LIMIT_H = 36
    e1 = month["people"]["E1"].pk
    before = overtime_limit.of_months([(e1, MARCH[2])])[(e1, MARCH[2])].minutes
    rec = overtime("E1", MARCH[2])
    month["hr"].post(DECIDE, {"kind": "overtime", "id": str(rec.pk), "decision": "approve", "minutes": "120"})
    assert overtime_limit.of_months([(e1, MARCH[2])])[(e1, MARCH[2])].minutes == before  # was counted waiting
    rec = overtime("E1", MARCH[3])
    month["hr"].post(DECIDE, {"kind": "overtime", "id": str(rec.pk), "decision": "reject", "minutes": "120"})
    assert overtime_limit.of_months([(e1, MARCH[3])])[(e1, MARCH[3])].minutes == before - 120
