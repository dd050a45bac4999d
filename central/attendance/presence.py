"""Where one employee stands at a moment: the shift in progress, arrived or not, on site or not.

A pure module like :mod:`central.attendance.engine`, whose rules it uses: plain data in, a
:class:`Situation` out; no ORM, no clock, no I/O. Every time is the site's local wall time as a
naive ``datetime``. The live dashboard, the wall display and the alert rules read it.

The rules:

1. **The shift that matters now** is the occurrence (engine rules 1–3, dated yesterday or today) whose
   window holds ``now``; when none does, there is no shift now.
2. **Expected now**: that occurrence is on a working day, is due and has not ended
   (``begins <= now <= ends``, where ``begins`` is the start, or with a flexible start (弹性上班) its latest,
   start + flex: until then the employee may still come on time), the employee is not exempt (高管免刷) and not on an approved full-day
   leave that day (on leave; a leave of a 公出 type, a day on duty away, is also ``on_duty``).
3. **Arrived**: a punch at or before ``now`` in that occurrence's window counts by the shift's
   direction rule (engine rule 4). ``first_in`` is the first counted one, the engine's in;
   ``late_min`` is counted as the engine counts it (whole minutes after the start, only beyond the
   late grace, only on working days).
4. **On site**: the punches of that window paired by the shift's direction rule (engine rule 4) leave
   an in without its out. Without a shift now, the punches of the last ``LOOKBACK`` after the last
   window that closed decide the same way, every punch alternating.
5. **Stale**: on site by the punches, but the last punch is older than ``STALE_AFTER`` or its shift's
   window has closed since (an out punch was forgotten, or the person left by another door): shown,
   flagged, and not counted as on site with certainty.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import NamedTuple

from central.attendance.engine import (
    DayKind,
    Occurrence,
    Person,
    PunchIn,
    Schedule,
    elapsed,
    minutes_late,
    occurrences,
    pair_up,
)

STALE_AFTER = timedelta(hours=12)  # an in punch older than this is no proof of presence
LOOKBACK = timedelta(hours=16)  # without a shift now, the punches this far back count
READ_BACK = timedelta(hours=36)  # what a caller reads: a window open now (24 h shift + margins) began no earlier


class Situation(NamedTuple):  # a tuple: made for every employee at every dashboard read, so made cheaply
    number: str
    shift: str | None = None  # the shift whose window holds now
    date: date | None = None  # its date (the day it starts)
    begins: datetime | None = None  # when the employee is due: the start, or start + flex (rule 2)
    ends: datetime | None = None
    day_kind: DayKind | None = None
    expected: bool = False  # rule 2
    on_leave: bool = False  # an approved full-day leave on the shift's date
    arrived: bool = False  # rule 3
    first_in: datetime | None = None
    late_min: int = 0  # 0: on time, not arrived or never late
    since_start_min: int | None = None  # whole minutes from begins to now (negative before); None: no shift now
    on_site: bool = False  # rule 4 (stale included: see ``stale``)
    stale: bool = False  # rule 5
    last_at: datetime | None = None  # the last punch at or before now
    on_duty: bool = False  # of ``on_leave``: the day is on duty away (公出: a business trip), worked elsewhere

    @property
    def waiting(self) -> bool:
        """Expected now and not arrived: on the absent / not yet arrived list."""
        return self.expected and not self.arrived


def current_occurrence(schedule: Schedule, person: Person, now: datetime) -> tuple[Occurrence | None, list[Occurrence]]:
    """The occurrence whose window holds ``now`` (the later-starting one of two) and all of yesterday's and today's."""
    today = now.date()
    found = occurrences(schedule, person, today - timedelta(days=1), today)
    holding = [occ for occ in found if occ.holds(now)]
    return (holding[-1] if holding else None), found


def _stale(last_in: PunchIn, now: datetime, zone: tzinfo | None) -> bool:
    """An in punch older than STALE_AFTER (real time) is no proof of presence."""
    return elapsed(last_in.at, now, zone) > STALE_AFTER.total_seconds()


def situation(person: Person, schedule: Schedule, punches: Sequence[PunchIn], now: datetime, *,
              leave_days: Collection[date] = (), away_days: Collection[date] = (),
              current: tuple[Occurrence | None, list[Occurrence]] | None = None) -> Situation:
    """``punches``: the employee's punches in time order, at least those since yesterday's windows opened
    (``READ_BACK``); later ones than ``now`` are ignored. ``leave_days``: the dates of their approved full-day leave;
    ``away_days``: those of them on duty away (公出).
    ``current``: what :func:`current_occurrence` gives for this schedule, person and ``now``, when the caller
    worked it out once for many people who share them."""
    zone = schedule.calendar.zone  # lengths in real time where the site's clocks change, as the engine counts them
    past = [p for p in punches if p.at <= now]
    last_at = past[-1].at if past else None
    occ, every = current or current_occurrence(schedule, person, now)
    if occ is None:
        past = [p for p in past if p.at >= now - LOOKBACK]
        closed = [o for o in every if o.closes < now]
        last_closed = max(closed, key=lambda o: o.closes) if closed else None
        counted = [p for p in past if last_closed is None or p.at > last_closed.closes]
        if counted:
            on_site = len(counted) % 2 == 1
            stale = on_site and _stale(counted[-1], now, zone)
        else:  # an in that the shift whose window closed since left without its out
            held = [p for p in past if last_closed is not None and last_closed.holds(p.at)]
            on_site = stale = last_closed is not None and len(pair_up(last_closed.shift, held)[0]) % 2 == 1
        return Situation(person.number, on_site=on_site, stale=stale, last_at=last_at)
    shift = occ.shift
    mine = [p for p in past if occ.holds(p.at)]
    counted, _ = pair_up(shift, mine)
    on_site = len(counted) % 2 == 1
    first = counted[0] if counted else None  # the engine's in: the first counted punch
    late_min = 0
    if first is not None and occ.day_kind == "workday":
        late_min = minutes_late(shift, occ.begins, first.at, zone) or 0
    on_leave = occ.date in leave_days
    due = occ.begins + timedelta(minutes=shift.flex_min)
    expected = (occ.day_kind == "workday" and due <= now <= occ.ends and not person.exempt and not on_leave)
    stale = on_site and _stale(counted[-1], now, zone)
    return Situation(
        person.number, shift=shift.name, date=occ.date, begins=due, ends=occ.ends, day_kind=occ.day_kind,
        expected=expected, on_leave=on_leave, arrived=first is not None, first_in=first.at if first else None,
        late_min=late_min, since_start_min=int(elapsed(due, now, zone) // 60), on_site=on_site,
        stale=stale, last_at=last_at, on_duty=on_leave and occ.date in away_days)


@dataclass(frozen=True)
class Counts:
    """The headline numbers of a group of situations (a site, a department, a caller's scope)."""
    on_site: int = 0  # stale ones included
    stale: int = 0
    expected: int = 0  # a shift in progress now
    arrived: int = 0  # of those expected
    waiting: int = 0  # expected and not arrived: absent or not yet arrived
    late: int = 0  # of those expected, arrived late
    on_leave: int = 0
    on_duty: int = 0  # of those on leave, on duty away (公出)


def count(found: Iterable[Situation]) -> Counts:
    on_site = stale = expected = arrived = waiting = late = on_leave = on_duty = 0
    for s in found:
        on_site += s.on_site
        stale += s.stale
        on_leave += s.on_leave
        on_duty += s.on_duty
        if s.expected:
            expected += 1
            arrived += s.arrived
            waiting += not s.arrived
            late += s.late_min > 0
    return Counts(on_site, stale, expected, arrived, waiting, late, on_leave, on_duty)
