"""调休台账 Time off in lieu, day by day: which day's overtime each leave takes, and what lapses unused.

Plain data in, numbers out (no ORM, no clock). Each day of rest-day overtime approved as time off in lieu banks its
minutes (:class:`Banked`); a company may make them last a number of months (``last_day``: the same day of the month
that many months on, or the month's last day when it has no such day; valid through it). A leave of the in-lieu type
(:class:`Taking`) takes 480 minutes a day, 240 a half day, from the banked days it may use: banked in its own year or
before, and still valid on its day. It takes them soonest-lapsing first (then oldest), the order that leaves the most
for later leaves. What a leave cannot cover is short, counted in half days (each leave rounded up).

What is left unused on a banked day's last day lapses, and rest-day work not made up with time off is paid
(《劳动法》 第四十四条): :func:`paid` says how many minutes a period pays, those lapsing in it and, on leaving, all
that is left.
"""
from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

HALF_DAY_MIN = 4 * 60  # half of the 8-hour working day (《劳动法》 第三十六条)
NEVER = date.max


@dataclass(frozen=True)
class Banked:
    day: date  # the overtime's day
    minutes: int
    last_day: date | None = None  # valid through this day; None: kept until taken


@dataclass(frozen=True)
class Taking:
    day: date  # a day off of the in-lieu type (approved or waiting)
    minutes: int  # 480, or 240 for a half day


@dataclass(frozen=True)
class Year:
    """One calendar year of an employee's time off in lieu."""
    left_min: int  # minutes still to take at the year's end (this year: those not lapsed by ``today``)
    short_halves: int  # half days of the year's leave the banked days could not cover
    lapsed_min: int  # minutes whose last day fell in the year, before ``today``, unused
    lapsing: tuple[date, int] | None  # the next last day after ``today`` with minutes left on it, and those minutes


def last_day(day: date, months: int | None) -> date | None:
    """The last day overtime of ``day`` may be taken as time off, when it lasts ``months`` (None: no end)."""
    if months is None:
        return None
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class _Left:
    banked: Banked
    minutes: int

    @property
    def until(self) -> date:
        return self.banked.last_day or NEVER


def _allocate(banked: Sequence[Banked], takings: Iterable[Taking],
              on_year_end: Iterable[int] = ()) -> tuple[list[_Left], dict[int, int], dict[int, list[_Left]]]:
    """Each leave takes from the days it may use, soonest-lapsing first. (what is left of each banked day after all
    leaves, the short half days by year, what was left of each after the leaves up to each year of ``on_year_end``)."""
    left = [_Left(b, b.minutes) for b in sorted(banked, key=lambda b: (b.last_day or NEVER, b.day))]
    short: dict[int, int] = {}
    snapshots: dict[int, list[_Left]] = {}
    pending = sorted(set(on_year_end))
    for taking in sorted(takings, key=lambda t: t.day):
        while pending and pending[0] < taking.day.year:
            snapshots[pending.pop(0)] = [_Left(x.banked, x.minutes) for x in left]
        need = taking.minutes
        for entry in left:
            if not need:
                break
            if entry.minutes and entry.banked.day.year <= taking.day.year and taking.day <= entry.until:
                took = min(need, entry.minutes)
                entry.minutes -= took
                need -= took
        if need:
            short[taking.day.year] = short.get(taking.day.year, 0) + -(-need // HALF_DAY_MIN)
    for year in pending:
        snapshots[year] = [_Left(x.banked, x.minutes) for x in left]
    return left, short, snapshots


def years(banked: Sequence[Banked], takings: Sequence[Taking], wanted: Iterable[int], today: date) -> dict[int, Year]:
    """The employee's time off in lieu in each of ``wanted`` years, as things stand on ``today``."""
    wanted = sorted(set(wanted))
    final, short, at_end = _allocate(banked, takings, wanted)
    found: dict[int, Year] = {}
    for year in wanted:
        end = date(year, 12, 31)
        cut = max(min(end, today), date(year, 1, 1))  # lapsed before it (today, or the year's first day): gone
        still = [x for x in at_end[year] if x.banked.day <= end and x.until >= cut and x.minutes]
        lapsed = sum(x.minutes for x in final if x.until.year == year and x.until < today)
        coming = sorted((x.until, x.minutes) for x in still if x.banked.last_day is not None and x.until >= today)
        lapsing = None
        if coming:
            first = coming[0][0]
            lapsing = (first, sum(m for d, m in coming if d == first))
        found[year] = Year(sum(x.minutes for x in still), short.get(year, 0), lapsed, lapsing)
    return found


def paid(banked: Sequence[Banked], takings: Sequence[Taking], first: date, last: date, today: date,
         leaving: date | None = None) -> int:
    """Minutes of time off in lieu a period ``first``..``last`` pays: what lapsed unused on a last day in it (before
    ``today``), and, when the employee leaves on ``leaving`` within it, everything else still left."""
    final, _short, _ = _allocate(banked, takings)
    if leaving is not None and first <= leaving <= last:
        return sum(x.minutes for x in final if x.until >= first)
    return sum(x.minutes for x in final if first <= x.until <= last and x.until < today)
