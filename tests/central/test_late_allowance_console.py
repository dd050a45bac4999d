"""HR sets a site to let go the first two late arrivals of each month of at most 10 minutes (人性化迟到) on the
holidays page; the employee's month and the exceptions list then show which late arrivals were let go. Records
are made by the engine from real punches; what is let go is worked out by hand below.

March 2026 at 一厂 (day shift 09:00–18:00, no grace): E1 arrives at 09:05 on Monday 2, 09:20 on Tuesday 3, 09:08
on Wednesday 4 and 09:03 on Thursday 5, each day leaving at 18:00. Two let go, ≤ 10 minutes: the 2nd (5 min) and
the 4th (8 min); the 3rd is too late (20 min) and uses nothing; the 5th (3 min) comes after the two were used.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from central_support import client_for
from django.urls import reverse

from central.accounts.models import AuditEntry, Role, User
from central.attendance.anomalies import anomalies
from central.attendance.models import AttendanceProfile, ShiftType, SiteCalendar
from central.attendance.services import recompute
from central.ingest.handler import store_punches
from central.people.models import Employee, Site

pytestmark = pytest.mark.django_db
SHANGHAI = timezone(timedelta(hours=8))
CALENDARS = reverse("console:attendance_calendars")
ARRIVALS = {2: time(9, 5), 3: time(9, 20), 4: time(9, 8), 5: time(9, 3)}


@pytest.fixture
def plant() -> dict[str, Any]:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=120, late_grace_min=0, early_grace_min=0)
    e1 = Employee.objects.create(number="E1", name="张三", site=site)
    AttendanceProfile.objects.create(employee=e1, default_shift=day)
    rows = []
    for d, arrival in ARRIVALS.items():
        for i, (at, way) in enumerate(((arrival, "in"), (time(18), "out"))):
            rows.append({"id": f"p{d}{i}", "site": "s1", "device_id": "door", "employee_number": "E1",
                         "direction": way, "method": "card", "score": None,
                         "punched_at": datetime.combine(date(2026, 3, d), at, SHANGHAI), "boot_id": "b",
                         "monotonic_ns": d * 2 + i, "time_source": "ntp", "original_punched_at": None,
                         "restamped_at": None, "batch_id": "b", "received_at": datetime(2026, 3, 20, tzinfo=timezone.utc)})
    store_punches(rows)
    recompute(date(2026, 3, 2), date(2026, 3, 5), actor="test")
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([site])
    return {"site": site, "e1": e1, "hr": client_for(hr), "hr_user": hr}


def settings_post(client: Any, times: str, minutes: str) -> Any:
    return client.post(CALENDARS + "?site=s1", {"site": "s1", "action": "settings", "weekly_rest": ["5", "6"],
                                               "final_wait_h": "168", "late_allowance_times": times,
                                               "late_allowance_min": minutes})


def test_hr_sets_the_allowance_and_the_month_shows_what_it_lets_go(plant: dict[str, Any]) -> None:
    assert settings_post(plant["hr"], "2", "10").status_code == 302
    calendar = SiteCalendar.objects.get(site=plant["site"])
    assert (calendar.late_allowance_times, calendar.late_allowance_min, calendar.weekly_rest) == (2, 10, [5, 6])
    entry = AuditEntry.objects.filter(action="attendance.calendar.update").get()
    assert entry.detail["late_allowance"] == [2, 10]
    page = plant["hr"].get(reverse("console:attendance_month", args=[plant["e1"].pk]), {"month": "2026-03"})
    html = page.content.decode()
    assert html.count("muted let-go") == 2
    for d in (2, 4):  # the two let go
        cell = html.split(f'id="day-2026-03-0{d}"')[1].split('id="day-')[0]
        assert "宽限" in cell and "let-go" in cell, d
    for d in (3, 5):
        cell = html.split(f'id="day-2026-03-0{d}"')[1].split('id="day-')[0]
        assert "muted let-go" not in cell and "text-bad" in cell, d
    late = html.split('id="total-late"')[1].split("</span>")[0]
    assert late.strip(">").startswith("2 /")  # the 3rd and the 5th
    assert "另有宽限 2 次" in html.split('id="total-let-go"')[1].split("</span>")[0]
    shown = plant["hr"].get(CALENDARS + "?site=s1").content.decode()
    assert 'name="late_allowance_times"' in shown and 'value="2"' in shown


def test_the_exceptions_list_accepts_the_late_arrivals_let_go(plant: dict[str, Any]) -> None:
    settings_post(plant["hr"], "2", "10")
    found = {(a.date.day, a.state, a.request_kind) for a in anomalies(plant["hr_user"], date(2026, 3, 1),
                                                                      date(2026, 3, 31), kinds=("late",))}
    assert found == {(2, "accepted", "allowance"), (3, "open", ""), (4, "accepted", "allowance"), (5, "open", "")}
    # a list of the 4th alone still knows the 2nd used one of the two
    only = anomalies(plant["hr_user"], date(2026, 3, 4), date(2026, 3, 5), kinds=("late",))
    assert [(a.date.day, a.state) for a in only] == [(4, "accepted"), (5, "open")]


def test_without_an_allowance_every_late_arrival_counts(plant: dict[str, Any]) -> None:
    states = {a.state for a in anomalies(plant["hr_user"], date(2026, 3, 1), date(2026, 3, 31), kinds=("late",))}
    assert states == {"open"}
    html = plant["hr"].get(reverse("console:attendance_month", args=[plant["e1"].pk]), {"month": "2026-03"}).content.decode()
    assert "muted let-go" not in html and 'id="total-let-go"' not in html


@pytest.mark.parametrize(("times", "minutes", "field"), [("2", "0", "late_allowance_min"), ("32", "5", "late_allowance_times"),
                                                         ("1", "121", "late_allowance_min"), ("-1", "5", "late_allowance_times")])
def test_an_allowance_that_makes_no_sense_is_refused_on_its_field(plant: dict[str, Any], times: str, minutes: str,
                                                                   field: str) -> None:
    answer = settings_post(plant["hr"], times, minutes)
    assert answer.status_code == 200
    html = answer.content.decode()
    assert 'class="field field-error" id="field-' + field + '"' in html
    calendar = SiteCalendar.objects.get(site=plant["site"])
    assert (calendar.late_allowance_times, calendar.late_allowance_min) == (0, 0)
