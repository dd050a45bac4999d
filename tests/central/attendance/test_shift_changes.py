"""Shift changes (调班) and swaps (换班) on the database: asked, answered by the colleague, decided, and then what the
daily records say, each step audited.

The site works Monday to Friday (Saturday and Sunday weekly rest). 张三 (E1) is on the day shift 09:00-18:00 by
default, 李四 (E2) on the night shift 22:00-06:00. Every day below is long final (no terminal at the site).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from central_support import make_user

from central.accounts.models import AuditEntry
from central.attendance import closing
from central.attendance.models import (
    Assignment,
    AttendanceProfile,
    ClosedMonth,
    DailyRecord,
    ShiftChange,
    ShiftType,
    SiteCalendar,
)
from central.attendance.requests import DecisionRefused, decide, withdraw
from central.attendance.rules_cache import read_version
from central.attendance.services import AttendanceError, recompute
from central.attendance.shift_changes import SwapRefused, answer_swap, decide_change, file_change, file_swap
from central.ingest.handler import store_punches
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 20, tzinfo=timezone.utc)


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=timezone(timedelta(hours=8)))


def punches(number: str, *times: datetime) -> None:
    store_punches([{"id": f"{number}-{at.isoformat()}", "site": "s1", "device_id": "door-a", "employee_number": number,
                    "direction": "in", "method": "card", "score": None, "punched_at": at, "boot_id": "b",
                    "monotonic_ns": 0, "time_source": "ntp", "original_punched_at": None, "restamped_at": None,
                    "batch_id": "x", "received_at": NOW} for at in times])


def shift(name: str, start: int, end: int) -> ShiftType:
    return ShiftType.objects.create(name=name, start=time(start), end=time(end), checkin_before_min=60,
                                    checkout_after_min=120, late_grace_min=5, early_grace_min=5,
                                    half_day_below_h=Decimal("6"), absent_below_h=Decimal("2"))


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    day, night = shift("day", 9, 18), shift("night", 22, 6)
    assembly, packing = Department.objects.create(site=site, name="装配"), Department.objects.create(site=site, name="包装")
    zhang = Employee.objects.create(number="E1", name="张三", site=site, department=assembly)
    li = Employee.objects.create(number="E2", name="李四", site=site, department=assembly)
    AttendanceProfile.objects.create(employee=zhang, default_shift=day)
    AttendanceProfile.objects.create(employee=li, default_shift=night)
    return {"site": site, "day": day, "night": night, "zhang": zhang, "li": li, "assembly": assembly,
            "packing": packing}


def records(emp: Employee, day: int) -> list[tuple[str, str, str]]:
    return [(r.shift_name, r.status, r.day_kind) for r in DailyRecord.objects.filter(employee=emp, date=date(2026, 3, day))]


def actions() -> list[str]:
    return list(AuditEntry.objects.filter(action__startswith="attendance.shift_").order_by("seq")
                .values_list("action", flat=True))


def test_a_saturday_worked_for_a_monday_off(plant: dict[str, Any]) -> None:
    zhang = plant["zhang"]
    recompute(date(2026, 3, 6), date(2026, 3, 10), now=NOW)
    assert records(zhang, 9) == [("day", "absent", "workday")]
    assert records(zhang, 7) == []
    saturday = file_change(zhang, date(2026, 3, 7), date(2026, 3, 7), plant["day"], reason="赶货 rush order",
                           actor="E1")
    monday = file_change(zhang, date(2026, 3, 9), date(2026, 3, 9), None, reason="换休 day off for Saturday",
                         actor="E1")
    assert (saturday.was, monday.was) == ("", "day")  # empty: a rest day
    punches("E1", shanghai(7, 8, 58), shanghai(7, 18, 3))
    recompute(date(2026, 3, 6), date(2026, 3, 10), now=NOW)
    assert records(zhang, 7) == [] and records(zhang, 9) == [("day", "absent", "workday")], "pending changes count for nothing"
    before = read_version()
    decide_change(saturday, approve=True, actor="hr", now=NOW)
    decide_change(monday, approve=True, actor="hr", now=NOW)
    assert read_version() != before, "the follower's kept rules are marked changed"
    row = DailyRecord.objects.get(employee=zhang, date=date(2026, 3, 7))
    # worked as a working day: present, and only the 3 minutes after 18:00 are overtime (on a rest day all 545 were)
    assert (row.shift_name, row.status, row.day_kind, row.hours) == ("day", "present", "workday", Decimal("9.08"))
    assert (row.overtime_min, row.overtime_kind) == (3, "workday")
    assert records(zhang, 9) == [], "the absence of the Monday now off is gone"
    assert records(zhang, 10) == [("day", "absent", "workday")]
    assert actions() == ["attendance.shift_change_filed", "attendance.shift_change_filed",
                         "attendance.shift_change_approved", "attendance.shift_change_approved"]


def test_a_change_is_refused_with_its_reason(plant: dict[str, Any]) -> None:
    zhang, day = plant["zhang"], plant["day"]
    cases = [
        (dict(start=date(2026, 3, 3), end=date(2026, 3, 3), shift=plant["night"], reason=" "), "reason"),
        (dict(start=date(2026, 3, 4), end=date(2026, 3, 3), shift=plant["night"], reason="x"), "before the start"),
        (dict(start=date(2026, 3, 1), end=date(2026, 4, 1), shift=plant["night"], reason="x"), "at most 31 days"),
        (dict(start=date(2026, 3, 2), end=date(2026, 3, 6), shift=day, reason="x"), "already day"),
        (dict(start=date(2026, 3, 7), end=date(2026, 3, 8), shift=None, reason="x"), "already 休息 rest"),
    ]
    for kwargs, message in cases:
        with pytest.raises(AttendanceError, match=message):
            file_change(zhang, kwargs["start"], kwargs["end"], kwargs["shift"], reason=kwargs["reason"], actor="E1")
    file_change(zhang, date(2026, 3, 3), date(2026, 3, 4), plant["night"], reason="x", actor="E1")
    with pytest.raises(AttendanceError, match="already has a shift change on 2026-03-03 to 2026-03-04 \\(pending\\)"):
        file_change(zhang, date(2026, 3, 4), date(2026, 3, 5), None, reason="x", actor="E1")
    ClosedMonth.objects.create(site=plant["site"], month=date(2026, 2, 1), closed_by="hr")
    with pytest.raises(closing.MonthClosed, match="February 2026 is closed"):
        file_change(zhang, date(2026, 2, 27), date(2026, 3, 2), None, reason="x", actor="E1")
    assert ShiftChange.objects.count() == 1


def test_a_swap_waits_for_the_colleague_then_the_manager(plant: dict[str, Any]) -> None:
    zhang, li = plant["zhang"], plant["li"]
    zhang_user = make_user("zhang", "employee", employee=zhang)
    li_user = make_user("li", "employee", employee=li)
    manager = make_user("wang", "manager", departments=[plant["assembly"]])
    swap = file_swap(zhang, li, date(2026, 3, 4), reason="孩子生病 child ill in the day", actor="zhang")
    assert (swap.shift, swap.partner_shift, swap.partner_answer) == (plant["night"], plant["day"], "asked")
    with pytest.raises(AttendanceError, match="has not agreed"):
        decide(manager, swap, approve=True)
    with pytest.raises(SwapRefused):
        answer_swap(zhang_user, swap, agree=True)  # the one who asked cannot answer for the colleague
    answer_swap(li_user, swap, agree=True)
    with pytest.raises(AttendanceError, match="already answered"):
        answer_swap(li_user, swap, agree=False)
    punches("E1", shanghai(4, 21, 55), shanghai(5, 6, 4))  # 张三 works the night of the 4th
    punches("E2", shanghai(4, 9, 12), shanghai(4, 18, 0))  # 李四 the day, 12 minutes late
    decide(manager, swap, approve=True)
    assert records(zhang, 4) == [("night", "present", "workday")]
    row = DailyRecord.objects.get(employee=li, date=date(2026, 3, 4))
    assert (row.shift_name, row.status, row.late, row.late_min) == ("day", "present", True, 12)
    recompute(date(2026, 3, 3), date(2026, 3, 5), now=NOW)  # a later whole recompute keeps the swap
    assert records(zhang, 4) == [("night", "present", "workday")] and records(li, 4)[0][0] == "day"
    assert records(zhang, 5) == [("day", "absent", "workday")]
    assert actions() == ["attendance.shift_swap_filed", "attendance.shift_swap_agreed",
                         "attendance.shift_change_approved"]


def test_a_declined_swap_is_rejected_and_the_next_one_can_be_asked(plant: dict[str, Any]) -> None:
    zhang, li = plant["zhang"], plant["li"]
    li_user = make_user("li", "employee", employee=li)
    swap = file_swap(zhang, li, date(2026, 3, 4), reason="x", actor="zhang")
    answer_swap(li_user, swap, agree=False)
    assert (swap.state, swap.partner_answer, swap.approved_by) == ("rejected", "declined", "li")
    again = file_swap(zhang, li, date(2026, 3, 4), reason="x", actor="zhang")
    assert again.state == "pending"
    assert actions() == ["attendance.shift_swap_filed", "attendance.shift_swap_declined", "attendance.shift_swap_filed"]


def test_a_swap_is_refused_when_there_is_nothing_to_swap_or_nobody_to_swap_with(plant: dict[str, Any]) -> None:
    zhang, li, site = plant["zhang"], plant["li"], plant["site"]
    other_site = Site.objects.create(code="s2", name="二厂", time_zone="Asia/Shanghai")
    far = Employee.objects.create(number="E9", name="王五", site=other_site)
    twin = Employee.objects.create(number="E3", name="赵六", site=site)
    AttendanceProfile.objects.create(employee=twin, default_shift=plant["day"])
    with pytest.raises(AttendanceError, match="with yourself"):
        file_swap(zhang, zhang, date(2026, 3, 4), reason="x", actor="zhang")
    with pytest.raises(AttendanceError, match="same site"):
        file_swap(zhang, far, date(2026, 3, 4), reason="x", actor="zhang")
    with pytest.raises(AttendanceError, match="both of you are day"):
        file_swap(zhang, twin, date(2026, 3, 4), reason="x", actor="zhang")
    with pytest.raises(AttendanceError, match="reason"):
        file_swap(zhang, li, date(2026, 3, 4), reason="", actor="zhang")
    file_change(li, date(2026, 3, 4), date(2026, 3, 4), None, reason="x", actor="li")
    with pytest.raises(AttendanceError, match="E2 already has a shift change"):
        file_swap(zhang, li, date(2026, 3, 4), reason="x", actor="zhang")
    li.active = False
    li.save()
    with pytest.raises(AttendanceError, match="active colleague"):
        file_swap(zhang, li, date(2026, 3, 5), reason="x", actor="zhang")


def test_a_swap_whose_schedules_changed_since_cannot_be_approved(plant: dict[str, Any]) -> None:
    zhang, li = plant["zhang"], plant["li"]
    swap = file_swap(zhang, li, date(2026, 3, 4), reason="x", actor="zhang")
    answer_swap(make_user("li", "employee", employee=li), swap, agree=True)
    Assignment.objects.create(employee=li, shift=plant["day"], start=date(2026, 3, 2), end=date(2026, 3, 6))
    with pytest.raises(AttendanceError, match="changed since this swap was asked"):
        decide_change(swap, approve=True, actor="hr", now=NOW)
    swap.refresh_from_db()
    assert swap.state == "pending"
    decide_change(swap, approve=False, actor="hr", now=NOW)
    assert ShiftChange.objects.get(pk=swap.pk).state == "rejected"


def test_who_may_decide_and_withdraw(plant: dict[str, Any]) -> None:
    zhang, li = plant["zhang"], plant["li"]
    li.department = plant["packing"]
    li.save()
    manager = make_user("wang", "manager", departments=[plant["assembly"]])
    hr = make_user("hr", "hr_admin", sites=[plant["site"]])
    zhang_user = make_user("zhang", "employee", employee=zhang)
    li_hr = make_user("li", "hr_admin", sites=[plant["site"]], employee=li)  # 李四 works in HR and is asked
    swap = file_swap(zhang, li, date(2026, 3, 4), reason="x", actor="zhang")
    answer_swap(li_hr, swap, agree=True)
    with pytest.raises(DecisionRefused, match="outside what you manage"):
        decide(manager, swap, approve=True)  # sees 张三, who asked, not 李四
    with pytest.raises(DecisionRefused, match="outside what you manage"):
        decide(make_user("zhou", "manager", departments=[plant["packing"]]), swap, approve=True)  # 李四 only
    with pytest.raises(DecisionRefused, match="does not decide"):
        decide(zhang_user, swap, approve=True)
    with pytest.raises(DecisionRefused, match="a swap you are part of"):
        decide(li_hr, swap, approve=True)
    decide(hr, swap, approve=False)
    change = file_change(zhang, date(2026, 3, 9), date(2026, 3, 9), None, reason="x", actor="zhang")
    with pytest.raises(DecisionRefused, match="only your own"):
        withdraw(li_hr, change)
    withdraw(zhang_user, change)
    assert ShiftChange.objects.get(pk=change.pk).state == "withdrawn"
    with pytest.raises(AttendanceError, match="already withdrawn"):
        decide(hr, change, approve=True)


def test_a_month_with_a_change_waiting_cannot_close(plant: dict[str, Any]) -> None:
    file_change(plant["zhang"], date(2026, 3, 30), date(2026, 3, 30), None, reason="x", actor="zhang")
    ready = closing.readiness(plant["site"], date(2026, 3, 1), now=datetime(2026, 4, 10, tzinfo=timezone.utc))
    assert "1 条调班待审批 / 1 shift changes waiting for a decision" in ready.blockers
