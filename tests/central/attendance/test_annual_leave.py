"""Statutory annual leave (法定年休假) at its edges: the tiers' anniversaries, the year of joining and of leaving, a tier
reached within the year, 29 February, a leap year. Every expected figure is worked out by hand in its comment, as the
rules state it: (calendar days ÷ 365) × days a year, the part under a whole day not given."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from central.attendance.annual_leave import (
    PERSONAL,
    SICK,
    Absence,
    Entitlement,
    Forfeit,
    entitlement,
    forfeits,
    full_years,
    tier_days,
)


def days(year: int, started: date | None, joined: date | None = None, left: date | None = None) -> int | None:
    found = entitlement(year, started=started, joined=joined, left=left)
    return None if found is None else found.days


@pytest.mark.parametrize(("years", "expected"), [(0, 0), (1, 5), (9, 5), (10, 10), (19, 10), (20, 15), (41, 15)])
def test_the_tiers(years: int, expected: int) -> None:
    assert tier_days(years) == expected


def test_full_years_turn_on_the_anniversary_and_29_february_on_1_march() -> None:
    assert full_years(date(2016, 3, 15), date(2026, 3, 14)) == 9
    assert full_years(date(2016, 3, 15), date(2026, 3, 15)) == 10
    assert full_years(date(2016, 2, 29), date(2026, 2, 28)) == 9
    assert full_years(date(2016, 2, 29), date(2026, 3, 1)) == 10
    assert full_years(date(2030, 1, 1), date(2026, 1, 1)) == 0  # not started yet


def test_a_whole_year_at_one_tier_gives_its_days_and_a_leap_year_no_more() -> None:
    assert entitlement(2026, started=date(2000, 5, 1), joined=date(2010, 1, 1), left=None) == Entitlement(15, 26, False)
    assert days(2026, date(2025, 1, 1)) == 5  # one full year on 1 January 2026: the whole year at 5
    assert days(2026, date(2016, 12, 31)) == 5  # 9 full years until 31 Dec: 364 × 5 + 1 × 10 = 1830 / 365 = 5.01
    assert days(2028, date(2000, 1, 1)) == 15  # 366 × 15 / 365 = 15.04, never above the year's tier
    assert days(2026, date(2026, 3, 1)) == 0  # under a year all year


def test_a_tier_reached_within_the_year_counts_each_part_by_its_days() -> None:
    # 10 years on 15 March: 1 Jan-14 Mar 73 days × 5 + 15 Mar-31 Dec 292 days × 10 = 3285 / 365 = 9
    assert entitlement(2026, started=date(2016, 3, 15), joined=None, left=None) == Entitlement(9, 10, True)
    # 1 year on 2 July: 182 days × 0 + 183 days × 5 = 915 / 365 = 2.51 → 2
    assert days(2026, date(2025, 7, 2)) == 2
    # 20 years on 31 December: 364 days × 10 + 1 × 15 = 3655 / 365 = 10.01 → 10
    assert days(2026, date(2006, 12, 31)) == 10
    # started 29 Feb 2016, 10 years on 1 March 2026: 59 days × 5 + 306 days × 10 = 3355 / 365 = 9.19 → 9
    assert days(2026, date(2016, 2, 29)) == 9
    # 1 year on 1 March of a leap year: 60 × 0 + 306 × 5 = 1530 / 365 = 4.19 → 4
    assert days(2028, date(2027, 3, 1)) == 4


def test_the_year_of_joining_and_of_leaving_are_shares_of_the_year() -> None:
    # joined 1 Oct with 16 years of working life: 92 days × 10 = 920 / 365 = 2.52 → 2
    assert days(2026, date(2010, 1, 1), joined=date(2026, 10, 1)) == 2
    # left 30 June after 26 years: 181 days × 15 = 2715 / 365 = 7.44 → 7; the leaving day counts
    assert entitlement(2026, started=date(2000, 5, 1), joined=date(2001, 1, 1),
                       left=date(2026, 6, 30)) == Entitlement(7, 26, True)
    # joined 1 Jan and left 31 Dec: the whole year
    assert days(2026, date(2000, 5, 1), joined=date(2026, 1, 1), left=date(2026, 12, 31)) == 15
    # joined on the year's last day: 1 × 15 / 365 → 0
    assert days(2026, date(2000, 5, 1), joined=date(2026, 12, 31)) == 0
    # not employed in the year at all
    assert days(2026, date(2000, 5, 1), joined=date(2027, 2, 1)) == 0
    assert days(2026, date(2000, 5, 1), joined=date(2001, 1, 1), left=date(2025, 12, 31)) == 0


def test_without_a_start_the_working_life_counts_from_joining_and_without_either_nothing_is_known() -> None:
    # joined 1 April 2025, no earlier employer given: 1 year on 1 April 2026: 90 days × 0 + 275 × 5 = 1375 / 365 = 3.77
    assert days(2026, None, joined=date(2025, 4, 1)) == 3
    assert entitlement(2026, started=None, joined=None, left=None) is None


def run(first: date, n: int, cause: str = SICK, calendar: bool = False) -> list[Absence]:
    """``n`` whole days of leave from ``first``, one after the other (which weekdays they are is the caller's)."""
    return [Absence(first + timedelta(days=i), Decimal(1), cause, calendar) for i in range(n)]


def test_sick_leave_of_two_months_forfeits_the_year_and_a_half_day_short_does_not() -> None:
    begun = date(2020, 1, 1)  # 6 years of working life: 2 months, 2 × 21.75 = 43.5 working days
    sick = run(date(2026, 3, 1), 43)  # 1 March - 12 April
    assert forfeits(sick, [], begun) == {}
    reached = date(2026, 4, 13)
    half = [*sick, Absence(reached, Decimal("0.5"), SICK)]  # 43.5 on 13 April: "以上" includes 2 months itself
    assert forfeits(half, [], begun) == {2026: Forfeit(SICK, reached, 2, Decimal("43.5"), 2026)}


def test_annual_leave_taken_before_the_day_moves_the_loss_to_the_next_year() -> None:
    begun, sick = date(2020, 1, 1), run(date(2026, 3, 1), 44)  # 44th day 13 April
    assert forfeits(sick, [date(2026, 2, 27)], begun)[2027] == Forfeit(SICK, date(2026, 4, 13), 2, Decimal(44), 2027)
    assert forfeits(sick, [date(2026, 2, 27)], begun)[2027].next_year
    assert list(forfeits(sick, [date(2026, 4, 20)], begun)) == [2026]  # taken after: this year's is lost
    assert list(forfeits(sick, [date(2025, 12, 30)], begun)) == [2026]  # last year's annual leave does not count


def test_the_months_follow_the_working_life_on_the_day_counted() -> None:
    # 70 days from 1 May 2026; day 44 is 13 June. Started 1 Aug 2016: 9 years on 13 June, 2 months (43.5) reached
    sick = run(date(2026, 5, 1), 70)
    assert forfeits(sick, [], date(2016, 8, 1))[2026].reached == date(2026, 6, 13)
    # started 1 June 2016: 10 years from 1 June, 3 months = 65.25 days, reached on the 66th day, 5 July
    assert forfeits(sick, [], date(2016, 6, 1))[2026] == Forfeit(SICK, date(2026, 7, 5), 3, Decimal(66), 2026)
    # 20 years: 4 months = 87 days, more than the 70
    assert forfeits(sick, [], date(2006, 1, 1)) == {}
    assert forfeits(run(date(2026, 1, 1), 87), [], date(2006, 1, 1))[2026].months == 4
    # no start known: 2 months
    assert forfeits(sick, [], None)[2026].reached == date(2026, 6, 13)


def test_calendar_day_types_count_30_days_a_month_and_each_year_counts_alone() -> None:
    begun = date(2020, 1, 1)
    assert forfeits(run(date(2026, 3, 1), 59, calendar=True), [], begun) == {}
    assert forfeits(run(date(2026, 3, 1), 60, calendar=True), [], begun)[2026].reached == date(2026, 4, 29)
    # 30 days in December and 30 in January: neither year has 43.5
    assert forfeits(run(date(2025, 12, 2), 30) + run(date(2026, 1, 1), 30), [], begun) == {}


def test_twenty_days_of_paid_personal_leave_forfeit_the_year() -> None:
    begun = date(2020, 1, 1)
    personal = run(date(2026, 6, 1), 19) + [Absence(date(2026, 7, 1), Decimal("0.5"), PERSONAL)]
    personal = [Absence(a.day, a.days, PERSONAL) for a in personal]
    assert forfeits(personal, [], begun) == {}  # 19.5 days
    twenty = [*personal, Absence(date(2026, 7, 2), Decimal("0.5"), PERSONAL)]
    assert forfeits(twenty, [], begun) == {2026: Forfeit(PERSONAL, date(2026, 7, 2), None, Decimal(20), 2026)}
    # sick and personal days are counted apart: 19 personal and 40 sick forfeit nothing
    assert forfeits(personal[:19] + run(date(2026, 8, 1), 40), [], begun) == {}
