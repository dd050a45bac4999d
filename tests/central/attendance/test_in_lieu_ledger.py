"""The time-off-in-lieu ledger (调休台账) at its edges: last days at a month's end, soonest-lapsing days taken first,
leaves short of banked time, a year's end between a bank and a leave, and the minutes a period pays when time off
lapses or the employee leaves. Every expected figure is worked out by hand in its comment."""
from __future__ import annotations

from datetime import date

from central.attendance.in_lieu_ledger import Banked, Taking, Year, last_day, paid, years

DAY, HALF = 480, 240


def test_the_last_day_is_the_same_day_months_on_or_that_months_last() -> None:
    assert last_day(date(2026, 3, 15), 3) == date(2026, 6, 15)
    assert last_day(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert last_day(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert last_day(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert last_day(date(2026, 12, 5), 1) == date(2027, 1, 5)
    assert last_day(date(2026, 3, 15), None) is None


def test_without_an_end_the_days_are_the_banked_hours_in_half_days() -> None:
    banked = [Banked(date(2026, 3, 7), 270), Banked(date(2026, 3, 8), 210)]  # 4.5 h + 3.5 h = 8 h: one day
    assert years(banked, [Taking(date(2026, 3, 16), DAY)], [2026], date(2026, 4, 1)) == {2026: Year(0, 0, 0, None)}
    # one day and a half day asked for: the half day finds nothing left, one half day short
    found = years(banked, [Taking(date(2026, 3, 16), DAY), Taking(date(2026, 3, 17), HALF)], [2026], date(2026, 4, 1))
    assert found[2026] == Year(0, 1, 0, None)
    # 7.5 h banked, a day asked: 30 minutes short, a half day when counted
    assert years(banked[:1] + [Banked(date(2026, 3, 8), 180)], [Taking(date(2026, 3, 16), DAY)], [2026],
                 date(2026, 4, 1))[2026].short_halves == 1


def test_the_soonest_lapsing_day_is_taken_first() -> None:
    # A: 5 Jan, lasts 12 months (to 5 Jan 2027); B: 1 Feb, lasts 2 months (to 1 April). Leave on 2 March takes B,
    # leave on 1 June takes A: nothing short, nothing lapsed. Oldest first would have taken A in March and left
    # June short with B lapsed.
    banked = [Banked(date(2026, 1, 5), DAY, date(2027, 1, 5)), Banked(date(2026, 2, 1), DAY, date(2026, 4, 1))]
    leaves = [Taking(date(2026, 3, 2), DAY), Taking(date(2026, 6, 1), DAY)]
    assert years(banked, leaves, [2026], date(2026, 7, 1)) == {2026: Year(0, 0, 0, None)}


def test_what_is_not_taken_by_its_last_day_lapses() -> None:
    banked = [Banked(date(2026, 1, 10), DAY, date(2026, 4, 10))]
    # before the last day: left, and said to lapse on 10 April
    assert years(banked, [], [2026], date(2026, 3, 1)) == {2026: Year(DAY, 0, 0, (date(2026, 4, 10), DAY))}
    # the last day itself is still a day to take it on
    assert years(banked, [], [2026], date(2026, 4, 10))[2026].left_min == DAY
    # after it: lapsed, nothing left
    assert years(banked, [], [2026], date(2026, 4, 11)) == {2026: Year(0, 0, DAY, None)}
    # a half day taken in March: the other half lapses; a day asked for in June finds nothing
    taken = [Taking(date(2026, 3, 2), HALF), Taking(date(2026, 6, 1), DAY)]
    assert years(banked, taken, [2026], date(2026, 7, 1)) == {2026: Year(0, 2, HALF, None)}


def test_a_years_leave_takes_days_banked_in_its_year_or_before() -> None:
    # 8 h on 5 Dec 2026, lasting 3 months: a leave on 4 Jan 2027 may take it. 8 h on 9 Jan 2027: a leave on 28
    # Dec 2026 may not (banked in a later year), and is short.
    banked = [Banked(date(2026, 12, 5), DAY, date(2027, 3, 5)), Banked(date(2027, 1, 9), DAY, date(2027, 4, 9))]
    leaves = [Taking(date(2026, 12, 28), DAY), Taking(date(2027, 1, 4), DAY)]
    found = years(banked, leaves, [2026, 2027], date(2027, 2, 1))
    # 28 Dec takes the December day; 4 Jan takes 9 January's (banked later, in its own year): nothing short
    assert found[2026] == Year(0, 0, 0, None)
    assert found[2027] == Year(0, 0, 0, None)
    # without the December day, 28 Dec is two half days short and 2027 still takes 9 January's
    found = years(banked[1:], leaves, [2026, 2027], date(2027, 2, 1))
    assert found[2026].short_halves == 2 and found[2027] == Year(0, 0, 0, None)


def test_a_year_counts_what_was_left_at_its_end_and_what_lapses_before_a_later_year_is_not_in_it() -> None:
    banked = [Banked(date(2026, 11, 1), DAY, date(2027, 2, 1)), Banked(date(2026, 6, 1), DAY, date(2026, 9, 1))]
    # on 1 Oct 2026: June's lapsed on 1 Sept (unused), November's is left; 2027 may still use November's until 1 Feb
    found = years(banked, [], [2026, 2027], date(2026, 10, 1))
    assert found[2026] == Year(DAY, 0, DAY, (date(2027, 2, 1), DAY))
    assert found[2027] == Year(DAY, 0, 0, (date(2027, 2, 1), DAY))
    # on 1 March 2027, looking back: 2026 ended with November's day left; in 2027 it lapsed on 1 Feb
    found = years(banked, [], [2026, 2027], date(2027, 3, 1))
    assert found[2026] == Year(DAY, 0, DAY, None) and found[2027] == Year(0, 0, DAY, None)


def test_a_period_pays_what_lapsed_in_it_and_on_leaving_everything_left() -> None:
    banked = [Banked(date(2026, 1, 10), DAY, date(2026, 4, 10)), Banked(date(2026, 3, 7), 300, date(2026, 6, 7))]
    taken = [Taking(date(2026, 3, 2), HALF)]  # takes from 10 January's, the sooner to lapse: 240 of it left
    april, march = (date(2026, 4, 1), date(2026, 4, 30)), (date(2026, 3, 1), date(2026, 3, 31))
    assert paid(banked, taken, *april, today=date(2026, 5, 5)) == HALF  # 10 April's 4 h lapsed in April
    assert paid(banked, taken, *april, today=date(2026, 4, 10)) == 0  # 10 April is not over yet
    assert paid(banked, taken, *march, today=date(2026, 5, 5)) == 0
    # leaving on 20 March: both days' minutes still left are paid then: 240 + 300
    assert paid(banked, taken, *march, today=date(2026, 3, 25), leaving=date(2026, 3, 20)) == HALF + 300
    # leaving on 20 May: 10 April's was paid in April; 7 March's 300 minutes are paid in May
    assert paid(banked, taken, date(2026, 5, 1), date(2026, 5, 31), today=date(2026, 6, 2),
                leaving=date(2026, 5, 20)) == 300
    # kept until taken: nothing lapses, everything is paid on leaving
    kept = [Banked(date(2026, 1, 10), DAY)]
    assert paid(kept, [], *april, today=date(2026, 5, 5)) == 0
    assert paid(kept, [], *april, today=date(2026, 5, 5), leaving=date(2026, 4, 30)) == DAY
