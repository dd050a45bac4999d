"""法定年休假 Statutory annual leave: the whole days of it an employee has in a calendar year.

Plain dates in, days out (no ORM, no clock). The rules, from 《职工带薪年休假条例》 (2007) and
《企业职工带薪年休假实施办法》 (2008):

* **Tiers by working life** (条例 第三条): the years an employee has worked, at earlier employers too, give
  5 days a year from 1 full year, 10 from 10 and 15 from 20; under one year, none.
* **The year of joining** (实施办法 第五条): (calendar days left in the year from the joining day ÷ 365) × the
  year's days; the part under a whole day is not given.
* **The year of leaving** (第十二条): (calendar days of the year up to the leaving day ÷ 365) × the year's days;
  the days already taken are subtracted by the balance, as in every year.
* **A working life that reaches 1, 10 or 20 years within the year** counts the days before at the old tier and the
  days from the anniversary at the new one, each by its share of 365, the part under a whole day again not given
  (the reading of the joining-year rule local rules such as Shanghai's take). Never more than the year's highest tier:
  a leap year's 366 days give no extra day.

The working life starts at ``started`` (参加工作); without it, at joining this employer (``joined``): a lower bound,
which HR corrects by giving the start. Neither known: no entitlement can be worked out (``None``).

Not counted here (条例 第四条): the years in which long sick leave or unpaid personal leave forfeits the year's
leave; HR sets such an employee's own allowance for the year instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

TIERS: tuple[tuple[int, int], ...] = ((20, 15), (10, 10), (1, 5))  # (full years of working life, days a year)
YEAR_DAYS = 365  # the rules divide by 365 in every year


@dataclass(frozen=True)
class Entitlement:
    days: int  # whole days of statutory annual leave in the year
    years: int  # full years of working life on the last day counted (the year's end, or the leaving day)
    prorated: bool  # joined, left or reached a new tier within the year: a share of the year, rounded down


def tier_days(years: int) -> int:
    """Days a year for ``years`` full years of working life."""
    return next((days for least, days in TIERS if years >= least), 0)


def full_years(started: date, day: date) -> int:
    """Full years from ``started`` to ``day`` (a year is full on its anniversary; one started on 29 February
    completes its years on 1 March of a common year)."""
    years = day.year - started.year - ((day.month, day.day) < (started.month, started.day))
    return max(years, 0)


def anniversary(started: date, years: int) -> date:
    """The day ``years`` full years of working life are reached."""
    try:
        return started.replace(year=started.year + years)
    except ValueError:  # 29 February in a common year
        return date(started.year + years, 3, 1)


def entitlement(year: int, *, started: date | None, joined: date | None, left: date | None) -> Entitlement | None:
    """The statutory annual leave of ``year`` for an employee who started working on ``started`` (or, unknown, on
    ``joined``), joined this employer on ``joined`` and left it on ``left`` (the leaving day still counts)."""
    begin = started or joined
    if begin is None:
        return None
    first = max(date(year, 1, 1), joined) if joined else date(year, 1, 1)
    last = min(date(year, 12, 31), left) if left else date(year, 12, 31)
    if last < first:
        return Entitlement(0, full_years(begin, min(last, date(year, 12, 31))), True)
    # the stretches of [first, last] at one tier: cut at the anniversaries that reach a new tier
    cuts = sorted(day for day in (anniversary(begin, least) for least, _ in TIERS) if first < day <= last)
    share, highest, start = Fraction(0), 0, first
    for end in [*cuts, last + timedelta(days=1)]:
        days = tier_days(full_years(begin, start))
        share += Fraction((end - start).days * days, YEAR_DAYS)
        highest = max(highest, days)
        start = end
    prorated = bool(cuts) or first != date(year, 1, 1) or last != date(year, 12, 31)
    return Entitlement(min(int(share), highest), full_years(begin, last), prorated)
