"""Days on duty away (公出: a business trip, an errand, field work): HR sets up a leave type that counts as worked, an
employee asks for a trip on the requests page, the manager approves it, and those days are worked days with the
shift's paid hours, never late or absent; half a day away adds half of them to the punched half. Bad set-ups are
refused on their field. Read back through the models, the pages' HTML, the reports' tally and the API."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from central_support import client_for, make_user, text_of
from django.test import Client
from django.urls import reverse
from django.utils import timezone as dj_timezone

from central.accounts.models import AuditEntry
from central.accounts.services import create_token
from central.attendance.leave_balances import AllowanceError, set_allowance
from central.attendance.models import (
    AttendanceProfile,
    DailyRecord,
    LeaveRecord,
    LeaveType,
    ShiftType,
    SiteCalendar,
)
from central.attendance.services import ScheduleError, recompute, save_leave_type
from central.ingest.handler import store_punches
from central.people.models import Department, Employee, Site
from central.reports.records import staff, with_records
from central.reports.tally import totals_of

pytestmark = pytest.mark.django_db
SHANGHAI = timezone(timedelta(hours=8))
REQUESTS, DECIDE = reverse("console:attendance_requests"), reverse("console:attendance_request_decide")
TYPES = reverse("console:attendance_leave_types")
TRIP = {"code": "trip", "name": "出差 Business trip", "paid": "on", "on_duty": "on"}


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    """Site 一厂 (Saturday and Sunday off), shift 白班 09:00-18:00 with lunch 12:00-13:00 unpaid: 8 paid hours, late from
    the first minute. 张三 (E1) and his manager 王经理 (M1) of 装配; 李娟 HR admin of the site."""
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    assembly = Department.objects.create(site=site, name="装配")
    day = ShiftType.objects.create(name="白班", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=120, late_grace_min=0, early_grace_min=0,
                                   half_day_below_h=Decimal(6), absent_below_h=Decimal(2),
                                   breaks=[{"start": "12:00", "end": "13:00"}])
    people = {}
    for number, name in (("E1", "张三"), ("M1", "王经理")):
        people[number] = Employee.objects.create(number=number, name=name, site=site, department=assembly)
        AttendanceProfile.objects.create(employee=people[number], default_shift=day)
    monday = dj_timezone.localdate() - timedelta(days=dj_timezone.localdate().weekday() + 7)  # last week's Monday
    return {"site": site, "people": people, "monday": monday, "users": {
        "e1": make_user("e1", "employee", employee=people["E1"]),
        "boss": make_user("boss", "manager", employee=people["M1"], departments=[assembly]),
        "hr": make_user("hr", "hr_admin", sites=[site])}}


def punch(number: str, *moments: datetime) -> None:
    now = dj_timezone.now()
    store_punches([{"id": f"{number}-{at:%m%d%H%M}", "site": "s1", "device_id": "door-a", "employee_number": number,
                    "direction": "in" if i % 2 == 0 else "out", "method": "card", "score": None, "punched_at": at, "boot_id": "b",
                    "monotonic_ns": i, "time_source": "ntp", "original_punched_at": None, "restamped_at": None,
                    "batch_id": "x", "received_at": now} for i, at in enumerate(moments)])


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), SHANGHAI)


def test_a_business_trip_asked_approved_and_counted_as_worked_days(plant: dict[str, Any]) -> None:
    hr, e1, boss = (client_for(plant["users"][u]) for u in ("hr", "e1", "boss"))
    assert hr.post(TYPES, TRIP).status_code == 302  # HR sets up 出差 as on duty away
    trip = LeaveType.objects.get(code="trip")
    assert trip.on_duty and trip.paid
    assert "公出：算出勤" in text_of(hr.get(TYPES).content.decode())
    monday = plant["monday"]
    tuesday, wednesday = monday + timedelta(days=1), monday + timedelta(days=2)
    punch("E1", local(tuesday, 10, 30))  # passed the door late on the way to the airport: not a late arrival
    punch("E1", local(wednesday, 13, 2), local(wednesday, 18, 0))  # back for the afternoon
    form = e1.get(REQUESTS).content.decode()
    assert f'<option value="{trip.pk}">出差 Business trip (trip) · 公出</option>' in form
    answer = e1.post(REQUESTS, {"kind": "leave", "leave-leave_type": str(trip.pk), "leave-start": monday.isoformat(),
                                "leave-end": tuesday.isoformat(), "leave-reason": "去客户现场调试 commissioning at a customer"})
    assert answer.status_code == 302
    asked = LeaveRecord.objects.get()
    assert boss.post(DECIDE, {"kind": "leave", "id": str(asked.pk), "decision": "approve"}).status_code == 302
    # HR records the Wednesday morning away (filed and approved in one step)
    month_page = reverse("console:attendance_month", kwargs={"pk": plant["people"]["E1"].pk})
    recorded = hr.post(f"{month_page}?month={monday:%Y-%m}", {
        "kind": "leave", "month": f"{monday:%Y-%m}", "leave-leave_type": str(trip.pk), "leave-start": wednesday.isoformat(),
        "leave-end": wednesday.isoformat(), "leave-half_day": "on", "leave-reason": "上午拜访供应商 a supplier in the morning"})
    assert recorded.status_code == 302, text_of(recorded.content.decode())[:2000]
    recompute(monday, wednesday, now=dj_timezone.now())

    rows = {r.date: r for r in DailyRecord.objects.filter(employee__number="E1")}
    assert sorted(rows) == [monday, tuesday, wednesday]
    for day in (monday, tuesday):  # whole days away: worked, 8 paid hours, never late, the door's punch not used
        r = rows[day]
        assert (r.status, r.source, r.leave_type_id, r.hours, r.late, r.late_min, r.punch_ids) == (
            "present", "on_duty", trip.pk, Decimal("8.00"), False, 0, [])
    half = rows[wednesday]  # the afternoon punched 13:02-18:00 (4.97 h) and the morning away (half of 8 h)
    assert (half.status, half.source, half.half_day, half.hours, half.other_half, half.late) == (
        "half_day", "on_duty", True, Decimal("8.97"), "present", False)

    covered = staff(Employee.objects.filter(number="E1"), monday, wednesday)
    totals = totals_of([rec for _s, recs in with_records(covered, monday, wednesday) for rec in recs])
    assert (totals.days_worked, totals.absent_days, totals.leave_total, totals.late) == (Decimal("3"), Decimal("0"),
                                                                                         Decimal("0"), 0)
    page = e1.get(f"{month_page}?month={monday:%Y-%m}").content.decode()
    cell = text_of(page[page.index(f'id="day-{tuesday:%Y-%m-%d}"'):page.index(f'id="day-{wednesday:%Y-%m-%d}"')])
    assert "→ 出勤" in cell and "出差 Business trip: 去客户现场调试" in cell and "8.00 h" in cell
    assert "10:30" in cell  # the punch shown as one no shift counted
    assert "其中公出 2.5 天" in text_of(page) or monday.month != wednesday.month
    assert ("attendance.leave_approved", "boss") in AuditEntry.objects.values_list("action", "actor")

    token = create_token(plant["users"]["hr"], "hr", actor="test")[1]
    listed = json.loads(Client().get("/api/v1/attendance/leave", HTTP_AUTHORIZATION=f"Bearer {token}").content)
    assert sorted((i["start"], i["on_duty"], i["half_day"]) for i in listed["items"]) == [
        (monday.isoformat(), True, False), (wednesday.isoformat(), True, True)]
    records = json.loads(Client().get("/api/v1/attendance/records", {"from": monday.isoformat(), "to": tuesday.isoformat()},
                                      HTTP_AUTHORIZATION=f"Bearer {token}").content)
    assert {(i["date"], i["source"], i["hours"]) for i in records["items"] if i["employee_number"] == "E1"} == {
        (monday.isoformat(), "on_duty", "8.00"), (tuesday.isoformat(), "on_duty", "8.00")}


def test_half_a_day_away_with_no_punch_is_half_absent_once_final(plant: dict[str, Any]) -> None:
    trip = save_leave_type(plant["users"]["hr"], {**TRIP, "paid": True, "counts_rest_days": False, "on_duty": True})
    monday = plant["monday"]
    LeaveRecord.objects.create(employee=plant["people"]["E1"], leave_type=trip, start=monday, end=monday, half_day=True,
                               state="approved", approved_by="hr", approved_at=dj_timezone.now())
    recompute(monday, monday, now=dj_timezone.now() + timedelta(days=3))
    r = DailyRecord.objects.get(employee__number="E1", date=monday)
    assert (r.status, r.source, r.hours, r.other_half, r.final) == ("half_day", "on_duty", Decimal("4.00"), "absent", True)


@pytest.mark.parametrize(("values", "field", "words"), [
    ({"paid": False}, "paid", "不能是无薪假"),
    ({"yearly_days": Decimal(5)}, "yearly_days", "不设每年额度"),
    ({"counts_rest_days": True}, "counts_rest_days", "只算工作日"),
    ({"statutory": True}, "statutory", "不是法定年休假"),
    ({"in_lieu": True}, "in_lieu", "不是调休假"),
    ({"carry_over_days": Decimal(3)}, "carry_over_days", "无可结转"),
])
def test_an_on_duty_type_that_would_be_time_off_is_refused_on_its_field(plant: dict[str, Any], values: dict[str, Any],
                                                                        field: str, words: str) -> None:
    body = {"code": "trip", "name": "出差", "paid": True, "counts_rest_days": False, "on_duty": True, **values}
    with pytest.raises(ScheduleError, match=words) as refused:
        save_leave_type(plant["users"]["hr"], body)
    assert refused.value.field == field and not LeaveType.objects.exists()


def test_the_leave_types_page_refuses_an_unpaid_trip_and_a_used_type_keeps_its_kind(plant: dict[str, Any]) -> None:
    hr = client_for(plant["users"]["hr"])
    page = hr.post(TYPES, {k: v for k, v in TRIP.items() if k != "paid"}).content.decode()
    assert "公出算出勤，按出勤计薪，不能是无薪假" in page and not LeaveType.objects.exists()
    annual = LeaveType.objects.create(code="annual", name="年假")
    LeaveRecord.objects.create(employee=plant["people"]["E1"], leave_type=annual, start=plant["monday"],
                               end=plant["monday"])
    page = hr.post(TYPES, {"id": str(annual.pk), "code": "annual", "name": "年假", "paid": "on", "on_duty": "on"}).content.decode()
    assert "不能改为或取消公出" in page
    annual.refresh_from_db()
    assert not annual.on_duty


def test_an_on_duty_type_keeps_no_allowance(plant: dict[str, Any]) -> None:
    hr = plant["users"]["hr"]
    trip = save_leave_type(hr, {**TRIP, "paid": True, "counts_rest_days": False, "on_duty": True})
    LeaveType.objects.create(code="annual", name="年假", yearly_days=Decimal(5))
    with pytest.raises(AllowanceError, match="没有额度"):
        set_allowance(hr, plant["people"]["E1"], trip, 2026, Decimal(3))
    month_page = reverse("console:attendance_month", kwargs={"pk": plant["people"]["E1"].pk})
    html = client_for(hr).get(month_page).content.decode()
    allowance = html[html.index('id="allowance-form"'):]
    allowance = allowance[:allowance.index("</form>")]
    assert "年假 (annual)" in allowance and "出差 Business trip (trip)" not in allowance


def test_counting_calendar_days_ticked_on_the_page_lays_the_leave_on_the_weekend_too(plant: dict[str, Any]) -> None:
    """The page's form writes its values onto the type it edits before the service sees them: the service still
    tells what changed from the stored type, and recomputes."""
    friday = plant["monday"] - timedelta(days=3)
    maternity = LeaveType.objects.create(code="mat", name="产假")
    LeaveRecord.objects.create(employee=plant["people"]["E1"], leave_type=maternity, start=friday,
                               end=plant["monday"], state="approved", approved_by="hr", approved_at=dj_timezone.now())
    recompute(friday, plant["monday"], now=dj_timezone.now())
    on_leave = DailyRecord.objects.filter(employee__number="E1", source="leave")
    assert sorted(on_leave.values_list("date", flat=True)) == [friday, plant["monday"]]
    hr = client_for(plant["users"]["hr"])
    assert hr.post(TYPES, {"id": str(maternity.pk), "code": "mat", "name": "产假", "paid": "on",
                           "counts_rest_days": "on"}).status_code == 302
    assert sorted(on_leave.values_list("date", flat=True)) == [friday + timedelta(days=n) for n in range(4)]


def test_a_whole_day_away_follows_the_shift_when_hr_changes_it(plant: dict[str, Any]) -> None:
    from central.attendance.services import save_shift

    hr = plant["users"]["hr"]
    trip = save_leave_type(hr, {**TRIP, "paid": True, "counts_rest_days": False, "on_duty": True})
    monday = plant["monday"]
    LeaveRecord.objects.create(employee=plant["people"]["E1"], leave_type=trip, start=monday, end=monday,
                               state="approved", approved_by="hr", approved_at=dj_timezone.now())
    recompute(monday, monday, now=dj_timezone.now())
    away = DailyRecord.objects.get(employee__number="E1", date=monday)
    assert away.hours == Decimal("8.00")
    day = ShiftType.objects.get()
    values = {f: getattr(day, f) for f in ("start", "checkin_before_min", "checkout_after_min", "late_grace_min",
                                           "early_grace_min", "hours", "direction", "half_day_below_h",
                                           "absent_below_h", "count_on_holidays", "color", "flex_min")}
    save_shift(hr, {**values, "name": day.name, "end": time(19, 30), "rounding_in": "up", "rounding_out": "down",
                    "breaks": [{"start": time(12), "end": time(13)}]}, day)  # the day now ends at 19:30
    away.refresh_from_db()
    assert (away.source, away.hours) == ("on_duty", Decimal("9.50"))
