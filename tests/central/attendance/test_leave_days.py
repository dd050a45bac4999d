"""Which days a leave takes off (central.attendance.engine.leave_days): working days by the employee's own schedule,
or every day for a leave counted in calendar days. Every expected list is worked out here from a calendar of
the week of 30 March 2026 (Monday) to 5 April (Sunday), not read from the module."""
from __future__ import annotations

from datetime import date, time, timedelta

from central.attendance import engine as e

DAY = e.Shift("day", time(9), time(18))
NIGHT = e.Shift("night", time(22), time(6))
MON, SUN = date(2026, 3, 30), date(2026, 4, 5)
FRIDAY_HOLIDAY = date(2026, 4, 3)


def days(*numbers: int) -> list[date]:
    """Days of that week by their number in the month (30, 31 are March; 1-5 are April)."""
    return [date(2026, 3, n) if n >= 30 else date(2026, 4, n) for n in numbers]


def office(**calendar: object) -> e.Schedule:
    return e.Schedule({"day": DAY}, calendar=e.Calendar(weekly_rest=frozenset({5, 6}), **calendar))  # type: ignore[arg-type]


CLERK = e.Person("1001", default_shift="day")


def test_a_week_of_leave_takes_off_the_working_days_only() -> None:
    assert e.leave_days(office(), CLERK, MON, SUN, natural=False) == days(30, 31, 1, 2, 3)


def test_a_holiday_inside_the_leave_is_not_taken_off_and_a_make_up_working_day_is() -> None:
    schedule = office(holidays=frozenset({FRIDAY_HOLIDAY}), workdays=frozenset({SUN}))
    assert e.leave_days(schedule, CLERK, MON, SUN, natural=False) == days(30, 31, 1, 2, 5)


def test_a_leave_counted_in_calendar_days_takes_off_every_day() -> None:
    schedule = office(holidays=frozenset({FRIDAY_HOLIDAY}))
    assert e.leave_days(schedule, CLERK, MON, SUN, natural=True) == days(30, 31, 1, 2, 3, 4, 5)


def test_a_rotation_crew_takes_off_its_shift_days_weekend_included_and_not_its_rest_days() -> None:
    # day, day, night, night, rest, rest from Monday 30 March: Fri 3 and Sat 4 April rest, Sun 5 a day shift again
    schedule = e.Schedule({"day": DAY, "night": NIGHT},
                          {"crew": e.Rotation("crew", MON, ("day", "day", "night", "night", None, None))},
                          (e.Assignment(MON, None, rotation="crew"),), e.Calendar(weekly_rest=frozenset({5, 6})))
    worker = e.Person("2001")
    assert e.leave_days(schedule, worker, MON, SUN, natural=False) == days(30, 31, 1, 2, 5)


def test_without_any_schedule_the_sites_calendar_decides() -> None:
    nobody_planned = e.Person("3001")
    schedule = office(holidays=frozenset({FRIDAY_HOLIDAY}))
    assert e.leave_days(schedule, nobody_planned, MON, SUN, natural=False) == days(30, 31, 1, 2)


def test_days_outside_the_employment_are_never_taken_off() -> None:
    joined_wednesday = e.Person("1002", joined=date(2026, 4, 1), left=date(2026, 4, 4), default_shift="day")
    assert e.leave_days(office(), joined_wednesday, MON, SUN, natural=False) == days(1, 2, 3)
    assert e.leave_days(office(), joined_wednesday, MON, SUN, natural=True) == days(1, 2, 3, 4)
    assert e.leave_days(office(), e.Person("1003", active=False, default_shift="day"), MON, SUN, natural=True) == []


def test_a_leave_of_one_rest_day_takes_off_nothing() -> None:
    saturday = MON + timedelta(days=5)
    assert e.leave_days(office(), CLERK, saturday, saturday, natural=False) == []
