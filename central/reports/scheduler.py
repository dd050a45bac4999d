"""When a scheduled report is due (pure functions of a clock), and the thread that makes due runs.

    timing = Timing(every="daily", at=time(9, 30), zone=ZoneInfo("Asia/Shanghai"))
    due_moments(timing, after=last_run_due_at, until=now)  -> the moments in (after, until], oldest first
    next_moment(timing, after=now)                          -> the next one
    period_of("last_month", moment.astimezone(zone).date()) -> (first, last) the run covers

A moment is due once ``now`` has reached it and no run was made for it. After a restart the scheduler makes
the runs it missed while the server was down (at most :data:`MAX_CATCH_UP` per schedule, the latest kept).

:class:`ReportScheduler` runs inside ``seed-central run``: every ``interval_s`` it claims each due run by
inserting a :class:`~central.reports.models.ReportRun` (unique per schedule and period, so with two central
instances exactly one of them makes it) and builds it as the schedule's owner.
"""
from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from central.loop_thread import LoopThread

MAX_CATCH_UP = 31  # missed runs made after a long stop, per schedule (the latest ones)


@dataclass(frozen=True)
class Timing:
    """When a schedule runs: ``every`` day, week (on ``weekday``, 0 = Monday) or month (on ``day``, the
    month's last day when it is shorter) at ``at``, a wall time in ``zone``."""
    every: str  # "daily" | "weekly" | "monthly"
    at: time
    zone: ZoneInfo
    weekday: int = 0
    day: int = 1

    def runs_on(self, day: date) -> bool:
        if self.every == "daily":
            return True
        if self.every == "weekly":
            return day.weekday() == self.weekday
        if self.every == "monthly":
            return day.day == min(self.day, calendar.monthrange(day.year, day.month)[1])
        raise ValueError(f"unknown repetition {self.every!r}")

    def moment(self, day: date) -> datetime:
        """The scheduled moment on a local day, as an aware time (a wall time a clock change skips runs an hour later)."""
        local = datetime.combine(day, self.at, self.zone)
        return local.astimezone(ZoneInfo("UTC")).astimezone(self.zone)


def due_moments(timing: Timing, after: datetime, until: datetime, limit: int = MAX_CATCH_UP) -> list[datetime]:
    """The scheduled moments in ``(after, until]``, oldest first; only the latest ``limit`` when more were missed."""
    if until <= after:
        return []
    first_day = after.astimezone(timing.zone).date()
    last_day = until.astimezone(timing.zone).date()
    first_day = max(first_day, last_day - timedelta(days=limit * 31 + 1))  # enough days for ``limit`` monthly runs
    found: list[datetime] = []
    day = first_day
    while day <= last_day:
        if timing.runs_on(day):
            moment = timing.moment(day)
            if after < moment <= until:
                found.append(moment)
        day += timedelta(days=1)
    return found[-limit:]


def next_moment(timing: Timing, after: datetime) -> datetime:
    """The first scheduled moment after ``after`` (every repetition has one within 32 days)."""
    day = after.astimezone(timing.zone).date()
    for _ in range(64):
        if timing.runs_on(day):
            moment = timing.moment(day)
            if moment > after:
                return moment
        day += timedelta(days=1)
    raise ValueError(f"no run within 64 days of {after} for {timing}")  # unreachable for a valid timing


def period_of(period: str, day: date) -> tuple[date, date]:
    """The dates a run on local ``day`` covers: ``yesterday``, ``last_week`` (Monday–Sunday) or ``last_month``."""
    if period == "yesterday":
        return day - timedelta(days=1), day - timedelta(days=1)
    if period == "last_week":
        monday = day - timedelta(days=day.weekday() + 7)
        return monday, monday + timedelta(days=6)
    if period == "last_month":
        last = day.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    raise ValueError(f"unknown period {period!r}")


Clock = Callable[[], datetime]


class ReportScheduler(LoopThread):
    """The scheduled reports' thread: ``ReportScheduler().start()`` … ``.stop()``; ``tick(now)`` is one pass."""
    first_at_once = True  # runs missed while the server was down are made at start
    join_s = 60.0

    def __init__(self, interval_s: float = 30.0, clock: Clock = timezone.now, name: str = ""):
        super().__init__(interval_s)
        self.clock = clock
        self.name = name or "seed-reports"
        self.made = 0

    def start(self) -> ReportScheduler:
        super().start()
        return self

    def work(self) -> None:
        if self.passes == 0:
            from central.reports import schedules

            schedules.fail_interrupted(self.clock())
        self.tick(self.clock())

    def tick(self, now: datetime) -> int:
        """Claim and make every run due at ``now``; returns how many this scheduler made."""
        from central.reports import schedules

        made = 0
        for schedule in schedules.active_schedules():
            for moment in schedules.due_for(schedule, now):
                if self.stopping:
                    return made
                run = schedules.claim_run(schedule, moment)
                if run is None:
                    continue  # another instance made it, or is making it
                schedules.make_run(run, now=now)
                made += 1
        self.made += made
        return made
