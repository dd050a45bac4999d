"""The live dashboard's reads (central.live.selectors) on a generated day (dashboard_day.py): the numbers of the
presence rules and of the engine's records, per role's scope, with the site and department filters, and the
devices, events and provisional days. Runs on SQLite and, with --central-db=postgresql, on PostgreSQL."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from central.accounts.models import Role, User
from central.attendance.models import DailyRecord
from central.live import selectors
from central.live.selectors import FilterNotFound, Filters, dashboard, filters_for

from .dashboard_day import MONDAY, NOW, TUESDAY, build_day

pytestmark = pytest.mark.django_db


@pytest.fixture
def day(db: Any) -> dict[str, Any]:
    return build_day()


def user(name: str, role: str, *, sites: Any = (), departments: Any = (), employee: Any = None,
         superuser: bool = False) -> User:
    made = User.objects.create_user(name, password="x" * 12, role=role, employee=employee, is_superuser=superuser)
    made.sites.set(sites)
    made.departments.set(departments)
    return made


def numbers(rows: selectors.Capped[selectors.PersonRow]) -> list[str]:
    return [r.number for r in rows.rows]


def test_the_whole_company_counts_match_the_presence_rules_and_the_engines_records(day: dict[str, Any]) -> None:
    board = dashboard(user("root", Role.HR_ADMIN, superuser=True), now=NOW)
    c = board.counts
    assert (c.on_site, c.stale, c.expected, c.arrived, c.waiting, c.on_leave) == (6, 1, 10, 6, 4, 1)
    assert board.employees == 12  # the employee who left is not counted
    assert sorted(numbers(board.waiting)) == ["A4", "Q3", "Q4", "W2"]
    assert {r.minutes for r in board.waiting.rows} == {60}  # 10:00, the shift began at 09:00
    assert numbers(board.stale) == ["Q5"]
    # late today and missing outs of yesterday are the engine's records
    assert [(r.number, r.minutes) for r in board.late.rows] == [("A3", 30), ("A2", 12)]
    engine_late = DailyRecord.objects.filter(date=TUESDAY, late=True)
    assert board.late_today == engine_late.count() == 2
    assert {r.number: r.minutes for r in board.late.rows} == {r.employee.number: r.late_min for r in engine_late}
    assert sorted(numbers(board.missing_out)) == ["A2", "Q2"]
    assert board.missing_out_yesterday == DailyRecord.objects.filter(date=MONDAY, missing_out=True).count()
    # per site and department
    table = {(g.site, g.department): (g.counts.on_site, g.counts.expected, g.counts.arrived, g.counts.waiting,
                                      g.late_today) for g in board.groups}
    assert table == {("一厂", "装配"): (3, 4, 3, 1, 2), ("一厂", "质检"): (2, 4, 2, 2, 0), ("二厂", "仓储"): (1, 2, 1, 1, 0)}


def test_a_business_trip_today_is_counted_with_leave_and_apart_from_those_waited_for(day: dict[str, Any]) -> None:
    from central.attendance.models import LeaveRecord, LeaveType
    from central.people.models import Employee

    trip = LeaveType.objects.create(code="trip", name="出差", on_duty=True)
    LeaveRecord.objects.create(employee=Employee.objects.get(number="A4"), leave_type=trip, start=day["today"],
                               end=day["today"], state="approved")
    board = dashboard(user("root", Role.HR_ADMIN, superuser=True), now=NOW)
    c = board.counts  # A4 was waited for (not arrived); on a trip, no longer expected
    assert (c.expected, c.waiting, c.on_leave, c.on_duty) == (9, 3, 2, 1)
    assert sorted(numbers(board.waiting)) == ["Q3", "Q4", "W2"]


def test_today_is_compared_with_the_same_weekday_of_the_last_four_weeks(day: dict[str, Any]) -> None:
    board = dashboard(user("root", Role.HR_ADMIN, superuser=True), now=NOW)
    compared = board.compared
    weeks = [TUESDAY - timedelta(days=7 * k) for k in range(1, 5)]
    assert [d for d, _ in compared["late"].weeks] == weeks
    assert [n for _, n in compared["late"].weeks] == [1, 1, 1, 1]  # A1 at 09:10 every Tuesday
    assert [n for _, n in compared["present"].weeks] == [2, 2, 2, 2]
    for key, status in (("absent", "absent"), ("on_leave", "on_leave")):
        assert [n for _, n in compared[key].weeks] == [DailyRecord.objects.filter(date=d, status=status).count()
                                                      for d in weeks], key
    assert compared["absent"].weeks[0][1] == 9  # 11 people with a shift, 2 came
    assert compared["late"].today == 2 and compared["late"].average == 1.0 and compared["late"].delta == 1.0
    assert compared["present"].today == DailyRecord.objects.filter(date=TUESDAY, status="present").count()


def test_people_at_work_this_morning_are_not_counted_absent_under_hour_thresholds(day: dict[str, Any]) -> None:
    """With an absent threshold of 1 h, everyone who has only punched in so far (0 h) or did 45 min had a
    provisional 缺勤 until the evening: the "today" row counted the people on site as absent."""
    from central.attendance.models import ShiftType
    from central.attendance.services import recompute

    ShiftType.objects.filter(name="白班").update(absent_below_h=1, half_day_below_h=4)
    recompute(TUESDAY - timedelta(days=35), TUESDAY, now=NOW)
    compared = dashboard(user("root", Role.HR_ADMIN, superuser=True), now=NOW).compared
    # A1 A2 A3 Q2 W1 punched in this morning, Q1 in and out within 45 minutes; A5 is on leave; the rest have not
    # come and today is not final, so nobody is absent yet
    assert compared["absent"].today == 0
    assert compared["present"].today == 6
    today = DailyRecord.objects.filter(date=TUESDAY, source="punches")
    assert sorted(today.values_list("status", "final").distinct()) == [("present", False)]
    # the Tuesdays before are final: A1 and Q1 worked 9 h (present), the other nine with a shift are absent
    assert [n for _, n in compared["present"].weeks] == [2, 2, 2, 2]
    assert [n for _, n in compared["absent"].weeks] == [9, 9, 9, 9]


def test_a_manager_sees_only_the_department_and_an_hr_admin_only_the_site(day: dict[str, Any]) -> None:
    manager = dashboard(user("mg", Role.MANAGER, departments=[day["assembly"]]), now=NOW)
    c = manager.counts
    assert (c.on_site, c.expected, c.arrived, c.waiting, c.on_leave, c.stale) == (3, 4, 3, 1, 1, 0)
    assert numbers(manager.waiting) == ["A4"] and manager.late_today == 2 and numbers(manager.missing_out) == ["A2"]
    assert [(g.site, g.department) for g in manager.groups] == [("一厂", "装配")]
    assert {d.device_id for d in manager.devices} == {"door-1", "door-2"}  # the doors of the department's site
    assert {p.punch.employee_number for p in manager.recent_punches} <= {"A1", "A2", "A3"}
    assert [c.weeks[0][1] for c in manager.comparisons if c.key == "present"] == [1]  # A1 only

    hr = dashboard(user("hr", Role.HR_ADMIN, sites=[day["s2"]]), now=NOW)
    assert (hr.counts.expected, hr.counts.arrived, hr.counts.waiting) == (2, 1, 1)
    assert numbers(hr.waiting) == ["W2"] and hr.late_today == 0 and not hr.devices and not hr.provisional
    assert {p.punch.employee_number for p in hr.recent_punches} == {"W1"}
    assert [s.code for s in hr.sites] == ["s2"]


def test_an_employee_sees_their_own_day_only(day: dict[str, Any]) -> None:
    board = dashboard(user("em", Role.EMPLOYEE, employee=day["people"]["A2"]), now=NOW)
    assert board.self_service and board.employees == 1 and not board.devices and not board.sites
    me = board.my_day.situation if board.my_day else None
    assert me is not None and me.arrived and me.late_min == 12 and me.on_site
    assert board.my_day is not None and [r.date for r in board.my_day.yesterday_missing_out] == [MONDAY]
    assert {p.punch.employee_number for p in board.recent_punches} == {"A2"}


def test_the_site_and_department_filters_stay_inside_the_scope(day: dict[str, Any]) -> None:
    root = user("root", Role.HR_ADMIN, superuser=True)
    quality = dashboard(root, filters_for(root, "", str(day["quality"].pk)), now=NOW)
    assert sorted(numbers(quality.waiting)) == ["Q3", "Q4"] and quality.late_today == 0
    assert (quality.counts.on_site, quality.counts.expected) == (2, 4)  # Q1 left; Q2 and stale Q5 count
    shown = {p.punch.employee_number for p in quality.recent_punches}
    assert shown and all(n.startswith("Q") for n in shown)  # the department's own punches only
    s2 = dashboard(root, filters_for(root, "s2"), now=NOW)
    assert numbers(s2.waiting) == ["W2"] and not s2.devices
    with pytest.raises(FilterNotFound):
        filters_for(root, "s1", str(day["store"].pk))  # a department of another site
    manager = user("mg", Role.MANAGER, departments=[day["assembly"]])
    with pytest.raises(FilterNotFound):
        filters_for(manager, "", str(day["quality"].pk))
    with pytest.raises(FilterNotFound):
        filters_for(user("hr", Role.HR_ADMIN, sites=[day["s2"]]), "s1")
    assert filters_for(manager, "s1") == Filters(day["s1"], None)


def test_devices_show_their_state_and_the_events_of_the_last_hour(day: dict[str, Any]) -> None:
    board = dashboard(user("root", Role.HR_ADMIN, superuser=True), now=NOW)
    doors = {d.device_id: d for d in board.devices}
    one, two = doors["door-1"], doors["door-2"]
    assert (board.devices_online, board.devices_offline) == (1, 1)
    assert (one.online, one.queue_depth, one.clock_offset_s, one.offset_warn) == (False, 12, 3.5, True)
    assert (two.online, two.queue_depth, two.offset_warn) == (True, 0, False)
    assert one.events == []  # its spoof attempt was two hours ago
    assert [(kind, n) for kind, _, n in two.events] == [("tailgating", 2), ("unknown_face", 1)]  # not the roster
    assert board.events_last_hour == 3


def test_days_not_final_yet_name_the_terminal_that_holds_them_back(day: dict[str, Any]) -> None:
    board = dashboard(user("root", Role.HR_ADMIN, superuser=True), now=NOW)
    assert len(board.provisional) == 1
    held = board.provisional[0]
    waiting_days = DailyRecord.objects.filter(final=False, date__lt=TUESDAY)
    assert held.site == "一厂" and held.days == [(MONDAY, waiting_days.filter(date=MONDAY).count())]
    assert {r.date for r in waiting_days} == {MONDAY}
    assert [h.device_id for h in held.holders] == ["door-1"]  # door-2 reported an empty outbox this morning


def test_the_pages_answer_with_the_filters_and_refuse_one_outside_the_scope(day: dict[str, Any]) -> None:
    client = Client()
    client.force_login(user("mg", Role.MANAGER, departments=[day["assembly"]]))
    page = client.get(reverse("console:home"))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'hx-trigger="every 2s"' in text and 'id="groups"' in text  # the live part is on the page
    assert "装配" in text and "质检" not in text and "黄敏" not in text  # the department's rows, not 质检's
    live = client.get(reverse("console:dashboard_live"), {"site": "s1", "department": day["assembly"].pk})
    assert live.status_code == 200
    body = live.content.decode()
    assert f'?site=s1&amp;department={day["assembly"].pk}"' in body and 'hx-trigger="every 2s"' in body
    assert "<html" not in body  # a part, not a page
    assert "赵军" not in body and "黄敏" not in body  # 质检's people
    assert client.get(reverse("console:home"), {"department": day["quality"].pk}).status_code == 404
    assert client.get(reverse("console:dashboard_live"), {"site": "s2"}).status_code == 404


def test_the_number_of_queries_does_not_grow_with_the_employees(day: dict[str, Any]) -> None:
    from central.people.models import Employee

    root = user("root", Role.HR_ADMIN, superuser=True)
    with CaptureQueriesContext(connection) as before:
        dashboard(root, now=NOW)
    for i in range(40):
        Employee.objects.create(number=f"X{i:03d}", name=f"新人{i}", site=day["s1"], department=day["quality"])
    with CaptureQueriesContext(connection) as after:
        board = dashboard(root, now=NOW)
    assert board.employees == 52
    assert len(after) == len(before) <= 40, [q["sql"][:120] for q in after.captured_queries]
