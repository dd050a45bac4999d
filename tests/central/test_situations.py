"""Each employee's situation now, read from the database (central.attendance.situations).

Punches go in through ingest, as a terminal sends them; leave and make-up punches as HR approves them.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from central_support import batch, punch, send

from central.attendance.models import AttendanceProfile, LeaveRecord, LeaveType, MakeupPunch, ShiftType, SiteCalendar
from central.attendance.situations import situations
from central.ingest.handler import Ingest
from central.ingest.models import Punch
from central.people.models import Employee, Site

pytestmark = pytest.mark.django_db
UTC = timezone.utc
SHANGHAI = timedelta(hours=8)
MONDAY = date(2026, 3, 9)


def utc(local: datetime) -> datetime:
    return (local - SHANGHAI).replace(tzinfo=UTC)


def stamp(local: datetime) -> str:
    return (local - SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


@pytest.fixture
def staff(db: Any) -> list[Employee]:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6])
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=120, late_grace_min=5)
    people = []
    for i in range(1, 6):
        emp = Employee.objects.create(number=f"E{i}", name=f"员工{i}", site=site)
        AttendanceProfile.objects.create(employee=emp, default_shift=day)
        people.append(emp)
    return people


def test_situations_read_punches_leave_and_make_ups_in_each_sites_time(staff: list[Employee]) -> None:
    ingest = Ingest()
    send(ingest, "punches", batch(punch(employee_number="E1", punched_at=stamp(datetime(2026, 3, 9, 8, 50)), direction="in"),
                                  punch(employee_number="E2", punched_at=stamp(datetime(2026, 3, 9, 9, 12)), direction="in"),
                                  punch(employee_number="E2", punched_at=stamp(datetime(2026, 3, 9, 9, 40)), direction="out")))
    assert Punch.objects.count() == 3
    annual = LeaveType.objects.create(code="annual", name="年假")
    LeaveRecord.objects.create(employee=staff[2], leave_type=annual, start=MONDAY, end=MONDAY, state="approved")
    LeaveRecord.objects.create(employee=staff[3], leave_type=annual, start=MONDAY, end=MONDAY, state="pending")
    MakeupPunch.objects.create(employee=staff[4], at=utc(datetime(2026, 3, 9, 9, 1)), direction="in", reason="忘打卡",
                               state="approved")
    found = situations(staff, utc(datetime(2026, 3, 9, 10)))
    e1, e2, e3, e4, e5 = (found[emp.pk] for emp in staff)
    assert e1.arrived and e1.on_site and e1.late_min == 0 and e1.first_in == datetime(2026, 3, 9, 8, 50)
    assert e2.arrived and not e2.on_site and e2.late_min == 12
    assert e3.on_leave and not e3.expected  # approved leave
    assert e4.waiting and e4.since_start_min == 60  # pending leave is no leave yet
    assert e5.arrived and e5.on_site  # the approved make-up punch
    # an hour before the shift, nobody is waited for; the punch made after that moment is not seen
    early = situations(staff, utc(datetime(2026, 3, 9, 8, 30)))
    assert not any(s.waiting for s in early.values()) and not early[staff[0].pk].arrived


def test_a_schedule_saved_here_shows_at_once_and_one_saved_elsewhere_after_the_plans_expire(
        staff: list[Employee], monkeypatch: pytest.MonkeyPatch) -> None:
    from central.attendance import situations as module

    now = utc(datetime(2026, 3, 9, 10))
    assert situations(staff, now)[staff[0].pk].waiting
    profile = AttendanceProfile.objects.get(employee=staff[0])
    profile.exempt = True
    profile.save()  # saved in this process: seen at the next read
    assert not situations(staff, now)[staff[0].pk].expected
    # written around the model (as another process's change looks from here): kept plans stand until they expire
    AttendanceProfile.objects.filter(employee=staff[1]).update(exempt=True)
    assert situations(staff, now)[staff[1].pk].expected
    monkeypatch.setattr(module, "PLANS_TTL_S", 0.0)
    assert not situations(staff, now)[staff[1].pk].expected


def test_the_live_board_shows_a_punch_from_ingest_at_the_next_read_and_new_leave_at_once(staff: list[Employee]) -> None:
    from central.attendance.live_board import board_situations

    now = utc(datetime(2026, 3, 9, 10))
    before = board_situations(staff, now)
    assert before[staff[0].pk].waiting and before[staff[1].pk].waiting
    # ingest writes punches in bulk, without model signals: the board finds them by their arrival
    send(Ingest(), "punches", batch(punch(employee_number="E1", punched_at=stamp(datetime(2026, 3, 9, 9, 58)),
                                          direction="in")))
    later = now + timedelta(seconds=20)  # the same minute: only E1 is worked out again
    after = board_situations(staff, later)
    assert after[staff[0].pk].arrived and after[staff[0].pk].on_site
    assert after[staff[1].pk] is before[staff[1].pk]  # kept, not worked out again
    annual = LeaveType.objects.create(code="annual", name="年假")
    leave = LeaveRecord.objects.create(employee=staff[1], leave_type=annual, start=MONDAY, end=MONDAY, state="pending")
    assert board_situations(staff, later)[staff[1].pk].waiting
    leave.state = "approved"
    leave.save()
    assert board_situations(staff, later)[staff[1].pk].on_leave
    # a batch stamped on arrival before the newest one read, committed after it, is still found
    from central.ingest.models import Punch as Stored

    newest = Stored.objects.order_by("-received_at").values_list("received_at", flat=True)[0]
    Stored.objects.bulk_create([Stored(id="late-commit-1", site="s1", device_id="door-a", employee_number="E4",
                                       direction="in", method="card", punched_at=utc(datetime(2026, 3, 9, 9, 59)),
                                       boot_id="b", monotonic_ns=1, time_source="ntp", batch_id="b2",
                                       received_at=newest - timedelta(seconds=5))])  # bulk: no model signals
    assert board_situations(staff, later)[staff[3].pk].arrived
    # the next minute works everyone out afresh
    assert board_situations(staff, now + timedelta(minutes=1))[staff[2].pk].since_start_min == 61
