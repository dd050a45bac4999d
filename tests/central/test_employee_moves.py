"""An employee moved to another department or site (调动) from a day on: the days before keep the old department's
shifts and the old site's calendar however often the month is recomputed, the days from then on take the new ones.
Moves are made the way HR makes them (the employee form, the API); the records are worked by the real engine and
compared with a March worked out by hand below.

March 2026 (the 1st is a Sunday):

* 上海厂 (sh) rests on Saturday and Sunday and has a holiday on Thursday 12 March; 北京厂 (bj) rests on Sunday only.
* 装配 (sh) works the night shift 22:00–06:00, 包装 (sh) and 仓储 (bj) the day shift 09:00–18:00, each by an assignment
  of the whole department from 1 January.
* E1 moves from 装配 at sh to 仓储 at bj from Monday 16 March; E2 from 装配 to 包装, both at sh, from the same day.
* Nobody punches except E1: the night of Tuesday 10 March (21:55–06:05) and the day of Tuesday 17 March (08:58–18:02).
  The sites have no doors, so every day is final and a working day without a punch is absent.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from central_support import client_for
from django.urls import reverse

from central.accounts.models import AuditEntry, User
from central.attendance import engine as e
from central.attendance.models import Assignment, AttendanceProfile, CalendarDay, DailyRecord, ShiftType, SiteCalendar
from central.attendance.rules_cache import read_version
from central.attendance.services import recompute
from central.ingest.handler import store_punches
from central.people.models import Department, Employee, EmployeeMove, Site

pytestmark = pytest.mark.django_db
SHANGHAI = timezone(timedelta(hours=8))
MOVED = date(2026, 3, 16)


@pytest.fixture
def plant() -> dict[str, Any]:
    sh = Site.objects.create(code="sh", name="上海厂", time_zone="Asia/Shanghai")
    bj = Site.objects.create(code="bj", name="北京厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=sh, weekly_rest=[5, 6])
    SiteCalendar.objects.create(site=bj, weekly_rest=[6])
    CalendarDay.objects.create(site=sh, date=date(2026, 3, 12), kind="holiday", name="厂庆")
    night = ShiftType.objects.create(name="night", start=time(22), end=time(6), checkin_before_min=60,
                                     checkout_after_min=120)
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=120)
    departments = {"装配": (sh, night), "包装": (sh, day), "仓储": (bj, day)}
    made = {}
    for name, (site, shift) in departments.items():
        made[name] = Department.objects.create(site=site, name=name)
        Assignment.objects.create(department=made[name], shift=shift, start=date(2026, 1, 1))
    people = {}
    for number in ("E1", "E2"):
        people[number] = Employee.objects.create(number=number, name=number, site=sh, department=made["装配"])
        AttendanceProfile.objects.create(employee=people[number], joined=date(2026, 1, 1))
    hr = User.objects.create_superuser("hr", password="x" * 12)
    return {"sh": sh, "bj": bj, "departments": made, "people": people, "hr": client_for(hr)}


def edit(plant: dict[str, Any], number: str, site: str, department: str, moved_on: str) -> Any:
    emp = plant["people"][number]
    return plant["hr"].post(reverse("console:employee_edit", args=[emp.pk]), {
        "name": emp.name, "site": site, "department": str(plant["departments"][department].pk), "card": "",
        "pin": "", "verify_mode": "any", "role": "employee", "active": "on", "moved_on": moved_on})


def punched(number: str, *moments: datetime) -> None:
    store_punches([{"id": f"{number}-{i}", "site": "sh", "device_id": "door", "employee_number": number,
                    "direction": "in" if i % 2 == 0 else "out", "method": "card", "score": None, "punched_at": at, "boot_id": "b",
                    "monotonic_ns": i, "time_source": "ntp", "original_punched_at": None, "restamped_at": None,
                    "batch_id": "b1", "received_at": datetime(2026, 4, 1, tzinfo=timezone.utc)}
                   for i, at in enumerate(moments)])


def march(number: str) -> dict[date, tuple[str, str]]:
    return {r.date: (r.shift_name, r.status) for r in DailyRecord.objects.filter(
        employee__number=number, date__gte=date(2026, 3, 1), date__lte=date(2026, 3, 31))}


def days(*spans: tuple[int, int]) -> list[date]:
    return [date(2026, 3, d) for first, last in spans for d in range(first, last + 1)]


def expected(before: list[date], after: list[date], present: dict[date, str] | None = None) -> dict[date, tuple[str, str]]:
    found = {d: ("night", "absent") for d in before} | {d: ("day", "absent") for d in after}
    for d, shift in (present or {}).items():
        found[d] = (shift, "present")
    return found


# sh's working days before the move: Mon–Fri 2–6 and 9–13 without the holiday on the 12th
SH_BEFORE = days((2, 6), (9, 11), (13, 13))


def test_a_move_to_another_site_keeps_the_old_shifts_and_calendar_before_it(plant: dict[str, Any]) -> None:
    punched("E1", datetime(2026, 3, 10, 21, 55, tzinfo=SHANGHAI), datetime(2026, 3, 11, 6, 5, tzinfo=SHANGHAI),
            datetime(2026, 3, 17, 8, 58, tzinfo=SHANGHAI), datetime(2026, 3, 17, 18, 2, tzinfo=SHANGHAI))
    version = read_version()
    answer = edit(plant, "E1", "bj", "仓储", MOVED.isoformat())
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert read_version() != version  # the follower reads its kept rules again
    move = EmployeeMove.objects.get()
    assert (move.since, move.from_site.code, move.from_department.name, move.to_site.code,  # type: ignore[union-attr]
            move.to_department.name) == (MOVED, "sh", "装配", "bj", "仓储")  # type: ignore[union-attr]
    recompute(date(2026, 3, 1), date(2026, 3, 31), actor="test")
    # from the 16th: bj rests on Sundays only, so Saturdays 21 and 28 are working days
    want = expected(SH_BEFORE, days((16, 21), (23, 28), (30, 31)), {date(2026, 3, 10): "night", date(2026, 3, 17): "day"})
    assert march("E1") == want
    recompute(date(2026, 3, 1), date(2026, 3, 31), actor="test again")
    assert march("E1") == want  # recomputing does not rewrite the days before the move
    entry = AuditEntry.objects.filter(action="employee.update", target="E1").get()
    assert entry.detail["moved"] == {"since": "2026-03-16", "from_site": "sh", "from_department": "装配",
                                     "to_department": "仓储"}


def test_a_move_between_departments_of_one_site_changes_only_the_shifts(plant: dict[str, Any]) -> None:
    assert edit(plant, "E2", "sh", "包装", MOVED.isoformat()).status_code == 302
    recompute(date(2026, 3, 1), date(2026, 3, 31), actor="test")
    assert march("E2") == expected(SH_BEFORE, days((16, 20), (23, 27), (30, 31)))  # sh's Saturdays stay rest days


def test_two_moves_and_back_again_each_span_keeps_its_own(plant: dict[str, Any]) -> None:
    """sh → bj on the 9th, back to sh (包装) on the 23rd: the first week and the last are sh's, the middle bj's."""
    assert edit(plant, "E1", "bj", "仓储", "2026-03-09").status_code == 302
    assert edit(plant, "E1", "sh", "包装", "2026-03-23").status_code == 302
    recompute(date(2026, 3, 1), date(2026, 3, 31), actor="test")
    middle = days((9, 14), (16, 21))  # bj: Monday to Saturday, and the sh holiday on the 12th is a bj working day
    assert march("E1") == expected(days((2, 6)), middle + days((23, 27), (30, 31)))
    assert [m.since for m in EmployeeMove.objects.order_by("since")] == [date(2026, 3, 9), date(2026, 3, 23)]


def test_a_move_after_today_or_before_the_last_one_is_refused_on_its_field(plant: dict[str, Any]) -> None:
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    answer = edit(plant, "E1", "bj", "仓储", tomorrow)
    assert answer.status_code == 200 and "调动生效日期不能晚于今天" in answer.content.decode()
    assert not EmployeeMove.objects.exists()
    assert Employee.objects.get(number="E1").site.code == "sh"  # nothing changed
    assert edit(plant, "E1", "bj", "仓储", "2026-03-16").status_code == 302
    answer = edit(plant, "E1", "sh", "包装", "2026-03-02")
    assert answer.status_code == 200 and "早于上一次调动（2026-03-16 生效）" in answer.content.decode()
    assert EmployeeMove.objects.count() == 1


def test_a_change_of_name_alone_is_no_move_and_the_api_moves_from_its_day(plant: dict[str, Any]) -> None:
    emp = plant["people"]["E1"]
    answer = plant["hr"].post(reverse("console:employee_edit", args=[emp.pk]), {
        "name": "张三", "site": "sh", "department": str(plant["departments"]["装配"].pk), "card": "", "pin": "",
        "verify_mode": "any", "role": "employee", "active": "on", "moved_on": ""})
    assert answer.status_code == 302 and not EmployeeMove.objects.exists()
    from central.accounts.services import create_token

    _row, token = create_token(User.objects.get(username="hr"), "test", actor="hr")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    bad = plant["hr"].put("/api/v1/employees/E1", {"department": "包装", "moved_on": "2026-13-01"},
                          content_type="application/json", **headers)
    assert bad.status_code == 422 and not EmployeeMove.objects.exists()
    good = plant["hr"].put("/api/v1/employees/E1", {"department": "包装", "moved_on": "2026-03-16"},
                           content_type="application/json", **headers)
    assert good.status_code == 200, good.content
    assert list(EmployeeMove.objects.values_list("since", "to_department__name")) == [(MOVED, "包装")]


def test_the_employee_page_lists_the_moves(plant: dict[str, Any]) -> None:
    edit(plant, "E1", "bj", "仓储", "2026-03-16")
    page = plant["hr"].get(reverse("console:employee", args=[plant["people"]["E1"].pk])).content.decode()
    assert 'id="employee-moves"' in page and "2026-03-16" in page and "装配" in page and "仓储" in page


def test_a_calendar_is_the_first_earlier_one_that_ends_after_the_day() -> None:
    """Back at the first site after a stay at a second: each span its own calendar (the engine alone)."""
    a = e.Calendar(weekly_rest=frozenset({5, 6}))
    b = e.Calendar(weekly_rest=frozenset({6}))
    now = e.Calendar(weekly_rest=frozenset({5, 6}), earlier=((date(2026, 3, 9), a), (date(2026, 3, 23), b)))
    saturdays = [date(2026, 3, 7), date(2026, 3, 14), date(2026, 3, 21), date(2026, 3, 28)]
    assert [now.kind(d, weekly=True) for d in saturdays] == ["rest_day", "workday", "workday", "rest_day"]
