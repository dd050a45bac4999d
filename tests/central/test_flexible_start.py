"""Flexible start (弹性上班) on a shift: HR sets it on the shifts page, where a flexible range the punching window cannot
hold is refused on its field; an employee on such a shift who comes in 25 minutes late and leaves 25 minutes later is
neither late nor early, and the live dashboard agrees. Read back through the models, the pages' HTML and the records."""
from __future__ import annotations

import html
import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from central_support import client_for, make_user, text_of
from django.urls import reverse
from django.utils import timezone as dj_timezone

from central.accounts.models import AuditEntry
from central.attendance.models import AttendanceProfile, DailyRecord, ShiftType, SiteCalendar
from central.attendance.services import recompute
from central.ingest.handler import store_punches
from central.people.models import Employee, Site

pytestmark = pytest.mark.django_db
SHANGHAI = timezone(timedelta(hours=8))
SHIFTS = reverse("console:attendance_shifts")


def shift_post(**changes: str) -> dict[str, str]:
    data = {"name": "弹性白班", "start": "09:00", "end": "18:00", "color": "#2e7d32", "checkin_before_min": "60",
            "checkout_after_min": "120", "late_grace_min": "5", "early_grace_min": "0", "flex_min": "30",
            "hours": "first_last", "direction": "alternate", "half_day_below_h": "", "absent_below_h": "",
            "rounding_min": "", "rounding_in": "up", "rounding_out": "down", "overtime": "", "breaks_text": "12:00-13:00"}
    data.update(changes)
    return data


def field_errors(body: bytes, field: str) -> str:
    block = re.search(rf'id="field-{field}".*?(?=<div class="field|<div class="form-actions|</form>)', body.decode(), re.S)
    assert block, f"no field {field} on the page"
    return " ".join(html.unescape(e) for e in re.findall(r'<div class="error" role="alert">(.*?)</div>', block.group(0)))


@pytest.fixture
def hr(db: Any) -> Any:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    return client_for(make_user("hr", "hr_admin", sites=[site]))


def test_hr_sets_a_flexible_start_and_a_late_morning_made_up_in_the_evening_is_neither_late_nor_early(hr: Any) -> None:
    assert hr.post(SHIFTS, shift_post()).status_code == 302
    shift = ShiftType.objects.get()
    assert shift.flex_min == 30
    assert "弹性 ±30 分钟" in text_of(hr.get(SHIFTS).content.decode())
    assert AuditEntry.objects.get(action="attendance.shift.create").detail["flex_min"] == 30
    employee = Employee.objects.create(number="E1", name="张三", site=Site.objects.get())
    AttendanceProfile.objects.create(employee=employee, default_shift=shift)
    monday = dj_timezone.localdate() - timedelta(days=dj_timezone.localdate().weekday() + 7)
    moments = [(monday, 9, 25), (monday, 18, 25), (monday + timedelta(days=1), 9, 41), (monday + timedelta(days=1), 18, 41)]
    store_punches([{"id": f"p{i}", "site": "s1", "device_id": "door-a", "employee_number": "E1",
                    "direction": "in" if i % 2 == 0 else "out", "method": "card", "score": None,
                    "punched_at": datetime.combine(day, time(h, m), SHANGHAI), "boot_id": "b", "monotonic_ns": i,
                    "time_source": "ntp", "original_punched_at": None, "restamped_at": None, "batch_id": "x",
                    "received_at": dj_timezone.now()} for i, (day, h, m) in enumerate(moments)])
    recompute(monday, monday + timedelta(days=1), now=dj_timezone.now())
    first, second = (DailyRecord.objects.get(employee=employee, date=monday + timedelta(days=n)) for n in (0, 1))
    # 09:25-18:25 less lunch: 8 h, inside the ±30 min; 09:41 is 11 min past the flexible 09:30 and its day ends 18:30
    assert (first.late, first.early, first.hours, first.overtime_min) == (False, False, Decimal("8.00"), 0)
    assert (second.late, second.late_min, second.early, second.hours) == (True, 11, False, Decimal("8.00"))


def test_a_fixed_shift_needs_no_flexible_start_on_the_form(hr: Any) -> None:
    body = shift_post()
    del body["flex_min"]
    assert hr.post(SHIFTS, body).status_code == 302
    assert ShiftType.objects.get().flex_min == 0


@pytest.mark.parametrize(("changes", "says"), [
    ({"checkin_before_min": "20"}, "超出上班前可打卡的 20 分钟"),
    ({"checkout_after_min": "15"}, "超出下班后可打卡的 15 分钟"),
    ({"flex_min": "300", "checkin_before_min": "300", "checkout_after_min": "300"}, "短于半个班次"),
    ({"flex_min": "-10"}, ""),
    ({"flex_min": "ten"}, ""),
])
def test_a_flexible_start_the_window_cannot_hold_is_refused_on_its_field(hr: Any, changes: dict[str, str],
                                                                          says: str) -> None:
    answer = hr.post(SHIFTS, shift_post(**changes))
    assert answer.status_code == 200
    errors = field_errors(answer.content, "flex_min")
    assert errors and says in errors, errors
    assert not ShiftType.objects.exists()


def test_the_flexible_range_counts_on_the_live_board_as_in_the_records() -> None:
    """The dashboard's lateness (central.attendance.presence) reads the same rule as the records."""
    from central.attendance import engine as e
    from central.attendance.presence import situation

    shift = e.Shift("day", time(9), time(18), checkin_before_min=60, checkout_after_min=120, late_grace_min=5,
                    flex_min=30)
    schedule = e.Schedule(shifts={"day": shift}, rotations={}, assignments=(), calendar=e.Calendar())
    person, monday = e.Person("E1", default_shift="day"), date(2026, 3, 2)
    at = datetime.combine(monday, time(10))
    on_time = situation(person, schedule, [e.PunchIn("a", datetime.combine(monday, time(9, 35)))], at)
    late = situation(person, schedule, [e.PunchIn("b", datetime.combine(monday, time(9, 36)))], at)
    assert (on_time.late_min, late.late_min) == (0, 6)
    # nobody waits for them before 09:30: they may still come on time, so no 未到岗 alert counts from 09:00
    early = situation(person, schedule, [], datetime.combine(monday, time(9, 20)))
    due = situation(person, schedule, [], datetime.combine(monday, time(9, 45)))
    assert (early.expected, early.waiting) == (False, False)
    assert (due.expected, due.waiting, due.begins, due.since_start_min) == (
        True, True, datetime.combine(monday, time(9, 30)), 15)
