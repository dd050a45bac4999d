"""The follower keeps the rules between passes and reads them again when an edit, in any process, says they changed.

The edits here are made the ways they are made in the product (a saved row, from the console's services or
anywhere else) and, for what bypasses Django's signals, by hand in SQL. Each test asserts on the records the
follower writes, worked out by hand from the shift's times. Runs on SQLite and, with --central-db=postgresql,
on PostgreSQL.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from central_support import batch, punch, send
from django.db import connection

from central.attendance import rules_cache
from central.attendance.inputs import load_rules
from central.attendance.models import AttendanceProfile, DailyRecord, RecomputeJob, ShiftType, SiteCalendar
from central.attendance.rules_cache import RULES_VERSION_KEY, RulesCache, read_version
from central.attendance.services import Follower, run_queued
from central.ingest.handler import Ingest
from central.ingest.models import State
from central.people.models import Employee, Site

pytestmark = pytest.mark.django_db
UTC = timezone.utc
MONDAY = date(2026, 3, 2)


def stamp(hour: int, minute: int, day: date = MONDAY) -> str:
    """A Shanghai wall time on ``day`` as a terminal's UTC stamp."""
    return (datetime.combine(day, time(hour, minute)) - timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


@pytest.fixture
def site(db: Any) -> Site:
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[5, 6], final_wait_h=168)
    day = ShiftType.objects.create(name="day", start=time(9), end=time(18), checkin_before_min=60,
                                   checkout_after_min=120, late_grace_min=5, early_grace_min=0)
    for number in ("E001", "E002"):
        emp = Employee.objects.create(number=number, name=number, site=site)
        AttendanceProfile.objects.create(employee=emp, default_shift=day)
    return site


def late_min(number: str, day: date = MONDAY) -> int:
    return DailyRecord.objects.get(employee__number=number, date=day).late_min


NOW = datetime(2026, 3, 2, 4, tzinfo=UTC)  # 12:00 in Shanghai


def test_a_saved_shift_is_read_again_at_the_next_pass(site: Site) -> None:
    ingest, follower = Ingest(), Follower()
    send(ingest, "punches", batch(punch(employee_number="E001", punched_at=stamp(9, 20))))
    follower.tick(now=NOW)
    assert late_min("E001") == 20  # 09:20 against 09:00
    before = read_version()

    shift = ShiftType.objects.get(name="day")
    shift.start = time(9, 10)  # as the console saves it
    shift.save()
    assert read_version() not in (None, before)
    send(ingest, "punches", batch(punch(employee_number="E002", punched_at=stamp(9, 20))))
    follower.tick(now=NOW)
    assert late_min("E002") == 10  # the same follower, the new start: 09:20 against 09:10


def test_rules_changed_by_hand_without_the_token_are_kept_until_the_refresh(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest, follower = Ingest(), Follower()
    send(ingest, "punches", batch(punch(employee_number="E001", punched_at=stamp(9, 20))))
    follower.tick(now=NOW)
    table = connection.ops.quote_name(ShiftType._meta.db_table)
    with connection.cursor() as cur:  # SQL by hand: no signal, no new token
        cur.execute(f"UPDATE {table} SET late_grace_min = 30")
    send(ingest, "punches", batch(punch(employee_number="E002", punched_at=stamp(9, 20))))
    follower.tick(now=NOW)
    assert late_min("E002") == 20, "kept rules: still 5 minutes of grace"

    monkeypatch.setattr(rules_cache, "REFRESH_S", 0.0)  # the refresh is due
    send(ingest, "punches", batch(punch(employee_number="E002", punched_at=stamp(9, 25))))
    follower.tick(now=NOW)
    record = DailyRecord.objects.get(employee__number="E002", date=MONDAY)
    assert (record.late, record.late_min) == (False, 0), "read again: 09:20 is within 30 minutes of grace"


def test_a_token_written_by_another_process_makes_the_rules_read_again(site: Site) -> None:
    """Another process's save reaches this one only through the database: its change and its token."""
    cache = RulesCache()
    first = cache.current(NOW, read_version())
    assert first.shifts["day"].late_grace_min == 5
    table = connection.ops.quote_name(ShiftType._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {table} SET late_grace_min = 15")
    assert cache.current(NOW, read_version()).shifts["day"].late_grace_min == 5  # same token: kept
    State.objects.update_or_create(key=RULES_VERSION_KEY, defaults={"value": "written-elsewhere"})
    assert cache.current(NOW, read_version()).shifts["day"].late_grace_min == 15


def test_finality_is_worked_out_at_every_pass_from_kept_rules(site: Site) -> None:
    cache = RulesCache()
    version = read_version()
    early = cache.current(NOW, version).finality[site.pk]
    later = cache.current(NOW + timedelta(days=10), version).finality[site.pk]
    # a site without terminals is final up to now, in its own wall time
    assert early.reported_until == datetime(2026, 3, 2, 12, 0)
    assert later.reported_until == datetime(2026, 3, 12, 12, 0)


def test_a_queued_recompute_runs_on_the_rules_its_edit_committed(site: Site) -> None:
    """The pass read the token before an edit committed its change with a queued recompute: the queue checks the
    token again before running the job, so the job does not run on the rules from before the edit."""
    ingest = Ingest()
    send(ingest, "punches", batch(punch(employee_number="E001", punched_at=stamp(9, 20))))
    cache = RulesCache()
    stale = cache.current(NOW, read_version())  # the pass's rules, read before the edit

    shift = ShiftType.objects.get(name="day")
    shift.late_grace_min = 30
    shift.save()
    ids = list(Employee.objects.order_by("pk").values_list("pk", flat=True))
    RecomputeJob.objects.create(actor="hr", reason="shift edited", first=MONDAY, last=MONDAY, employees=ids,
                                total=len(ids))
    run_queued(stale, NOW, fresh=lambda: cache.current(NOW, read_version()))
    record = DailyRecord.objects.get(employee__number="E001", date=MONDAY)
    assert (record.late, record.late_min) == (False, 0)

    # without the check the job would have used the stale rules: shown on a second job with the stale ones
    RecomputeJob.objects.create(actor="hr", reason="again", first=MONDAY, last=MONDAY, employees=ids, total=len(ids))
    run_queued(stale, NOW)
    assert DailyRecord.objects.get(employee__number="E001", date=MONDAY).late_min == 20
    assert load_rules(NOW).shifts["day"].late_grace_min == 30


def test_an_employee_profile_saved_between_passes_is_read_again(site: Site) -> None:
    """The follower keeps each employee's attendance profile with the rules; saving one marks them changed."""
    early = ShiftType.objects.create(name="early", start=time(9, 15), end=time(18), checkin_before_min=60,
                                     checkout_after_min=120, late_grace_min=0, early_grace_min=0)
    ingest, follower = Ingest(), Follower()
    send(ingest, "punches", batch(punch(employee_number="E001", punched_at=stamp(9, 20))))
    follower.tick(now=NOW)
    assert late_min("E001") == 20
    profile = AttendanceProfile.objects.get(employee__number="E001")
    profile.default_shift = early
    profile.save()
    send(ingest, "punches", batch(punch(employee_number="E001", punched_at=stamp(17, 30))))
    follower.tick(now=NOW)
    record = DailyRecord.objects.get(employee__number="E001", date=MONDAY)
    assert (record.shift_name, record.late_min) == ("early", 5)  # 09:20 against 09:15
