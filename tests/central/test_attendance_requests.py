"""Leave and make-up punch requests on the database: approval writes what wins over punches, each step audited."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from central.accounts.models import AuditEntry
from central.attendance.models import (
    AttendanceProfile,
    CalendarDay,
    DailyRecord,
    LeaveRecord,
    LeaveType,
    ShiftType,
    SiteCalendar,
)
from central.attendance.requests import decide_leave, decide_makeup_punch, file_leave, file_makeup_punch
from central.attendance.services import AttendanceError, recompute
from central.ingest.handler import store_punches
from central.people.models import Employee, Site

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 20, tzinfo=timezone.utc)  # every day below is long final (no terminal at the site)


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=timezone(timedelta(hours=8)))


def punches(number: str, *times: datetime) -> None:
    store_punches([{"id": f"{number}-{at.isoformat()}", "site": "s1", "device_id": "door-a", "employee_number": number,
                    "direction": "in", "method": "card", "score": None, "punched_at": at, "boot_id": "b", "monotonic_ns": 0,
                    "time_source": "ntp", "original_punched_at": None, "restamped_at": None, "batch_id": "x",
                    "received_at": NOW} for at in times])


@pytest.fixture
def worker(db: Any) -> Employee:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    shift = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60, checkout_after_min=120,
                                     late_grace_min=0, early_grace_min=0, half_day_below_h=Decimal("6"),
                                     absent_below_h=Decimal("2"))
    emp = Employee.objects.create(number="E1", name="张三", site=site)
    AttendanceProfile.objects.create(employee=emp, default_shift=shift)
    return emp


def day_records(emp: Employee, day: int) -> list[tuple[str, str, Any]]:
    return [(r.status, r.source, r.other_half) for r in DailyRecord.objects.filter(employee=emp, date=date(2026, 3, day))]


def test_an_approved_leave_replaces_absences_and_a_rejected_one_changes_nothing(worker: Employee) -> None:
    recompute(date(2026, 3, 2), date(2026, 3, 6), now=NOW)
    assert day_records(worker, 3) == [("absent", "absent", None)]
    annual = LeaveType.objects.create(code="annual", name="年假 Annual leave")
    rejected = file_leave(worker, annual, date(2026, 3, 2), date(2026, 3, 3), reason="探亲", actor="E1")
    decide_leave(rejected, approve=False, actor="hr", now=NOW)
    assert day_records(worker, 3) == [("absent", "absent", None)]
    leave = file_leave(worker, annual, date(2026, 3, 3), date(2026, 3, 4), reason="探亲 family visit", actor="E1")
    decide_leave(leave, approve=True, actor="hr", now=NOW)
    assert day_records(worker, 3) == day_records(worker, 4) == [("on_leave", "leave", None)]
    assert day_records(worker, 2) == [("absent", "absent", None)]
    recompute(date(2026, 3, 2), date(2026, 3, 6), now=NOW)  # a later recompute keeps the leave
    assert day_records(worker, 4) == [("on_leave", "leave", None)]
    assert DailyRecord.objects.get(employee=worker, date=date(2026, 3, 4)).leave_type == annual
    with pytest.raises(AttendanceError, match="already approved"):
        decide_leave(leave, approve=True, actor="hr")
    actions = list(AuditEntry.objects.filter(action__startswith="attendance.leave").order_by("seq").values_list("action", flat=True))
    assert actions == ["attendance.leave_filed", "attendance.leave_rejected", "attendance.leave_filed",
                       "attendance.leave_approved"]


def test_a_half_day_leave_takes_the_other_half_from_the_punches(worker: Employee) -> None:
    sick = LeaveType.objects.create(code="sick", name="病假 Sick leave")
    punches("E1", shanghai(5, 13, 2), shanghai(5, 18, 1))  # the afternoon after a morning off
    decide_leave(file_leave(worker, sick, date(2026, 3, 5), date(2026, 3, 5), half_day=True, actor="E1"),
                 approve=True, actor="hr", now=NOW)
    row = DailyRecord.objects.get(employee=worker, date=date(2026, 3, 5))
    assert (row.status, row.source, row.shift_name, row.other_half, row.hours) == ("half_day", "leave", "day", "present",
                                                                                  Decimal("4.98"))
    assert row.leave_type == sick and not row.late
    # the same leave on a day without punches: the other half is absent
    decide_leave(file_leave(worker, sick, date(2026, 3, 6), date(2026, 3, 6), half_day=True, actor="E1"),
                 approve=True, actor="hr", now=NOW)
    assert day_records(worker, 6) == [("half_day", "leave", "absent")]


def test_an_approved_make_up_punch_completes_a_day_with_a_missing_out(worker: Employee) -> None:
    punches("E1", shanghai(9, 8, 55))
    recompute(date(2026, 3, 9), date(2026, 3, 9), now=NOW)
    row = DailyRecord.objects.get(employee=worker, date=date(2026, 3, 9))
    assert (row.status, row.missing_out) == ("absent", True)  # 0 h is below the absent threshold
    with pytest.raises(AttendanceError, match="reason"):
        file_makeup_punch(worker, shanghai(9, 18, 0), "out", reason=" ", actor="E1")
    with pytest.raises(AttendanceError, match="future"):
        file_makeup_punch(worker, datetime(2999, 1, 1, tzinfo=timezone.utc), "out", reason="x", actor="E1")
    makeup = file_makeup_punch(worker, shanghai(9, 18, 0), "out", reason="忘记打卡 forgot", actor="E1")
    recompute(date(2026, 3, 9), date(2026, 3, 9), now=NOW)
    assert day_records(worker, 9) == [("absent", "punches", None)], "a pending make-up punch does not count"
    decide_makeup_punch(makeup, approve=True, actor="hr", now=NOW)
    row = DailyRecord.objects.get(employee=worker, date=date(2026, 3, 9))
    assert (row.status, row.missing_out, row.hours) == ("present", False, Decimal("9.08"))
    assert row.punch_ids[-1] == f"makeup-{makeup.pk}"
    entry = AuditEntry.objects.get(action="attendance.makeup_approved")
    assert entry.actor == "hr" and entry.detail == {"id": makeup.pk, "direction": "out"}


def test_a_week_of_annual_leave_takes_off_the_five_working_days_and_maternity_leave_all_seven(worker: Employee) -> None:
    """Mon 2 to Sun 8 March 2026, Saturday and Sunday the site's weekly rest: annual leave is counted in working
    days, maternity leave (counts_rest_days) in calendar days."""
    SiteCalendar.objects.create(site=worker.site, weekly_rest=[5, 6])
    annual = LeaveType.objects.create(code="annual", name="年假 Annual leave")
    decide_leave(file_leave(worker, annual, date(2026, 3, 2), date(2026, 3, 8), actor="E1"), approve=True, actor="hr",
                 now=NOW)
    on_leave = sorted(DailyRecord.objects.filter(employee=worker, status="on_leave").values_list("date__day", flat=True))
    assert on_leave == [2, 3, 4, 5, 6]
    assert not DailyRecord.objects.filter(employee=worker, date__day__in=[7, 8]).exists()  # rest days: nothing

    other = Employee.objects.create(number="E2", name="李四", site=worker.site)
    AttendanceProfile.objects.create(employee=other, default_shift=ShiftType.objects.get(name="day"))
    maternity = LeaveType.objects.create(code="maternity", name="产假 Maternity leave", counts_rest_days=True)
    decide_leave(file_leave(other, maternity, date(2026, 3, 2), date(2026, 3, 8), actor="E2"), approve=True, actor="hr",
                 now=NOW)
    assert DailyRecord.objects.filter(employee=other, status="on_leave").count() == 7


def test_a_leave_of_rest_days_only_is_refused_with_a_reason(worker: Employee) -> None:
    SiteCalendar.objects.create(site=worker.site, weekly_rest=[5, 6])
    personal = LeaveType.objects.create(code="personal", name="事假 Personal leave")
    with pytest.raises(AttendanceError, match="no working day"):
        file_leave(worker, personal, date(2026, 3, 7), date(2026, 3, 8), actor="E1")
    assert not LeaveRecord.objects.exists()


def leave_days_of(emp: Employee) -> list[int]:
    return sorted(DailyRecord.objects.filter(employee=emp, source="leave").values_list("date__day", flat=True))


def test_a_calendar_changed_after_the_leave_was_approved_moves_the_leave_with_it(worker: Employee) -> None:
    """An annual leave Mon 2 - Sun 8 March approved on the Monday-to-Friday roster takes off 2-6. Then the site
    makes Wednesday 4 a holiday and Saturday 7 a make-up working day (调休): the recompute that follows takes the
    leave off the holiday and puts it on the Saturday."""
    SiteCalendar.objects.create(site=worker.site, weekly_rest=[5, 6])
    annual = LeaveType.objects.create(code="annual", name="年假 Annual leave")
    decide_leave(file_leave(worker, annual, date(2026, 3, 2), date(2026, 3, 8), actor="E1"), approve=True, actor="hr",
                 now=NOW)
    assert leave_days_of(worker) == [2, 3, 4, 5, 6]
    CalendarDay.objects.create(site=worker.site, date=date(2026, 3, 4), kind="holiday")
    CalendarDay.objects.create(site=worker.site, date=date(2026, 3, 7), kind="workday")
    recompute(date(2026, 3, 2), date(2026, 3, 8), now=NOW)
    assert leave_days_of(worker) == [2, 3, 5, 6, 7]
    assert not DailyRecord.objects.filter(employee=worker, date=date(2026, 3, 4)).exists()  # a holiday: no record
    recompute(date(2026, 3, 2), date(2026, 3, 8), now=NOW)
    assert leave_days_of(worker) == [2, 3, 5, 6, 7], "a second run changes nothing"


def test_a_record_entered_by_hand_inside_a_leave_stays_the_only_record_of_its_day(worker: Employee) -> None:
    from central.attendance.services import add_manual_record

    add_manual_record(worker, date(2026, 3, 3), "present", reason="出差 business trip", actor="hr")
    annual = LeaveType.objects.create(code="annual", name="年假 Annual leave")
    decide_leave(file_leave(worker, annual, date(2026, 3, 2), date(2026, 3, 4), actor="E1"), approve=True, actor="hr",
                 now=NOW)
    assert leave_days_of(worker) == [2, 4]
    assert [(r.source, r.status) for r in DailyRecord.objects.filter(employee=worker, date=date(2026, 3, 3))] == [
        ("manual", "present")]


def test_a_leave_overlapping_a_pending_or_approved_one_is_refused_and_a_rejected_one_does_not_count(
        worker: Employee) -> None:
    annual = LeaveType.objects.create(code="annual", name="年假 Annual leave")
    sick = LeaveType.objects.create(code="sick", name="病假 Sick leave")
    rejected = file_leave(worker, annual, date(2026, 3, 2), date(2026, 3, 4), actor="E1")
    decide_leave(rejected, approve=False, actor="hr", now=NOW)
    pending = file_leave(worker, annual, date(2026, 3, 3), date(2026, 3, 5), actor="E1")  # over the rejected one: fine
    with pytest.raises(AttendanceError, match="Overlaps the leave of 2026-03-03 to 2026-03-05 \\(pending\\)"):
        file_leave(worker, sick, date(2026, 3, 5), date(2026, 3, 5), half_day=True, actor="E1")
    decide_leave(pending, approve=True, actor="hr", now=NOW)
    with pytest.raises(AttendanceError, match="approved"):
        file_leave(worker, sick, date(2026, 3, 1), date(2026, 3, 3), actor="E1")
    assert file_leave(worker, sick, date(2026, 3, 6), date(2026, 3, 6), actor="E1").state == "pending"  # the day after
    assert LeaveRecord.objects.count() == 3


def test_a_leave_type_switched_to_calendar_days_moves_its_approved_leaves(worker: Employee) -> None:
    from django.utils import timezone as dj_timezone

    from central.accounts.models import User
    from central.attendance.services import save_leave_type

    SiteCalendar.objects.create(site=worker.site, weekly_rest=[5, 6])
    hr = User.objects.create_user("hr", password="x" * 12, role="hr_admin", is_superuser=True)
    monday = dj_timezone.localdate() - timedelta(days=dj_timezone.localdate().weekday() + 21)  # three weeks back
    marriage = save_leave_type(hr, {"code": "marriage", "name": "婚假", "paid": True, "counts_rest_days": False})
    decide_leave(file_leave(worker, marriage, monday, monday + timedelta(days=6), actor="E1"), approve=True, actor="hr")
    assert DailyRecord.objects.filter(employee=worker, source="leave").count() == 5
    save_leave_type(hr, {"code": "marriage", "name": "婚假", "paid": True, "counts_rest_days": True}, marriage)
    assert DailyRecord.objects.filter(employee=worker, source="leave").count() == 7
