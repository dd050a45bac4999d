"""Which records a new punch can change: the follower recomputes those and no fewer.

engine.dates_reaching gives the dates whose occurrences can hold a punch of a day (from the shift types
alone); engine.touched narrows them to the occurrences of the employee's own schedule that do hold it.
"""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from central.attendance import engine as e

DAY = e.Shift("day", time(8), time(17), checkin_before_min=60, checkout_after_min=120)
NIGHT = e.Shift("night", time(22), time(6), checkin_before_min=60, checkout_after_min=120)
SMALL_HOURS = e.Shift("small hours", time(0, 30), time(8, 30), checkin_before_min=60, checkout_after_min=0)


def reaching(day: date, *shifts: e.Shift) -> tuple[date, date]:
    return e.dates_reaching(e.Schedule({s.name: s for s in shifts}), day)


def test_a_day_shift_punch_can_belong_only_to_its_own_day() -> None:
    assert reaching(date(2026, 3, 10), DAY) == (date(2026, 3, 10), date(2026, 3, 10))


def test_a_morning_punch_can_belong_to_last_nights_shift() -> None:
    assert reaching(date(2026, 3, 10), NIGHT) == (date(2026, 3, 9), date(2026, 3, 10))
    assert reaching(date(2026, 3, 10), NIGHT, DAY) == (date(2026, 3, 9), date(2026, 3, 10))


def test_a_late_evening_punch_can_belong_to_tomorrows_shift() -> None:
    # the 11th's 00:30 shift opens at 23:30 on the 10th
    assert reaching(date(2026, 3, 10), SMALL_HOURS) == (date(2026, 3, 10), date(2026, 3, 11))
    assert reaching(date(2026, 3, 10), SMALL_HOURS, NIGHT) == (date(2026, 3, 9), date(2026, 3, 11))


def test_a_check_out_margin_past_a_whole_day_reaches_two_days_back() -> None:
    long_out = e.Shift("long", time(22), time(6), checkout_after_min=25 * 60)  # closes 07:00 two days on
    assert reaching(date(2026, 3, 10), long_out) == (date(2026, 3, 8), date(2026, 3, 10))


# -- the engine's narrowing for one employee (engine.touched) ---------------------------------------------------
MORNING = e.Shift("morning", time(6), time(10), checkin_before_min=30, checkout_after_min=30)
EVENING = e.Shift("evening", time(17), time(21), checkin_before_min=30, checkout_after_min=30)


def split_shift_schedule() -> e.Schedule:
    shifts = {s.name: s for s in (MORNING, EVENING, NIGHT)}
    both = (e.Assignment(date(2026, 3, 1), None, shift="morning"), e.Assignment(date(2026, 3, 1), None, shift="evening"))
    return e.Schedule(shifts, assignments=both)


def test_touched_names_only_the_occurrences_holding_a_punch_and_the_span_of_their_whole_days() -> None:
    found = e.touched(split_shift_schedule(), e.Person("E1"), [datetime(2026, 3, 10, 19, 0)],
                      date(2026, 3, 9), date(2026, 3, 11))
    # the evening shift of the 10th holds it; the morning of the same day is recomputed too, so its window counts
    assert found == e.Touched(date(2026, 3, 10), date(2026, 3, 10), datetime(2026, 3, 10, 5, 30),
                              datetime(2026, 3, 10, 21, 30))


def test_touched_is_none_for_a_punch_no_occurrence_holds() -> None:
    assert e.touched(split_shift_schedule(), e.Person("E1"), [datetime(2026, 3, 10, 13, 0)],
                     date(2026, 3, 9), date(2026, 3, 11)) is None


def test_touched_spans_every_day_between_two_punches() -> None:
    found = e.touched(split_shift_schedule(), e.Person("E1"),
                      [datetime(2026, 3, 9, 6, 0), datetime(2026, 3, 11, 9, 0)], date(2026, 3, 9), date(2026, 3, 11))
    assert found is not None and (found.first, found.last) == (date(2026, 3, 9), date(2026, 3, 11))
    assert (found.opens, found.closes) == (datetime(2026, 3, 9, 5, 30), datetime(2026, 3, 11, 21, 30))


def test_a_split_shift_keeps_its_morning_when_the_evening_punch_arrives() -> None:
    """The follower narrows the run and the punches it reads to what the new punch can change: the morning
    occurrence of the same date is recomputed from its own punches, not left without them."""
    schedule, person = split_shift_schedule(), e.Person("E1")
    punches = [e.PunchIn("a", datetime(2026, 3, 10, 5, 55)), e.PunchIn("b", datetime(2026, 3, 10, 10, 5)),
               e.PunchIn("c", datetime(2026, 3, 10, 16, 58))]
    span = e.touched(schedule, person, [datetime(2026, 3, 10, 16, 58)], date(2026, 3, 9), date(2026, 3, 11))
    assert span is not None
    kept = [p for p in punches if span.opens <= p.at <= span.closes]
    result = e.evaluate(schedule, person, kept, [], first=span.first, last=span.last, finality=e.Finality())
    by_shift = {r.shift: r for r in result.records}
    assert by_shift["morning"].status == "present" and by_shift["morning"].hours == Decimal("4.17")  # 05:55 to 10:05
    assert by_shift["evening"].first_in == datetime(2026, 3, 10, 16, 58) and by_shift["evening"].missing_out
