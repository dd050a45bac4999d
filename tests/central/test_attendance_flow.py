"""Attendance on the database: punches arriving through ingest become daily records, final when the terminals say so.

The engine's rules are pinned one by one in tests/central/attendance; here the database side: the follower
that reads new punches and terminal reports, late punches from a terminal that was offline, the batch
recompute against the incremental path on a generated month, manual records and the audit log.
"""
from __future__ import annotations

import logging
import random
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from central_support import batch, central_cli, client_for, make_user, punch, send
from django.urls import reverse

from central.accounts.models import AuditEntry
from central.attendance.models import Assignment, AttendanceProfile, DailyRecord, Rotation, ShiftType, SiteCalendar
from central.attendance.services import AttendanceError, Follower, add_manual_record, recompute
from central.ingest.handler import Ingest
from central.ingest.models import Punch
from central.people.models import Department, Employee, Site

pytestmark = pytest.mark.django_db
UTC = timezone.utc
SHANGHAI = timedelta(hours=8)


def utc_stamp(local: datetime) -> str:
    """A local Shanghai wall time as the UTC stamp a terminal sends."""
    return (local - SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def at_utc(local: datetime) -> datetime:
    return (local - SHANGHAI).replace(tzinfo=UTC)


def status(ingest: Ingest, device: str, local: datetime, queue_depth: int = 0, site: str = "s1") -> None:
    send(ingest, "status", {"online": True, "device": device, "site": site, "at": utc_stamp(local),
                            "queue_depth": queue_depth}, site=site, device=device)


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6], final_wait_h=168)
    dept = Department.objects.create(site=site, name="装配")
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60, checkout_after_min=120,
                                   late_grace_min=5, early_grace_min=0, breaks=[{"start": "12:00", "end": "13:00"}])
    night = ShiftType.objects.create(name="night", start=time(22), end=time(6), checkin_before_min=60,
                                     checkout_after_min=180, late_grace_min=0, early_grace_min=0)
    rotation = Rotation.objects.create(name="two-crew", anchor=date(2026, 3, 1), pattern=[day.pk, day.pk, night.pk, night.pk, None])
    people = []
    for i in range(1, 5):
        emp = Employee.objects.create(number=f"E00{i}", name=f"员工{i}", site=site, department=dept)
        AttendanceProfile.objects.create(employee=emp, default_shift=day)
        people.append(emp)
    Assignment.objects.create(employee=people[3], rotation=rotation, start=date(2026, 3, 1))
    return {"site": site, "dept": dept, "day": day, "night": night, "people": people, "rotation": rotation}


def records(number: str) -> dict[date, DailyRecord]:
    return {r.date: r for r in DailyRecord.objects.filter(employee__number=number)}


def test_punches_through_ingest_become_records_and_days_turn_final_with_the_terminals(plant: dict[str, Any]) -> None:
    ingest, follower = Ingest(), Follower()
    monday = datetime(2026, 3, 2)
    send(ingest, "punches", batch(
        punch(employee_number="E001", punched_at=utc_stamp(monday.replace(hour=9, minute=6)), direction="in"),
        punch(employee_number="E001", punched_at=utc_stamp(monday.replace(hour=18, minute=40)), direction="out"),
        punch(employee_number="E002", punched_at=utc_stamp(monday.replace(hour=8, minute=55)), direction="in"),
    ))
    status(ingest, "door-a", monday.replace(hour=12), queue_depth=3)  # a busy terminal proves nothing yet
    follower.tick(now=at_utc(monday.replace(hour=19)))
    e1 = records("E001")[monday.date()]
    assert (e1.status, e1.late, e1.late_min, e1.hours, e1.final) == ("present", True, 6, Decimal("8.57"), False)
    assert e1.first_in == at_utc(monday.replace(hour=9, minute=6))
    e2 = records("E002")[monday.date()]
    assert (e2.status, e2.missing_out, e2.final) == ("present", True, False)
    assert "E003" not in {r.employee.number for r in DailyRecord.objects.all()}  # provisional: no absent yet

    # the terminal reports an empty outbox after the day shift's window closed (20:00): final, absents appear
    status(ingest, "door-a", monday.replace(hour=20, minute=5))
    follower.tick(now=at_utc(monday.replace(hour=20, minute=6)))
    assert records("E001")[monday.date()].final is True
    e3 = records("E003")[monday.date()]
    assert (e3.status, e3.source, e3.final) == ("absent", "absent", True)
    assert records("E004")[monday.date()].status == "absent"  # rotation day 2 is a day shift


def test_hour_thresholds_wait_for_the_day_to_turn_final(plant: dict[str, Any]) -> None:
    """With an absent threshold (1 h) and a half-day one (4 h): whoever has only punched in is present while the day
    runs, and the day is judged by its hours when the terminals say it is complete."""
    ShiftType.objects.filter(pk=plant["day"].pk).update(absent_below_h=Decimal(1), half_day_below_h=Decimal(4))
    ingest, follower = Ingest(), Follower()
    monday = datetime(2026, 3, 2)
    send(ingest, "punches", batch(
        punch(employee_number="E001", punched_at=utc_stamp(monday.replace(hour=8, minute=50)), direction="in"),
        punch(employee_number="E002", punched_at=utc_stamp(monday.replace(hour=8, minute=55)), direction="in"),
        punch(employee_number="E003", punched_at=utc_stamp(monday.replace(hour=8, minute=58)), direction="in"),
        punch(employee_number="E003", punched_at=utc_stamp(monday.replace(hour=11, minute=58)), direction="out"),
    ))
    status(ingest, "door-a", monday.replace(hour=11, minute=59))
    follower.tick(now=at_utc(monday.replace(hour=12)))
    noon = {n: records(n)[monday.date()] for n in ("E001", "E002", "E003")}
    assert {n: (r.status, r.final) for n, r in noon.items()} == {
        "E001": ("present", False), "E002": ("present", False), "E003": ("present", False)}
    assert noon["E002"].missing_out is True and noon["E003"].hours == Decimal("3.00")

    send(ingest, "punches", batch(
        punch(employee_number="E001", punched_at=utc_stamp(monday.replace(hour=18, minute=5)), direction="out")))
    status(ingest, "door-a", monday.replace(hour=20, minute=5))  # after the window closed at 20:00
    follower.tick(now=at_utc(monday.replace(hour=20, minute=6)))
    evening = {n: records(n)[monday.date()] for n in ("E001", "E002", "E003")}
    # E001 8.25 h (lunch taken out): present; E002 one punch, 0 h: absent; E003 3 h before lunch: half a day
    assert {n: (r.status, r.final) for n, r in evening.items()} == {
        "E001": ("present", True), "E002": ("absent", True), "E003": ("half_day", True)}


def test_days_turning_final_are_worked_through_a_chunk_of_employees_per_pass(
        plant: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """On a big site the recompute of days turning final takes seconds: it goes through the queue, a chunk of
    employees per pass (here one), so the new punches that arrive meanwhile get their records at the next pass."""
    from central.attendance import services
    from central.attendance.models import RecomputeJob

    monkeypatch.setattr(services, "CHUNK", 1)
    monkeypatch.setattr(services, "QUEUED_SLICE_S", 0.0)  # one chunk a pass
    ingest, follower = Ingest(), Follower()
    monday = datetime(2026, 3, 2)
    send(ingest, "punches", batch(
        punch(employee_number="E001", punched_at=utc_stamp(monday.replace(hour=9, minute=6)), direction="in")))
    for second in range(8):  # the first passes also close the days before the site's maximum wait
        follower.tick(now=at_utc(monday.replace(hour=19, second=second)))
    assert not RecomputeJob.objects.exclude(state="done").exists()
    status(ingest, "door-a", monday.replace(hour=20, minute=5))  # the day's window closed and the outbox is empty
    follower.tick(now=at_utc(monday.replace(hour=20, minute=6)))
    job = RecomputeJob.objects.latest("pk")
    assert (job.actor, job.total, job.done, job.state) == ("system:attendance", 4, 1, "running")
    assert records("E001")[monday.date()].final is True  # the first chunk's employee
    assert monday.date() not in records("E003")  # not yet: its absent comes with its chunk

    # a punch arriving meanwhile has its record at the next pass, before the queue is through
    tuesday = monday + timedelta(days=1)
    send(ingest, "punches", batch(
        punch(employee_number="E002", punched_at=utc_stamp(tuesday.replace(hour=8, minute=50)), direction="in")))
    follower.tick(now=at_utc(monday.replace(hour=20, minute=7)))
    assert tuesday.date() in records("E002")
    for minute in (8, 9, 10):
        follower.tick(now=at_utc(monday.replace(hour=20, minute=minute)))
    job.refresh_from_db()
    assert (job.state, job.done) == ("done", 4)
    e3 = records("E003")[monday.date()]
    assert (e3.status, e3.final) == ("absent", True)


def test_a_terminal_offline_for_three_days_holds_the_days_back_and_its_punches_turn_absents_into_presents(
        plant: dict[str, Any]) -> None:
    ingest, follower = Ingest(), Follower()
    monday = datetime(2026, 3, 2)
    status(ingest, "door-a", monday.replace(hour=8))
    status(ingest, "door-b", monday.replace(hour=8))
    # door-b goes offline for three days with E003's punches inside; door-a keeps reporting
    for day in range(3):
        local = monday + timedelta(days=day)
        send(ingest, "punches", batch(
            punch(employee_number="E001", punched_at=utc_stamp(local.replace(hour=8, minute=50))),
            punch(employee_number="E001", punched_at=utc_stamp(local.replace(hour=18, minute=5)))))
        status(ingest, "door-a", local.replace(hour=23))
        follower.tick(now=at_utc(local.replace(hour=23, minute=1)))
    since_monday = DailyRecord.objects.filter(date__gte=monday.date())
    assert {r.final for r in since_monday} == {False}, "door-b has not reported since: nothing is final"
    assert not since_monday.filter(status="absent").exists()

    # the site waits at most 48 h: the first day closes by timeout, and E003 is absent on it
    calendar = SiteCalendar.objects.get(site=plant["site"])
    calendar.final_wait_h = 48
    calendar.save()  # as the console saves it: the follower reads its kept rules again
    thursday_noon = monday + timedelta(days=3, hours=12)
    follower.tick(now=at_utc(thursday_noon))
    absent = records("E003")[monday.date()]
    assert (absent.status, absent.final, absent.closed_by_timeout) == ("absent", True, True)
    assert monday.date() + timedelta(days=2) not in records("E003")  # Wednesday still waits for door-b

    # door-b comes back: its punches arrive, then its empty outbox
    send(ingest, "punches", batch(*[
        punch(device="door-b", employee_number="E003", punched_at=utc_stamp((monday + timedelta(days=d)).replace(hour=h)))
        for d in range(3) for h in (9, 18)]), device="door-b")
    status(ingest, "door-b", thursday_noon + timedelta(minutes=1))
    follower.tick(now=at_utc(thursday_noon + timedelta(minutes=2)))
    mine = records("E003")
    assert [(mine[monday.date() + timedelta(days=d)].status, mine[monday.date() + timedelta(days=d)].final)
            for d in range(3)] == [("present", True)] * 3
    assert not mine[monday.date()].closed_by_timeout
    changes = list(AuditEntry.objects.filter(action="attendance.record_changed").values_list("target", "detail"))
    assert changes == [("E003 2026-03-02", {"employee": "E003", "date": "2026-03-02", "shift": "day", "from": "absent",
                                            "to": "present", "hours_from": "0.00", "hours_to": "8.00"})]


def test_a_night_shift_is_dated_on_the_day_it_starts_through_ingest(plant: dict[str, Any]) -> None:
    ingest, follower = Ingest(), Follower()
    # E004's rotation: Mar 1, 2 day; Mar 3, 4 night; Mar 5 rest
    send(ingest, "punches", batch(
        punch(employee_number="E004", punched_at=utc_stamp(datetime(2026, 3, 3, 21, 50))),
        punch(employee_number="E004", punched_at=utc_stamp(datetime(2026, 3, 4, 6, 20)))))
    status(ingest, "door-a", datetime(2026, 3, 4, 10))
    follower.tick(now=at_utc(datetime(2026, 3, 4, 10)))
    night = DailyRecord.objects.get(employee__number="E004", date=date(2026, 3, 3))
    assert (night.shift_name, night.status, night.hours, night.overtime_min, night.final) == \
        ("night", "present", Decimal("8.50"), 20, True)
    assert not DailyRecord.objects.filter(employee__number="E004", date=date(2026, 3, 4)).exists()


def test_a_manual_record_wins_is_audited_and_needs_a_reason(plant: dict[str, Any]) -> None:
    emp = plant["people"][0]
    with pytest.raises(AttendanceError, match="reason"):
        add_manual_record(emp, date(2026, 3, 2), "present", reason=" ", actor="hr")
    row = add_manual_record(emp, date(2026, 3, 2), "on_leave", reason="婚假 wedding", actor="hr",
                            now=at_utc(datetime(2026, 3, 10)))
    assert (row.status, row.source, row.reason, row.created_by) == ("on_leave", "manual", "婚假 wedding", "hr")
    recompute(date(2026, 3, 1), date(2026, 3, 6), now=at_utc(datetime(2026, 3, 10)))
    day = DailyRecord.objects.filter(employee=emp, date=date(2026, 3, 2))
    assert [(r.status, r.source) for r in day] == [("on_leave", "manual")]
    entry = AuditEntry.objects.get(action="attendance.manual_record")
    assert entry.target == "E001 2026-03-02" and entry.detail["reason"] == "婚假 wedding"


def _month_of_punches(people: list[Employee], seed: int = 7) -> list[dict[str, Any]]:
    """A generated month: each employee mostly on time, sometimes late, early, missing or absent."""
    rng = random.Random(seed)
    found = []
    for emp in people:
        for d in range(31):
            day = datetime(2026, 3, 1) + timedelta(days=d)
            roll = rng.random()
            if roll < 0.08:
                continue
            start = day.replace(hour=9) + timedelta(minutes=rng.randint(-40, 25))
            found.append(punch(employee_number=emp.number, punched_at=utc_stamp(start), direction="in"))
            if roll > 0.12:
                end = day.replace(hour=18) + timedelta(minutes=rng.randint(-30, 150))
                found.append(punch(employee_number=emp.number, punched_at=utc_stamp(end), direction="out"))
            if emp.number == "E004":  # the rotation's nights
                found.append(punch(employee_number=emp.number, punched_at=utc_stamp(day.replace(hour=22) - timedelta(minutes=5))))
                found.append(punch(employee_number=emp.number, punched_at=utc_stamp(day.replace(hour=6) + timedelta(days=1))))
    rng.shuffle(found)  # terminals deliver in any order
    return found


def _snapshot() -> list[tuple[Any, ...]]:
    return sorted(DailyRecord.objects.values_list(
        "employee__number", "date", "shift_name", "status", "source", "hours", "late_min", "early_min", "overtime_min",
        "first_in", "last_out", "final", "missing_out", "punch_ids"))


def test_a_month_arriving_at_once_is_queued_not_written_in_one_pass_and_ends_as_the_batch_does(
        plant: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal back after a month away (or a year's download imported) brings more punches than one follower pass
    may write in one transaction, which would hold the receiver's next batches: the pass queues them with the
    watermark, and the queue, a chunk of employees at a time, ends with the records the batch recompute writes."""
    from central.attendance import services
    from central.attendance.models import RecomputeJob

    monkeypatch.setattr(services, "INLINE_EMPLOYEE_DAYS", 100)  # 20,000 employee-days in production
    monkeypatch.setattr(services, "CHUNK", 3)
    for i in range(5, 12):
        emp = Employee.objects.create(number=f"E{i:03d}", name=f"员工{i}", site=plant["site"], department=plant["dept"])
        AttendanceProfile.objects.create(employee=emp, default_shift=plant["day"])
    people = list(Employee.objects.all())
    punches = _month_of_punches(people)
    ingest, follower = Ingest(), Follower()
    for i in range(0, len(punches), 50):
        send(ingest, "punches", batch(*punches[i:i + 50]))
    status(ingest, "door-a", datetime(2026, 4, 3))
    now = at_utc(datetime(2026, 4, 3))
    first = follower.new_punches(services.load_rules(now), now, services._read_states())
    assert first.written == 0 and not DailyRecord.objects.exists()  # nothing written in the pass itself
    job = RecomputeJob.objects.get()
    assert (job.actor, job.state, job.total, job.first, job.last) == (
        services.SYSTEM_ACTOR, "pending", len({p["employee_number"] for p in punches}), date(2026, 2, 28),
        date(2026, 4, 1))
    assert job.kind == RecomputeJob.MANY_PUNCHES
    # HR sees it above the attendance pages (the month pages are behind until it is done)
    hr = make_user("hr-zhao", "hr_admin", sites=[plant["site"]])
    shown = client_for(hr).get(reverse("console:attendance_recompute_jobs")).content.decode()
    assert f"正在重算考勤记录（大批打卡到达）：0 / {job.total} 名员工" in shown
    for _ in range(40):
        follower.tick(now=now)
        if not RecomputeJob.objects.exclude(state="done").exists():
            break
    from central.attendance.selectors import recompute_jobs_shown

    # done, it is shown as done for a while; the days turning final meanwhile are not shown at all
    assert [(r.job.pk, r.job.state) for r in recompute_jobs_shown(now).rows] == [(job.pk, "done")]
    assert RecomputeJob.objects.filter(kind=RecomputeJob.TURNING_FINAL, state="done").exists()
    # the punches were queued once (the days turning final at the terminal's report are a job of their own)
    assert list(RecomputeJob.objects.filter(reason=job.reason).values_list("pk", "state")) == [(job.pk, "done")]
    queued = _snapshot()
    assert len(queued) > 200 and {r[3] for r in queued} >= {"present", "absent"}

    DailyRecord.objects.all().delete()
    recompute(job.first, job.last, now=now)
    assert _snapshot() == [r for r in queued if job.first <= r[1] <= job.last]


def test_incremental_and_batch_give_the_same_month(plant: dict[str, Any]) -> None:
    for i in range(5, 21):
        emp = Employee.objects.create(number=f"E{i:03d}", name=f"员工{i}", site=plant["site"], department=plant["dept"])
        AttendanceProfile.objects.create(employee=emp, default_shift=plant["day"])
    Assignment.objects.create(department=plant["dept"], shift=plant["night"], start=date(2026, 3, 20), end=date(2026, 3, 22))
    people = list(Employee.objects.all())
    punches = _month_of_punches(people)
    # a split shift (two shifts a day): the follower recomputes only what a new punch can change, and the
    # other half of the same day must keep its own punches
    split = Employee.objects.create(number="E099", name="两头班", site=plant["site"], department=plant["dept"])
    for name, start, end in (("am", time(6), time(10)), ("pm", time(17), time(21))):
        shift = ShiftType.objects.create(name=name, start=start, end=end, checkin_before_min=30, checkout_after_min=30,
                                         late_grace_min=0, early_grace_min=0)
        Assignment.objects.create(employee=split, shift=shift, start=date(2026, 3, 1))
    rng = random.Random(11)
    for d in range(31):
        for hour in (6, 10, 17, 21):
            if rng.random() < 0.9:
                at = datetime(2026, 3, 1 + d, hour) + timedelta(minutes=rng.randint(-20, 20))
                punches.append(punch(employee_number="E099", punched_at=utc_stamp(at)))
    rng.shuffle(punches)
    ingest, follower = Ingest(), Follower()
    clock = datetime(2026, 3, 1, 8)
    for i in range(0, len(punches), 50):
        send(ingest, "punches", batch(*punches[i:i + 50]))
        clock += timedelta(hours=18)
        status(ingest, "door-a", min(clock, datetime(2026, 4, 2)))
        follower.tick(now=at_utc(clock))
    status(ingest, "door-a", datetime(2026, 4, 3))
    follower.tick(now=at_utc(datetime(2026, 4, 3)))
    incremental = _snapshot()
    assert len(incremental) > 400 and {r[3] for r in incremental} >= {"present", "absent"}
    assert sum(1 for r in incremental if r[0] == "E099" and r[3] == "present") > 40, "both halves of split days"

    DailyRecord.objects.all().delete()
    outcome = recompute(date(2026, 2, 27), date(2026, 4, 2), now=at_utc(datetime(2026, 4, 3)))
    assert outcome.written == len(incremental)
    assert _snapshot() == incremental
    again = recompute(date(2026, 2, 27), date(2026, 4, 2), now=at_utc(datetime(2026, 4, 3)))
    assert again.written == 0, "a second run changes nothing"


def test_the_batch_recompute_command_reports_progress_and_refuses_bad_ranges(
        plant: dict[str, Any]) -> None:


    def cli(*args: str) -> tuple[int, str, str]:
        return central_cli("attendance", "recompute", *args)

    code, _, err = cli("--from", "2026-03-02", "--to", "2026-03-01")
    assert code == 2 and "--to" in err
    code, _, err = cli("--from", "2026-03-02", "--to", "2026-03-06", "--employee", "NOPE")
    assert code == 2 and "no employee" in err
    code, out, err = cli("--from", "2026-03-02", "--to", "2026-03-06", "--department", "装配")
    assert code == 0, err
    assert "4/4 employees" in err and "[##############################]" in err
    # no punches: E001-E003 absent Monday to Friday, E004 on the rotation's day, night, night, (rest), day
    assert "4 employees, 19 records written" in out
    assert DailyRecord.objects.filter(status="absent", final=True).count() == 19
    assert sorted(DailyRecord.objects.filter(employee__number="E004").values_list("date__day", "shift_name")) == [
        (2, "day"), (3, "night"), (4, "night"), (6, "day")]
    assert AuditEntry.objects.filter(action="attendance.recompute").count() == 1


def test_a_site_whose_clocks_change_counts_the_night_they_go_back_in_real_time(plant: dict[str, Any]) -> None:
    """A plant in Berlin: on 2026-10-25 its clocks go back from 03:00 CEST to 02:00 CET. The terminal sends UTC;
    21:58 CEST (19:58 UTC) to 06:03 CET (05:03 UTC) is 9 h 05 min of work, in the follower and in the batch run."""
    site = Site.objects.create(code="s2", name="柏林厂", time_zone="Europe/Berlin")
    SiteCalendar.objects.create(site=site, weekly_rest=[], final_wait_h=168)
    dept = Department.objects.create(site=site, name="夜班")
    emp = Employee.objects.create(number="B001", name="夜班员工", site=site, department=dept)
    AttendanceProfile.objects.create(employee=emp, default_shift=plant["night"])
    ingest, follower = Ingest(), Follower()
    send(ingest, "punches", batch(punch(employee_number="B001", device_id="door-b", punched_at="2026-10-24T19:58:00.000000Z"),
                                  punch(employee_number="B001", device_id="door-b", punched_at="2026-10-25T05:03:00.000000Z")),
         site="s2", device="door-b")
    send(ingest, "status", {"online": True, "device": "door-b", "site": "s2", "at": "2026-10-25T12:00:00.000000Z",
                            "queue_depth": 0}, site="s2", device="door-b")
    follower.tick(now=datetime(2026, 10, 25, 12, 5, tzinfo=UTC))

    def night() -> tuple[Any, ...]:
        r = DailyRecord.objects.get(employee=emp, date=date(2026, 10, 24))
        return r.shift_name, r.status, r.hours, r.overtime_min, r.first_in, r.last_out, r.final

    expected = ("night", "present", Decimal("9.08"), 3, datetime(2026, 10, 24, 19, 58, tzinfo=UTC),
                datetime(2026, 10, 25, 5, 3, tzinfo=UTC), True)
    assert night() == expected
    DailyRecord.objects.filter(employee=emp).delete()
    recompute(date(2026, 10, 24), date(2026, 10, 24), now=datetime(2026, 10, 25, 12, 5, tzinfo=UTC))
    assert night() == expected


def test_a_site_time_zone_edited_by_hand_into_a_folder_of_zones_is_taken_as_utc_and_said_in_the_log(
        plant: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    Site.objects.filter(pk=plant["site"].pk).update(time_zone="Europe")  # a folder of zones, not one
    ingest, follower = Ingest(), Follower()
    send(ingest, "punches", batch(punch(employee_number="E001", punched_at="2026-03-02T09:08:00.000000Z")))
    with caplog.at_level(logging.WARNING, logger="central.attendance.inputs"):
        follower.tick(now=datetime(2026, 3, 2, 12, tzinfo=UTC))
    day = records("E001")[date(2026, 3, 2)]
    assert (day.first_in, day.late_min) == (datetime(2026, 3, 2, 9, 8, tzinfo=UTC), 8)  # 09:08 UTC read as 09:08
    assert "unknown time zone Europe" in caplog.text


def test_a_restamped_punch_moves_its_record_to_the_corrected_day(plant: dict[str, Any]) -> None:
    """A terminal without time stamps a punch wrongly; its re-stamp arrives later and the follower follows it."""
    ingest, follower = Ingest(), Follower()
    wrong = punch(employee_number="E002", time_source="unsynced", punched_at=utc_stamp(datetime(2026, 2, 20, 9, 1)))
    send(ingest, "punches", batch(wrong))
    follower.tick(now=at_utc(datetime(2026, 3, 2, 12)))
    assert records("E002")[date(2026, 2, 20)].punch_ids == [wrong["id"]]
    fixed = {**wrong, "time_source": "ntp", "punched_at": utc_stamp(datetime(2026, 3, 2, 9, 1)),
             "original_punched_at": wrong["punched_at"], "restamped_at": utc_stamp(datetime(2026, 3, 2, 12, 5))}
    send(ingest, "punches", batch(fixed))
    follower.tick(now=at_utc(datetime(2026, 3, 2, 12, 6)))
    mine = records("E002")
    assert mine[date(2026, 3, 2)].punch_ids == [wrong["id"]] and mine[date(2026, 3, 2)].first_in == at_utc(
        datetime(2026, 3, 2, 9, 1))
    # 20 February is long past the site's maximum wait: without the punch it is an absence
    assert (mine[date(2026, 2, 20)].status, mine[date(2026, 2, 20)].punch_ids) == ("absent", [])


def test_a_new_punch_recomputes_only_what_it_can_change_and_keeps_the_rest_whole(plant: dict[str, Any]) -> None:
    """A split shift: the evening's punch must not strip the morning of the same day of its punches."""
    split = Employee.objects.create(number="E099", name="两头班", site=plant["site"], department=plant["dept"])
    for name, start, end in (("am", time(6), time(10)), ("pm", time(17), time(21))):
        shift = ShiftType.objects.create(name=name, start=start, end=end, checkin_before_min=30, checkout_after_min=30,
                                         late_grace_min=0, early_grace_min=0)
        Assignment.objects.create(employee=split, shift=shift, start=date(2026, 3, 1))
    ingest, follower = Ingest(), Follower()
    monday = datetime(2026, 3, 2)
    send(ingest, "punches", batch(punch(employee_number="E099", punched_at=utc_stamp(monday.replace(hour=5, minute=55))),
                                  punch(employee_number="E099", punched_at=utc_stamp(monday.replace(hour=10, minute=5)))))
    follower.tick(now=at_utc(monday.replace(hour=11)))
    assert {r.shift_name: r.hours for r in DailyRecord.objects.filter(employee=split)} == {"am": Decimal("4.17")}
    send(ingest, "punches", batch(punch(employee_number="E099", punched_at=utc_stamp(monday.replace(hour=16, minute=58)))))
    outcome = follower.tick(now=at_utc(monday.replace(hour=17)))
    assert outcome.written == 1  # the evening's record; the morning's is unchanged, not rewritten
    mine = {r.shift_name: r for r in DailyRecord.objects.filter(employee=split)}
    assert (mine["am"].hours, len(mine["am"].punch_ids)) == (Decimal("4.17"), 2)
    assert (mine["pm"].first_in, mine["pm"].missing_out) == (at_utc(monday.replace(hour=16, minute=58)), True)


def test_a_half_day_leave_keeps_what_hr_wrote_when_the_other_halfs_punches_arrive(plant: dict[str, Any]) -> None:
    """The follower updates the leave's row in place: its hours and other half change, its type, reason and
    author stay."""
    from central.attendance.models import LeaveType
    from central.attendance.requests import decide_leave, file_leave

    emp = plant["people"][0]
    sick = LeaveType.objects.create(code="sick", name="病假 Sick leave")
    monday = datetime(2026, 3, 2)
    decide_leave(file_leave(emp, sick, monday.date(), monday.date(), half_day=True, reason="看病 doctor", actor="E001"),
                 approve=True, actor="hr", now=at_utc(monday.replace(hour=8)))
    leave = DailyRecord.objects.get(employee=emp, date=monday.date())
    assert (leave.source, leave.hours, leave.leave_type, leave.reason) == ("leave", Decimal("0.00"), sick, "看病 doctor")
    ingest, follower = Ingest(), Follower()
    send(ingest, "punches", batch(punch(employee_number="E001", punched_at=utc_stamp(monday.replace(hour=13, minute=55)),
                                        direction="in"),
                                  punch(employee_number="E001", punched_at=utc_stamp(monday.replace(hour=18, minute=2)),
                                        direction="out")))
    follower.tick(now=at_utc(monday.replace(hour=19)))
    row = DailyRecord.objects.get(employee=emp, date=monday.date())
    assert row.pk == leave.pk  # the same row, updated in place
    assert (row.status, row.source, row.shift_name, row.other_half) == ("half_day", "leave", "day", "present")
    assert row.hours == Decimal("4.12")  # 13:55 to 18:02 (the lunch break 12:00-13:00 is before it)
    assert (row.leave_type, row.reason, row.created_by) == (sick, leave.reason, leave.created_by)
    assert row.created_by  # the approver


def test_a_punch_no_correct_clock_could_stamp_is_left_out_until_its_time_is_corrected(plant: dict[str, Any]) -> None:
    """A terminal whose clock says 1970 or 2100 but claims NTP: its punches count only once re-stamped."""
    ingest, follower = Ingest(), Follower()
    monday = datetime(2026, 3, 2)
    came = punch(employee_number="E001", punched_at=utc_stamp(monday.replace(hour=8, minute=50)), direction="in")
    left = punch(employee_number="E001", punched_at="2100-03-02T10:00:00.000000Z", direction="out")
    epoch = punch(employee_number="E002", punched_at="1970-01-01T01:00:00.000000Z", direction="in")
    send(ingest, "punches", batch(came, left, epoch))
    status(ingest, "door-a", monday.replace(hour=20, minute=5))
    follower.tick(now=at_utc(monday.replace(hour=20, minute=6)))
    e1 = records("E001")
    assert (e1[monday.date()].status, e1[monday.date()].missing_out) == ("present", True)
    assert e1[monday.date()].punch_ids == [came["id"]] and set(e1) == {monday.date()}  # nothing dated 2100
    assert records("E002")[monday.date()].status == "absent" and date(1970, 1, 1) not in records("E002")
    # the batch recompute reads punches the same way
    recompute(date(2026, 3, 2), date(2026, 3, 2))
    assert records("E001")[monday.date()].punch_ids == [came["id"]]
    # the terminal's timekeeper corrects the time: the punch now counts
    fixed = {**left, "punched_at": utc_stamp(monday.replace(hour=18, minute=5)), "original_punched_at": left["punched_at"],
             "restamped_at": utc_stamp(monday.replace(hour=20, minute=30))}
    send(ingest, "punches", batch(fixed))
    follower.tick(now=at_utc(monday.replace(hour=20, minute=31)))
    e1 = records("E001")[monday.date()]
    assert (e1.missing_out, e1.last_out, sorted(e1.punch_ids)) == (False, at_utc(monday.replace(hour=18, minute=5)),
                                                                   sorted([came["id"], left["id"]]))


def test_a_punch_with_an_impossible_time_makes_no_record_and_the_punches_after_it_are_followed(
        plant: dict[str, Any]) -> None:
    """The follower counts every punch of its look-back window, flagged or not, so a flagged one neither makes a
    record nor makes the next pass read the window again or miss what came after it."""
    ingest, follower = Ingest(), Follower()
    monday = datetime(2026, 3, 2)
    follower.tick(now=at_utc(monday.replace(hour=12)))  # the first pass sets the site's finality frontier
    send(ingest, "punches", batch(
        punch(employee_number="E001", punched_at="1970-01-01T08:00:00.000000Z"),  # an RTC reset: flagged
        punch(employee_number="E002", punched_at=utc_stamp(monday.replace(hour=9, minute=2)))))
    first = follower.tick(now=at_utc(monday.replace(hour=12)))
    assert records("E001") == {} and first.employees == 1
    assert records("E002")[monday.date()].late_min == 0
    send(ingest, "punches", batch(punch(employee_number="E001", punched_at=utc_stamp(monday.replace(hour=9, minute=7)))))
    second = follower.tick(now=at_utc(monday.replace(hour=12)))
    assert second.employees == 1  # E001's real punch only: nothing of the first batch again
    assert records("E001")[monday.date()].late_min == 7
    assert follower.tick(now=at_utc(monday.replace(hour=12))).employees == 0


def test_a_batch_committed_after_a_later_one_is_followed_within_the_window_and_otherwise_when_its_day_turns_final(
        plant: dict[str, Any]) -> None:
    """The follower looks LATE_COMMIT_S back for a batch that committed after a later one (two receivers on
    PostgreSQL): one that arrived 1.5 s before the watermark is followed at the next pass; one that arrived a minute
    before it is left to the day's final recompute, which the terminals' reports trigger only after its ack."""
    ingest, follower = Ingest(), Follower()
    monday = datetime(2026, 3, 2)
    status(ingest, "door-a", monday.replace(hour=6), queue_depth=1)
    follower.tick(now=at_utc(monday.replace(hour=12)))
    send(ingest, "punches", batch(punch(employee_number="E001", punched_at=utc_stamp(monday.replace(hour=8, minute=50)))))
    follower.tick(now=at_utc(monday.replace(hour=12)))
    mark = Punch.objects.get().received_at
    late = punch(employee_number="E002", punched_at=utc_stamp(monday.replace(hour=9, minute=1)))
    later = punch(employee_number="E003", punched_at=utc_stamp(monday.replace(hour=9, minute=2)))
    send(ingest, "punches", batch(late, later))
    Punch.objects.filter(id=late["id"]).update(received_at=mark - timedelta(seconds=1.5))
    Punch.objects.filter(id=later["id"]).update(received_at=mark - timedelta(seconds=60))
    follower.tick(now=at_utc(monday.replace(hour=12)))
    assert records("E002")[monday.date()].first_in == at_utc(monday.replace(hour=9, minute=1))
    assert records("E003") == {}  # outside the window: not seen by the pass
    status(ingest, "door-a", monday.replace(hour=21))  # the terminal's outbox empty after the day's window
    while follower.tick(now=at_utc(monday.replace(hour=21, minute=1))).employees:
        pass
    e3 = records("E003")[monday.date()]
    assert (e3.status, e3.first_in, e3.final) == ("present", at_utc(monday.replace(hour=9, minute=2)), True)
