"""An edit of what the days depend on (here a shift's grace minutes) queues their recompute in its own commit: the
request that saved it runs the job at once when it is small, and should that request die after the commit, the
follower finishes the job once the request's claim lapses. A record HR enters by hand is recomputed in its own commit.
Read back through the daily records, the recompute jobs and the audit log."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from central_support import store_card_punches
from django.utils import timezone as dj_timezone

from central.accounts.models import AuditEntry, Role, User
from central.attendance import services
from central.attendance.models import AttendanceProfile, ClosedMonth, DailyRecord, RecomputeJob, ShiftType, SiteCalendar
from central.attendance.selectors import recompute_jobs_shown, recompute_queued
from central.people.models import Employee, Site

pytestmark = pytest.mark.django_db
SHANGHAI = timezone(timedelta(hours=8))
GRACE_FIELDS = ("start", "end", "checkin_before_min", "checkout_after_min", "late_grace_min", "early_grace_min", "hours",
                "direction", "half_day_below_h", "absent_below_h", "count_on_holidays", "color", "flex_min", "rounding_min",
                "rounding_in", "rounding_out", "overtime")


@pytest.fixture
def plant(db: Any) -> dict[str, Any]:
    """张三 (E1) at 一厂, every day a working day, on 白班 09:00-18:00 with no grace: in at 09:07 three days ago."""
    site = Site.objects.create(code="s1", name="一厂", time_zone="Asia/Shanghai")
    SiteCalendar.objects.create(site=site, weekly_rest=[])
    day_shift = ShiftType.objects.create(name="白班", start=time(9), end=time(18), late_grace_min=0)
    employee = Employee.objects.create(number="E1", name="张三", site=site)
    AttendanceProfile.objects.create(employee=employee, default_shift=day_shift, joined=date(2020, 1, 1))
    worked = dj_timezone.localdate() - timedelta(days=3)
    store_card_punches("E1", (datetime.combine(worked, time(9, 7), SHANGHAI), "in"),
                       (datetime.combine(worked, time(18, 2), SHANGHAI), "out"))
    follower = services.Follower()
    follower.tick()  # the punches counted, and the follower past them
    hr = User.objects.create_user("hr", password="x" * 12, role=Role.HR_ADMIN)
    hr.sites.set([site])
    return {"hr": hr, "shift": day_shift, "employee": employee, "worked": worked, "follower": follower}


def late_min(plant: dict[str, Any]) -> int:
    return DailyRecord.objects.get(employee=plant["employee"], date=plant["worked"]).late_min


def with_grace(plant: dict[str, Any], minutes: int) -> None:
    shift = plant["shift"]
    values = {f: getattr(shift, f) for f in GRACE_FIELDS}
    services.save_shift(plant["hr"], {**values, "name": shift.name, "late_grace_min": minutes}, shift)


def test_a_small_edit_is_recomputed_through_the_job_queued_in_its_commit(plant) -> None:
    assert late_min(plant) == 7
    with_grace(plant, 10)
    job = RecomputeJob.objects.get(kind=RecomputeJob.EDIT)
    assert (job.state, job.kind, job.total, job.actor) == (RecomputeJob.DONE, RecomputeJob.EDIT, 1, "hr")
    assert late_min(plant) == 0  # no longer late, before the page answers
    summary = AuditEntry.objects.get(action="attendance.recompute")
    assert (summary.actor, summary.detail["job"]) == ("hr", job.pk) and summary.detail["written"] >= 1
    assert not AuditEntry.objects.filter(action="attendance.recompute_queued").exists()  # run at once, not queued
    # the page says the days were recomputed: no queue above it, and no "done" row for what the request did itself
    assert not recompute_queued("hr", job.created_at) and not recompute_jobs_shown(dj_timezone.now()).rows


def test_an_edit_on_a_closed_month_says_in_its_summary_how_many_changes_it_held(plant) -> None:
    """The month is closed (paid): the edit changes nothing on it, holds the change for HR and says so."""
    ClosedMonth.objects.create(site=plant["employee"].site, month=plant["worked"].replace(day=1), closed_by="hr")
    with_grace(plant, 10)
    assert late_min(plant) == 7  # as it was paid
    job = RecomputeJob.objects.get(kind=RecomputeJob.EDIT)
    [held] = ClosedMonth.objects.get().held
    assert (held["employee"], held["date"]) == ("E1", plant["worked"].isoformat())
    assert job.held == 1 and AuditEntry.objects.get(action="attendance.recompute").detail["held"] == 1


def test_an_edit_cut_short_after_its_commit_is_finished_by_the_follower(plant, monkeypatch) -> None:
    def killed(job: RecomputeJob | None) -> None:
        raise KeyboardInterrupt("the worker was killed")

    monkeypatch.setattr(services, "run_claimed", killed)
    with pytest.raises(KeyboardInterrupt):
        with_grace(plant, 10)
    assert ShiftType.objects.get().late_grace_min == 10  # the edit is in, with its job
    job = RecomputeJob.objects.get(kind=RecomputeJob.EDIT)
    assert job.state == RecomputeJob.PENDING and job.claimed_until is not None and late_min(plant) == 7

    follower = plant["follower"]
    follower.tick()  # within the request's claim: left to it
    job.refresh_from_db()
    assert job.state == RecomputeJob.PENDING and late_min(plant) == 7
    assert not recompute_jobs_shown(dj_timezone.now()).rows  # the request holds it: not the pages' news yet
    lapsed = job.claimed_until + timedelta(seconds=1)
    assert [row.job.pk for row in recompute_jobs_shown(lapsed).rows] == [job.pk]  # waiting for the follower: shown
    follower.tick(now=lapsed)
    job.refresh_from_db()
    assert job.state == RecomputeJob.DONE and late_min(plant) == 0
    assert [row.job.state for row in recompute_jobs_shown(lapsed).rows] == [RecomputeJob.DONE]  # and its end


def test_a_record_entered_by_hand_is_recomputed_in_its_own_commit(plant, monkeypatch) -> None:
    """The record and what it changes on the days around it commit together: a recompute that fails takes the
    record back with it, instead of leaving a record the day's other records were never recomputed against."""
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the recompute failed")

    monkeypatch.setattr(services, "recompute", broken)
    with pytest.raises(RuntimeError):
        services.add_manual_record(plant["employee"], plant["worked"], "present", reason="门禁故障 / door broken",
                                   actor="hr")
    record = DailyRecord.objects.get(employee=plant["employee"], date=plant["worked"])
    assert (record.source, record.late_min) == ("punches", 7)  # the computed one, untouched
    assert not AuditEntry.objects.filter(action="attendance.manual_record").exists()


def test_an_idle_follower_writes_nothing_and_forgets_old_jobs_once_an_hour(plant, monkeypatch) -> None:
    """A follower pass with nothing new writes nothing (on SQLite a write takes the one write lock the receiver needs,
    every second); finished jobs past their 30 days are deleted at its first pass and then once an hour."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    now = dj_timezone.now()
    old = RecomputeJob.objects.create(actor="hr", reason="old", first=plant["worked"], last=plant["worked"],
                                      state=RecomputeJob.DONE, finished_at=now - timedelta(days=31))
    kept = RecomputeJob.objects.create(actor="hr", reason="kept", first=plant["worked"], last=plant["worked"],
                                       state=RecomputeJob.DONE, finished_at=now - timedelta(days=29))
    clock = [1000.0]
    monkeypatch.setattr(services.time, "monotonic", lambda: clock[0])
    follower = services.Follower()
    follower.tick()
    assert list(RecomputeJob.objects.filter(actor="hr").values_list("reason", flat=True)) == ["kept"]
    writes = ("INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE")
    for _ in range(3):
        clock[0] += 60
        with CaptureQueriesContext(connection) as statements:
            follower.tick()
        assert not [q["sql"] for q in statements.captured_queries if q["sql"].lstrip().upper().startswith(writes)]
    kept.finished_at = now - timedelta(days=31)
    kept.save()
    clock[0] += 3600
    follower.tick()
    assert not RecomputeJob.objects.filter(pk__in=[old.pk, kept.pk]).exists()
