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

* **A year forfeited** (条例 第四条, 实施办法 第八条, :func:`forfeits`): sick leave reaching 2 months in a year (3 months
  from 10 years of working life, 4 from 20), or personal leave the employer paid reaching 20 days, leaves the
  employee no statutory annual leave that year; when some of that year's annual leave was taken before the day it
  was reached, the next year's is forfeited instead. "以上" includes the number itself, so reaching the figure is
  enough. A month of leave is 21.75 days of a type counted in working days (月计薪天数, 劳社部发〔2008〕3号) or 30 of
  one counted in calendar days. Not counted: 第四条 第一项, school holidays, which a company does not have.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
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


# -- 条例 第四条: leave that forfeits a year's statutory annual leave ---------------------------------------------
SICK, PERSONAL = "sick", "personal"
SICK_MONTHS: tuple[tuple[int, int], ...] = ((20, 4), (10, 3), (0, 2))  # (full years of working life, months of sick leave)
PERSONAL_DAYS = 20  # days of personal leave the employer paid (第四条 第二项)
MONTH_WORKING_DAYS = Fraction(87, 4)  # 21.75 working days a month (月计薪天数)
MONTH_CALENDAR_DAYS = 30


@dataclass(frozen=True)
class Absence:
    """One day of leave that counts against statutory annual leave."""
    day: date
    days: Decimal  # 1, or 0.5 for a half day
    cause: str  # SICK or PERSONAL
    calendar: bool = False  # its type counts calendar days (a month is 30 of them), else working days (21.75)


@dataclass(frozen=True)
class Forfeit:
    """Why a year's statutory annual leave is not given."""
    cause: str  # SICK or PERSONAL
    reached: date  # the day the leave reached the figure
    months: int | None  # SICK: the months of sick leave that forfeit, by the working life on that day
    days: Decimal  # days of that leave in its year up to ``reached``
    year: int  # the year whose annual leave is forfeited: the year it was reached, or the next (实施办法 第八条)

    @property
    def next_year(self) -> bool:
        return self.year != self.reached.year


def sick_months(years: int) -> int:
    """Months of sick leave in a year that forfeit the year's annual leave, for ``years`` full years of working life."""
    return next(months for least, months in SICK_MONTHS if years >= least)


def forfeits(absences: Iterable[Absence], annual: Iterable[date], begin: date | None) -> dict[int, Forfeit]:
    """The years whose statutory annual leave is forfeited, from the days of sick and paid personal leave
    (``absences``, approved) and the days of statutory annual leave taken (``annual``), for a working life that
    began on ``begin`` (unknown: the 2-month figure). Each calendar year counts its own days from 1 January."""
    taken = sorted(annual)
    found: dict[int, Forfeit] = {}
    by_year: dict[int, list[Absence]] = {}
    for absence in sorted(absences, key=lambda a: a.day):
        by_year.setdefault(absence.day.year, []).append(absence)
    for year, days in sorted(by_year.items()):
        sick = Fraction(0)
        counted = {SICK: Decimal(0), PERSONAL: Decimal(0)}
        for absence in days:
            counted[absence.cause] += absence.days
            months: int | None = None
            if absence.cause == SICK:
                sick += Fraction(absence.days) / (MONTH_CALENDAR_DAYS if absence.calendar else MONTH_WORKING_DAYS)
                months = sick_months(full_years(begin, absence.day) if begin else 0)
                if sick < months:
                    continue
            elif counted[PERSONAL] < PERSONAL_DAYS:
                continue
            before = any(year == day.year and day < absence.day for day in taken)
            lost = year + 1 if before else year
            found.setdefault(lost, Forfeit(absence.cause, absence.day, months, counted[absence.cause], lost))
            break
    return found
