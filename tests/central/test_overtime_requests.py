"""Overtime asked for (加班申请) on the requests page: an employee asks, the manager of their department decides, and an
approved request approves the day's overtime up to the minutes asked, whichever comes first, the request or the
punches. Overtime is made by the engine from real punches through the receiver's store; read back through the
models, the audit log and the pages' HTML.

The day shift is 09:00–18:00; overtime counts from 30 minutes in steps of 30 and waits for approval.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from central_support import client_for
from django.urls import reverse

from central.accounts.models import AuditEntry, Role, User
from central.attendance.models import AttendanceProfile, DailyRecord, OvertimeRequest, OvertimeRule, ShiftType
from central.attendance.services import recompute
from central.ingest.handler import store_punches
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
SHANGHAI = timezone(timedelta(hours=8))
PAGE = reverse("console:attendance_requests")
DECIDE, WITHDRAW = reverse("console:attendance_request_decide"), reverse("console:attendance_request_withdraw")
TUESDAY, WEDNESDAY = date(2026, 3, 10), date(2026, 3, 11)


@pytest.fixture
def plant() -> dict[str, Any]:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    assembly = Department.objects.create(site=site, name="装配")
    rule = OvertimeRule.objects.create(name="平时加班", min_minutes=30, step_min=30, requires_approval=True)
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=300, late_grace_min=0, early_grace_min=0, overtime=rule)
    people = {}
    for number, name in (("E1", "张三"), ("M1", "王经理")):
        people[number] = Employee.objects.create(number=number, name=name, site=site, department=assembly)
        AttendanceProfile.objects.create(employee=people[number], default_shift=day, overtime_listed=True)
    users = {}
    for name, role, emp in (("e1", Role.EMPLOYEE, people["E1"]), ("boss", Role.MANAGER, people["M1"])):
        users[name] = User.objects.create_user(name, password="x" * 12, role=role, employee=emp)
    users["boss"].departments.set([assembly])
    return {"people": people, "e1": client_for(users["e1"]), "boss": client_for(users["boss"])}


def ask(client: Any, day: date, hours: str, reason: str = "赶订单 Rush order") -> Any:
    return client.post(PAGE, {"kind": "overtime", "overtime-date": day.isoformat(), "overtime-hours": hours,
                              "overtime-reason": reason})


def decide(client: Any, pk: int, decision: str) -> Any:
    return client.post(DECIDE, {"kind": "overtime_request", "id": str(pk), "decision": decision}, follow=True)


def worked_until(day: date, hh: int, mm: int = 0, batch: str = "b") -> None:
    """E1 in at 08:55 and out at hh:mm."""
    store_punches([{"id": f"{batch}-{day}-{i}", "site": "s1", "device_id": "door-a", "employee_number": "E1",
                    "direction": way, "method": "card", "score": None, "punched_at": datetime.combine(day, at, SHANGHAI),
                    "boot_id": "b", "monotonic_ns": i, "time_source": "ntp", "original_punched_at": None,
                    "restamped_at": None, "batch_id": batch, "received_at": datetime(2026, 3, 20, tzinfo=timezone.utc)}
                   for i, (at, way) in enumerate(((time(8, 55), "in"), (time(hh, mm), "out")))])
    recompute(day, day, actor="test")


def overtime(day: date) -> tuple[int, str]:
    rec = DailyRecord.objects.get(employee__number="E1", date=day)
    return rec.overtime_min, rec.overtime_state


def test_an_approved_request_approves_the_overtime_then_worked_up_to_its_minutes(plant: dict[str, Any]) -> None:
    answer = ask(plant["e1"], TUESDAY, "2")
    assert answer.status_code == 302
    asked = OvertimeRequest.objects.get()
    assert (asked.date, asked.minutes, asked.state, asked.reason) == (TUESDAY, 120, "pending", "赶订单 Rush order")
    page = plant["boss"].get(PAGE).content.decode()
    assert f'id="request-overtime_request-{asked.pk}"' in page and "加班申请" in page and "120 分钟" in page
    decide(plant["boss"], asked.pk, "approve")
    asked.refresh_from_db()
    assert (asked.state, asked.approved_by) == ("approved", "boss")
    worked_until(TUESDAY, 20)  # 18:00 to 20:00: 120 minutes, as asked
    worked_until(WEDNESDAY, 20)  # the same, without a request
    assert overtime(TUESDAY) == (120, "approved") and overtime(WEDNESDAY) == (120, "pending")
    page = plant["boss"].get(PAGE).content.decode()
    assert "request-overtime_request-" not in page.split('id="decided-requests"')[0]  # nothing asked waits
    assert [a for a, in AuditEntry.objects.filter(action__startswith="attendance.overtime_request")
            .order_by("pk").values_list("action")] == ["attendance.overtime_request_filed",
                                                       "attendance.overtime_request_approved"]


def test_overtime_worked_before_the_request_is_approved_by_its_approval(plant: dict[str, Any]) -> None:
    worked_until(TUESDAY, 19, 40)  # 100 minutes over, 90 in steps of 30
    assert overtime(TUESDAY) == (90, "pending")
    ask(plant["e1"], TUESDAY, "1.5")
    decide(plant["boss"], OvertimeRequest.objects.get().pk, "approve")  # recomputes the day
    assert overtime(TUESDAY) == (90, "approved")


def test_more_than_asked_waits_with_the_request_beside_it(plant: dict[str, Any]) -> None:
    ask(plant["e1"], TUESDAY, "1")
    decide(plant["boss"], OvertimeRequest.objects.get().pk, "approve")
    worked_until(TUESDAY, 20)
    assert overtime(TUESDAY) == (120, "pending")
    rec = DailyRecord.objects.get(employee__number="E1", date=TUESDAY)
    row = plant["boss"].get(PAGE).content.decode().split(f'id="request-overtime-{rec.pk}"')[1].split("</tr>")[0]
    assert "已批加班申请 60 分钟，超出部分待审批" in row


def test_a_rejected_or_withdrawn_request_approves_nothing(plant: dict[str, Any]) -> None:
    ask(plant["e1"], TUESDAY, "2")
    decide(plant["boss"], OvertimeRequest.objects.get(date=TUESDAY).pk, "reject")
    ask(plant["e1"], WEDNESDAY, "2")
    wednesday = OvertimeRequest.objects.get(date=WEDNESDAY)
    plant["e1"].post(WITHDRAW, {"kind": "overtime_request", "id": str(wednesday.pk)})
    wednesday.refresh_from_db()
    assert wednesday.state == "withdrawn"
    worked_until(TUESDAY, 20)
    worked_until(WEDNESDAY, 20)
    assert overtime(TUESDAY) == (120, "pending") and overtime(WEDNESDAY) == (120, "pending")
    # a rejected request frees the day: asking again is allowed
    assert ask(plant["e1"], TUESDAY, "2").status_code == 302


@pytest.mark.parametrize(("hours", "reason", "message"), [
    ("0.3", "x", "0.5"), ("17", "x", "16"), ("1.25", "x", "按半小时填写"), ("2", "", "请填写事由"),
    ("abc", "x", "输入一个数字"),
])
def test_a_bad_request_is_refused_on_its_field(plant: dict[str, Any], hours: str, reason: str, message: str) -> None:
    answer = ask(plant["e1"], TUESDAY, hours, reason)
    assert answer.status_code == 200 and message in answer.content.decode()
    assert not OvertimeRequest.objects.exists()


def test_a_second_request_on_a_day_or_one_far_ahead_is_refused_with_the_reason(plant: dict[str, Any]) -> None:
    ask(plant["e1"], TUESDAY, "2")
    answer = ask(plant["e1"], TUESDAY, "1")
    assert answer.status_code == 200 and "2026-03-10 已有加班申请（120 分钟，待批）" in answer.content.decode()
    far = date.today() + timedelta(days=120)
    answer = ask(plant["e1"], far, "1")
    assert answer.status_code == 200 and "最多提前 92 天申请" in answer.content.decode()
    assert OvertimeRequest.objects.count() == 1


def test_nobody_decides_their_own_request(plant: dict[str, Any]) -> None:
    ask(plant["boss"], TUESDAY, "2")  # the manager asks for their own overtime
    asked = OvertimeRequest.objects.get()
    assert asked.employee.number == "M1"
    assert "不能审批自己的请求" in decide(plant["boss"], asked.pk, "approve").content.decode()
    asked.refresh_from_db()
    assert asked.state == "pending"
    assert decide(plant["e1"], asked.pk, "approve").status_code in (403, 404)  # an employee decides nothing


def test_a_month_with_overtime_asked_and_not_decided_cannot_be_closed(plant: dict[str, Any]) -> None:
    from central.attendance.closing import readiness

    ask(plant["e1"], TUESDAY, "2")
    site = plant["people"]["E1"].site
    now = datetime(2026, 4, 20, tzinfo=timezone.utc)
    recompute(date(2026, 3, 1), date(2026, 3, 31), actor="test", now=now)
    assert "1 条加班申请待审批 / 1 overtime requests waiting for a decision" in readiness(site, TUESDAY, now=now).blockers
    decide(plant["boss"], OvertimeRequest.objects.get().pk, "reject")
    assert not any("加班申请" in b for b in readiness(site, TUESDAY, now=now).blockers)


def test_an_inactive_employee_asks_for_nothing(plant: dict[str, Any]) -> None:
    from central.attendance.errors import AttendanceError
    from central.attendance.overtime_requests import file_overtime

    e1 = plant["people"]["E1"]
    Employee.objects.filter(pk=e1.pk).update(active=False)
    e1.refresh_from_db()
    with pytest.raises(AttendanceError, match="员工已停用"):
        file_overtime(e1, TUESDAY, 60, reason="x", actor="hr")
    assert not OvertimeRequest.objects.exists()


# -- time off in lieu (调休) instead of pay ----------------------------------------------------------------------
SATURDAY, SUNDAY, NEXT_SATURDAY = date(2026, 3, 14), date(2026, 3, 15), date(2026, 3, 21)


@pytest.fixture
def weekends(plant: dict[str, Any]) -> dict[str, Any]:
    """The site rests on Saturdays and Sundays; the day shift counts work on rest days (all of it is overtime); a
    leave type keeps time off in lieu."""
    from central.attendance.models import LeaveType, SiteCalendar

    SiteCalendar.objects.create(site=plant["people"]["E1"].site, weekly_rest=[5, 6])
    ShiftType.objects.filter(name="day").update(count_on_holidays=True)
    plant["in_lieu_type"] = LeaveType.objects.create(code="comp", name="调休假", in_lieu=True)
    return plant


def ask_in_lieu(client: Any, day: date, hours: str) -> Any:
    return client.post(PAGE, {"kind": "overtime", "overtime-date": day.isoformat(), "overtime-hours": hours,
                              "overtime-reason": "盘点 Stock-take", "overtime-in_lieu": "on"})


def test_rest_day_overtime_asked_as_time_off_in_lieu_becomes_days_of_it(weekends: dict[str, Any]) -> None:
    from central.attendance.leave_balances import balances

    assert ask_in_lieu(weekends["e1"], SATURDAY, "8").status_code == 302
    asked = OvertimeRequest.objects.get()
    assert asked.in_lieu and asked.minutes == 480
    row = weekends["boss"].get(PAGE).content.decode().split(f'id="request-overtime_request-{asked.pk}"')[1]
    assert "调休" in row.split("</tr>")[0]  # the manager sees what is asked: time off, not pay
    decide(weekends["boss"], asked.pk, "approve")
    worked_until(SATURDAY, 16, 55)  # 08:55 to 16:55 on a rest day: 480 minutes, all overtime
    worked_until(SUNDAY, 16, 55)  # the same on Sunday, not asked for
    saturday = DailyRecord.objects.get(employee__number="E1", date=SATURDAY)
    assert (saturday.overtime_min, saturday.overtime_kind, saturday.overtime_state) == (480, "rest_day", "in_lieu")
    assert overtime(SUNDAY) == (480, "pending")
    comp = next(b for b in balances(weekends["people"]["E1"], [2026]) if b.leave_type.pk == weekends["in_lieu_type"].pk)
    assert (comp.banked_min, comp.allowance) == (480, 1)  # 8 hours: two half days (half a day for every 4 hours)


def test_time_off_in_lieu_is_refused_on_a_working_day_a_holiday_or_without_a_leave_type_for_it(
        weekends: dict[str, Any]) -> None:
    from central.attendance.models import CalendarDay, LeaveType

    answer = ask_in_lieu(weekends["e1"], TUESDAY, "2").content.decode()
    assert "2026-03-10 是工作日（day），延长工作时间须计薪" in answer and "only rest-day overtime" in answer
    CalendarDay.objects.create(site=weekends["people"]["E1"].site, date=SATURDAY, kind="holiday", name="厂庆")
    answer = ask_in_lieu(weekends["e1"], SATURDAY, "8").content.decode()
    assert "2026-03-14 是法定节假日，加班须计薪，不能调休" in answer
    LeaveType.objects.filter(in_lieu=True).delete()
    answer = ask_in_lieu(weekends["e1"], NEXT_SATURDAY, "8").content.decode()
    assert "还没有调休假别" in answer
    assert not OvertimeRequest.objects.exists()
    # asked for pay, the same days are fine
    assert ask(weekends["e1"], TUESDAY, "2").status_code == 302


def test_a_rest_day_that_became_a_working_day_pays_the_overtime_asked_in_lieu(weekends: dict[str, Any]) -> None:
    from central.attendance.models import CalendarDay

    ask_in_lieu(weekends["e1"], SATURDAY, "8")
    decide(weekends["boss"], OvertimeRequest.objects.get().pk, "approve")
    # HR then makes the Saturday a make-up working day (调休上班): overtime after its shift is paid, by law
    CalendarDay.objects.create(site=weekends["people"]["E1"].site, date=SATURDAY, kind="workday", name="补班")
    worked_until(SATURDAY, 20)
    saturday = DailyRecord.objects.get(employee__number="E1", date=SATURDAY)
    assert (saturday.overtime_min, saturday.overtime_kind, saturday.overtime_state) == (120, "workday", "approved")
