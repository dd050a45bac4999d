"""Days carried over (结转): the unused days of one year's leave allowance that a leave type lets into the next.

The rules, for a leave type with carry-over (a pure module: plain data in, figures out):

* **What carries**: the part of a year's own allowance (the type's days a year, the employee's own for the year or
  the statutory days) not taken by the year's end, at most ``cap`` days. The first year whose days carry is
  ``since`` (the year HR switched carry-over on), and never a year before the employee joined.
* **Once only**: days carried into a year never carry again (《企业职工带薪年休假实施办法》 第九条: annual leave may be
  put off by one year, not more).
* **Until when**: to the last day of month ``until_month`` of the next year; ``None``: the whole next year.
* **Which days a leave takes**: a day off on or before the carried days' last day takes a carried day while there
  are any, every other day one of the year's own. A leave waiting for approval holds its days like an approved one.
* **What is left**: the year's own days not taken, plus the carried days not taken, until they lapse.
"""
from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class CarryRule:
    cap: Decimal  # the most days one year carries into the next
    since: int  # the first year whose unused days carry
    until_month: int | None = None  # carried days last to the end of this month of the next year; None: all year

    def expires(self, year: int) -> date:
        """The last day on which days carried into ``year`` may be taken."""
        month = self.until_month or 12
        return date(year, month, calendar.monthrange(year, month)[1])


@dataclass(frozen=True)
class YearCarry:
    carried: Decimal  # days carried in from the year before
    expires: date  # their last day
    carried_taken: Decimal  # of the year's days off, those that took carried days
    own_taken: Decimal  # those that took the year's own allowance

    def unused_carried(self) -> Decimal:
        return self.carried - self.carried_taken

    def lapsed(self, today: date) -> Decimal:
        """Carried days lost by ``today``: those not taken once their last day has passed."""
        return self.unused_carried() if today > self.expires else ZERO


def chain(rule: CarryRule, allowance: Mapping[int, Decimal], taken: Mapping[int, Iterable[tuple[date, Decimal]]],
          years: Iterable[int], joined: date | None = None) -> dict[int, YearCarry]:
    """Each of ``years``: what was carried into it and how its days off split between carried and own days.

    ``allowance``: the year's own allowance (a year without one carries nothing); ``taken``: the year's days off as
    (day, days: 1 or 0.5), approved and waiting."""
    wanted = sorted(set(years))
    if not wanted:
        return {}
    first = max(rule.since, joined.year) if joined is not None else rule.since
    found: dict[int, YearCarry] = {}
    carried = ZERO
    for year in range(min(first, wanted[0]), wanted[-1] + 1):
        expires = rule.expires(year)
        days = list(taken.get(year, ()))
        before = sum((n for day, n in days if day <= expires), ZERO)
        carried_taken = min(carried, before)
        own_taken = sum((n for _, n in days), ZERO) - carried_taken
        found[year] = YearCarry(carried, expires, carried_taken, own_taken)
        own = allowance.get(year)
        carried = min(rule.cap, max(ZERO, own - own_taken)) if year >= first and own is not None else ZERO
    return {year: found[year] for year in wanted}
