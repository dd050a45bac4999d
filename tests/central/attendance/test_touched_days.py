"""Which days a new punch can change: the follower recomputes those and no fewer (inputs.employees_touched)."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from central.attendance import engine as e
from central.attendance.inputs import employees_touched

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = e.Shift("day", time(8), time(17), checkin_before_min=60, checkout_after_min=120)
NIGHT = e.Shift("night", time(22), time(6), checkin_before_min=60, checkout_after_min=120)
SMALL_HOURS = e.Shift("small hours", time(0, 30), time(8, 30), checkin_before_min=60, checkout_after_min=0)


def touched(local: datetime, *shifts: e.Shift) -> tuple[date, date]:
    at = local.replace(tzinfo=SHANGHAI).astimezone(timezone.utc)
    return employees_touched([("E1", at)], {"E1": SHANGHAI}, shifts)["E1"]


def test_a_day_shift_punch_touches_its_own_day_only() -> None:
    assert touched(datetime(2026, 3, 10, 7, 0), DAY) == (date(2026, 3, 10), date(2026, 3, 10))
    assert touched(datetime(2026, 3, 10, 19, 0), DAY) == (date(2026, 3, 10), date(2026, 3, 10))


def test_a_morning_punch_can_close_last_nights_shift() -> None:
    # 07:30 is inside the night shift of the 9th (closes 08:00 on the 10th), not inside the 10th's (opens 21:00)
    assert touched(datetime(2026, 3, 10, 7, 30), NIGHT) == (date(2026, 3, 9), date(2026, 3, 9))
    # 08:00 exactly is still the 9th's window edge (inclusive); 08:01 belongs to no night shift
    assert touched(datetime(2026, 3, 10, 8, 0), NIGHT) == (date(2026, 3, 9), date(2026, 3, 9))
    assert touched(datetime(2026, 3, 10, 7, 30), NIGHT, DAY) == (date(2026, 3, 9), date(2026, 3, 10))


def test_a_late_evening_punch_can_open_tomorrows_shift() -> None:
    # the 11th's 00:30 shift opens at 23:30 on the 10th
    assert touched(datetime(2026, 3, 10, 23, 45), SMALL_HOURS) == (date(2026, 3, 11), date(2026, 3, 11))
    assert touched(datetime(2026, 3, 10, 23, 45), SMALL_HOURS, NIGHT) == (date(2026, 3, 10), date(2026, 3, 11))


def test_a_punch_outside_every_window_still_touches_its_day() -> None:
    assert touched(datetime(2026, 3, 10, 3, 0), DAY) == (date(2026, 3, 10), date(2026, 3, 10))


def test_several_punches_widen_one_span() -> None:
    rows = [("E1", datetime(2026, 3, 10, 7, 30, tzinfo=SHANGHAI).astimezone(timezone.utc)),
            ("E1", datetime(2026, 3, 12, 18, 0, tzinfo=SHANGHAI).astimezone(timezone.utc))]
    assert employees_touched(rows, {"E1": SHANGHAI}, [NIGHT, DAY]) == {"E1": (date(2026, 3, 9), date(2026, 3, 12))}


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
