"""Where an employee stands now (central.attendance.presence): the shift in progress, arrived, late, on site, stale.

Times are site-local and naive, as in the engine. Every expected value is worked out here from the shift's
hours, not read from the module.
"""
from __future__ import annotations

from datetime import date, datetime, time

from central.attendance import engine as e
from central.attendance.presence import Counts, count, situation

DAY = e.Shift("day", time(9), time(18), checkin_before_min=60, checkout_after_min=120, late_grace_min=5)
NIGHT = e.Shift("night", time(22), time(6), checkin_before_min=60, checkout_after_min=120, late_grace_min=0,
                direction="as_punched")
MONDAY = date(2026, 3, 9)  # weekly rest: Sunday (6)
WEEK = e.Calendar(weekly_rest=frozenset({6}))


def schedule(shift: e.Shift) -> e.Schedule:
    return e.Schedule({shift.name: shift}, calendar=WEEK)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm))


def punches(*times: datetime, way: str | None = None) -> list[e.PunchIn]:
    return [e.PunchIn(f"p{i}", t, way) for i, t in enumerate(times)]


WORKER = e.Person("1001", default_shift="day")


def test_before_the_start_nobody_is_expected_yet() -> None:
    now = at(MONDAY, 8, 30)
    s = situation(WORKER, schedule(DAY), [], now)
    assert (s.shift, s.date, s.expected, s.waiting, s.since_start_min) == ("day", MONDAY, False, False, -30)


def test_after_the_start_an_employee_without_a_punch_is_waited_for() -> None:
    s = situation(WORKER, schedule(DAY), [], at(MONDAY, 9, 10))
    assert s.expected and not s.arrived and s.waiting
    assert s.since_start_min == 10 and not s.on_site


def test_late_counts_whole_minutes_only_beyond_the_grace() -> None:
    on_time = situation(WORKER, schedule(DAY), punches(at(MONDAY, 9, 5)), at(MONDAY, 10))
    assert on_time.arrived and on_time.late_min == 0 and on_time.on_site  # exactly start + grace: on time
    late = situation(WORKER, schedule(DAY), punches(datetime(2026, 3, 9, 9, 7, 40)), at(MONDAY, 10))
    assert late.late_min == 7 and late.first_in == datetime(2026, 3, 9, 9, 7, 40)


def test_a_punch_after_now_is_not_seen() -> None:
    s = situation(WORKER, schedule(DAY), punches(at(MONDAY, 9, 30)), at(MONDAY, 9, 20))
    assert not s.arrived and s.waiting


def test_in_then_out_is_off_site_and_in_alone_is_on_site() -> None:
    gone = situation(WORKER, schedule(DAY), punches(at(MONDAY, 8, 55), at(MONDAY, 17)), at(MONDAY, 17, 30))
    assert gone.arrived and not gone.on_site and gone.expected  # 17:30: the shift still runs
    assert gone.last_at == at(MONDAY, 17)


def test_a_forgotten_out_is_on_site_but_stale_once_the_window_closed() -> None:
    # window closes at 18:00 + 120 min = 20:00
    inside = situation(WORKER, schedule(DAY), punches(at(MONDAY, 8, 55)), at(MONDAY, 19, 59))
    assert inside.on_site and not inside.stale
    after = situation(WORKER, schedule(DAY), punches(at(MONDAY, 8, 55)), at(MONDAY, 20, 1))
    assert after.shift is None and after.on_site and after.stale


def test_a_night_shift_is_dated_by_its_start_and_pairs_by_direction() -> None:
    night = e.Person("2001", default_shift="night")
    tuesday = date(2026, 3, 10)
    came = punches(at(MONDAY, 21, 50), way="in")
    s = situation(night, schedule(NIGHT), came, at(tuesday, 2))
    assert (s.shift, s.date, s.expected, s.arrived, s.on_site, s.late_min) == ("night", MONDAY, True, True, True, 0)
    # as punched: an out before any in is ignored, so the in still stands
    odd = [e.PunchIn("o", at(MONDAY, 21, 40), "out"), e.PunchIn("i", at(MONDAY, 22, 3), "in")]
    s = situation(night, schedule(NIGHT), odd, at(tuesday, 2))
    assert s.on_site and s.late_min == 3


def test_rest_days_leave_and_exempt_employees_are_not_expected() -> None:
    sunday = date(2026, 3, 15)
    rest = situation(WORKER, schedule(DAY), [], at(sunday, 10))
    assert rest.day_kind == "rest_day" and not rest.expected
    leave = situation(WORKER, schedule(DAY), [], at(MONDAY, 10), leave_days={MONDAY})
    assert leave.on_leave and not leave.on_duty and not leave.expected
    away = situation(WORKER, schedule(DAY), [], at(MONDAY, 10), leave_days={MONDAY}, away_days={MONDAY})
    assert away.on_leave and away.on_duty and not away.expected  # on a business trip (公出): worked elsewhere
    boss = situation(e.Person("9", default_shift="day", exempt=True), schedule(DAY), [], at(MONDAY, 10))
    assert not boss.expected


def test_without_a_shift_the_last_sixteen_hours_decide_and_twelve_make_it_stale() -> None:
    nobody = e.Person("3001")
    s = situation(nobody, schedule(DAY), punches(at(MONDAY, 7)), at(MONDAY, 10))
    assert s.shift is None and s.on_site and not s.stale
    s = situation(nobody, schedule(DAY), punches(at(MONDAY, 7)), at(MONDAY, 19, 30))
    assert s.on_site and s.stale  # 12 h 30 min since the only in
    s = situation(nobody, schedule(DAY), punches(at(MONDAY, 2)), at(MONDAY, 19, 30))
    assert not s.on_site  # older than 16 h: no longer counted


def test_counts_add_up_a_group() -> None:
    now = at(MONDAY, 10)
    found = [situation(WORKER, schedule(DAY), punches(at(MONDAY, 8, 50)), now),  # on time, on site
             situation(WORKER, schedule(DAY), punches(at(MONDAY, 9, 20), at(MONDAY, 9, 50)), now),  # late, gone
             situation(WORKER, schedule(DAY), [], now),  # waited for
             situation(WORKER, schedule(DAY), [], now, leave_days={MONDAY}),
             situation(WORKER, schedule(DAY), [], now, leave_days={MONDAY}, away_days={MONDAY}),
             situation(e.Person("x"), schedule(DAY), punches(at(MONDAY, 9)), now)]  # no shift, on site
    assert count(found) == Counts(on_site=2, stale=0, expected=3, arrived=2, waiting=1, late=1, on_leave=2, on_duty=1)


def test_where_the_clocks_go_forward_late_and_since_start_are_real_minutes() -> None:
    """Berlin, 2026-03-29: at 02:00 CET the clocks jump to 03:00 CEST. A 00:30 start (23:30 UTC the day before)
    and an arrival at 03:10 CEST (01:10 UTC) are 100 minutes apart; at 04:00 CEST (02:00 UTC) the shift began
    150 minutes ago. The wall clock alone would say 160 and 210."""
    from zoneinfo import ZoneInfo

    early = e.Shift("early", time(0, 30), time(8, 30), checkin_before_min=60, checkout_after_min=60, late_grace_min=0)
    berlin = e.Schedule({"early": early}, calendar=e.Calendar(zone=ZoneInfo("Europe/Berlin")))
    day = date(2026, 3, 29)
    s = situation(e.Person("1002", default_shift="early"), berlin, punches(at(day, 3, 10)), at(day, 4))
    assert (s.shift, s.arrived, s.late_min, s.since_start_min) == ("early", True, 100, 150)
