"""Days carried over (结转), the pure rules: what carries (unused own days, at most the cap, from the first year that
carries and never from before joining), that carried days never carry again, until when they last, which days a
leave takes first, and what lapses. Every expected figure is worked out by hand in the comment beside it."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from central.attendance.carry_over import CarryRule, chain


def days(first: date, n: int, each: str = "1") -> list[tuple[date, D]]:
    """``n`` consecutive days off from ``first``."""
    return [(first + timedelta(days=i), D(each)) for i in range(n)]


def test_unused_days_carry_up_to_the_cap_and_leave_before_their_last_day_takes_them_first() -> None:
    rule = CarryRule(cap=D(5), since=2026, until_month=3)
    taken = {2026: days(date(2026, 5, 4), 3), 2027: days(date(2027, 2, 10), 2) + days(date(2027, 5, 1), 4)}
    found = chain(rule, {2026: D(10), 2027: D(10)}, taken, [2026, 2027, 2028])
    # 2026: nothing carried in (the first year that carries); 3 of its own 10 taken, 7 unused
    assert (found[2026].carried, found[2026].own_taken) == (D(0), D(3))
    # 2027: 7 unused, 5 at most carry, until 31 March; the 2 days of February take carried days, the 4 of May own ones
    c = found[2027]
    assert (c.carried, c.expires, c.carried_taken, c.own_taken) == (D(5), date(2027, 3, 31), D(2), D(4))
    # the 3 carried days not taken are still there on their last day and lapse the day after
    assert c.lapsed(date(2027, 3, 31)) == D(0) and c.lapsed(date(2027, 4, 1)) == D(3)
    # 2028: 2027's own 10 less the 4 own days taken: 6 unused, 5 carry (the lapsed 3 carried days never do)
    assert found[2028].carried == D(5)


def test_carried_days_never_carry_again() -> None:
    rule = CarryRule(cap=D(10), since=2026)
    found = chain(rule, {2026: D(10), 2027: D(10)}, {}, [2027, 2028])
    # nothing taken: 10 carried into 2027, lasting all year; 2028 gets 2027's own 10 unused, not 20
    assert (found[2027].carried, found[2027].expires) == (D(10), date(2027, 12, 31))
    assert found[2028].carried == D(10)


def test_nothing_carries_from_before_the_first_year_nor_from_before_joining() -> None:
    rule = CarryRule(cap=D(5), since=2027)
    allowance = {2025: D(5), 2026: D(5), 2027: D(5)}
    # 2026 was settled outside the system: its unused days do not carry into 2027; 2027's do into 2028
    found = chain(rule, allowance, {}, [2027, 2028])
    assert (found[2027].carried, found[2028].carried) == (D(0), D(5))
    # joined 1 July 2026, carrying since 2020: the type's days of 2025, before joining, carry nothing into 2026;
    # the 2026 days do into 2027
    joined = chain(CarryRule(cap=D(5), since=2020), allowance, {}, [2026, 2027], joined=date(2026, 7, 1))
    assert (joined[2026].carried, joined[2027].carried) == (D(0), D(5))


def test_half_days_the_last_day_itself_and_a_leap_february() -> None:
    rule = CarryRule(cap=D(3), since=2027, until_month=2)
    # 2027: 10 own, 8.5 taken (17 half days): 1.5 unused carry into 2028, the cap not reached
    taken = {2027: days(date(2027, 6, 1), 17, "0.5"),
             # 2028 is a leap year: carried days last to 29 February; a half day on that day still takes one of them,
             # the half day of 1 March an own one
             2028: [(date(2028, 2, 29), D("0.5")), (date(2028, 3, 1), D("0.5"))]}
    found = chain(rule, {2027: D(10), 2028: D(10)}, taken, [2028])
    c = found[2028]
    assert (c.carried, c.expires, c.carried_taken, c.own_taken) == (D("1.5"), date(2028, 2, 29), D("0.5"), D("0.5"))
    assert c.unused_carried() == D(1) and c.lapsed(date(2028, 3, 1)) == D(1)


def test_an_overdrawn_year_or_one_without_an_allowance_carries_nothing() -> None:
    rule = CarryRule(cap=D(5), since=2026)
    # 2026: 6 taken of 5 (an allowance lowered after the leave): nothing unused. 2027 has no allowance (an own
    # allowance for 2026 only, on a type without days a year): nothing to carry into 2028
    found = chain(rule, {2026: D(5)}, {2026: days(date(2026, 3, 2), 6)}, [2027, 2028])
    assert (found[2027].carried, found[2028].carried) == (D(0), D(0))
    # more leave before the last day than was carried: the carried days are all taken, the rest are own days
    more = chain(rule, {2026: D(5), 2027: D(5)}, {2027: days(date(2027, 1, 4), 7)}, [2027])[2027]
    assert (more.carried, more.carried_taken, more.own_taken) == (D(5), D(5), D(2))
