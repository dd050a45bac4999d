"""The live dashboard's late and missing-out lists across the sites' local midnight: each shift's records are listed
by its board day (the date of its occurrence whose window holds now, else the site's today), so the late arrivals
of a shift that began before midnight stay on the board after it, and a day shift's lists turn at midnight as before.
Runs on SQLite and, with --central-db=postgresql, on PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest

from central.accounts.models import Role, User
from central.attendance.engine import Shift
from central.attendance.models import DailyRecord
from central.attendance.services import recompute
from central.live import selectors
from central.live.selectors import board_day, dashboard

from .dashboard_day import NOW, TUESDAY, build_day

pytestmark = pytest.mark.django_db

UTC = timezone.utc
AFTER_MIDNIGHT = datetime(2026, 3, 10, 16, 30, tzinfo=UTC)  # Wednesday 2026-03-11 00:30 in Shanghai
WEDNESDAY = date(2026, 3, 11)


def root() -> User:
    return User.objects.create_user("root", password="x" * 12, role=Role.HR_ADMIN, is_superuser=True)


def numbers(rows: selectors.Capped[selectors.PersonRow]) -> list[str]:
    return [r.number for r in rows.rows]


def test_a_shift_that_began_before_midnight_keeps_its_late_arrivals_on_the_board_after_it(db: Any) -> None:
    made = build_day(AFTER_MIDNIGHT)  # the shift began Tuesday 23:30 and runs to Wednesday 08:30
    assert made["today"] == TUESDAY and made["yesterday"] == TUESDAY - timedelta(days=1)
    board = dashboard(root(), now=AFTER_MIDNIGHT)
    # A2 came 12 minutes late and A3 30 (at 23:42 and 00:00): the night shift in progress, dated Tuesday
    assert [(r.number, r.minutes) for r in board.late.rows] == [("A3", 30), ("A2", 12)]
    assert board.late_today == 2
    assert {(g.department, g.late_today) for g in board.groups} == {("装配", 2), ("质检", 0), ("仓储", 0)}
    # and the missing outs are those of the occurrence before it (Monday's, A2 and Q2 came in only)
    assert sorted(numbers(board.missing_out)) == ["A2", "Q2"] and board.missing_out_yesterday == 2
    # and A2's own page: the night's record, 12 minutes late, and the missing out of the night before
    me = User.objects.create_user("a2", password="x" * 12, role=Role.EMPLOYEE, employee=made["people"]["A2"])
    mine = dashboard(me, now=AFTER_MIDNIGHT).my_day
    assert mine is not None
    assert [(r.date, r.late_min) for r in mine.today] == [(TUESDAY, 12)]
    assert [r.date for r in mine.yesterday_missing_out] == [TUESDAY - timedelta(days=1)]


def test_a_day_shift_turns_at_midnight_as_before(db: Any) -> None:
    build_day(NOW)  # the day shift 09:00-18:00 of Tuesday, its window 08:00-20:00
    recompute(TUESDAY, WEDNESDAY, now=AFTER_MIDNIGHT)  # its window has closed: the ins without an out are missing outs
    board = dashboard(root(), now=AFTER_MIDNIGHT)
    assert board.late_today == 0 and numbers(board.late) == []  # Wednesday's shift has not begun
    # Tuesday's: A1, A2, A3, Q2 and W1 came in and never went out; Q1 did both, the others never came
    assert sorted(numbers(board.missing_out)) == ["A1", "A2", "A3", "Q2", "W1"]


def test_the_mid_morning_board_lists_todays_late_arrivals_and_yesterdays_missing_outs(db: Any) -> None:
    build_day(NOW)
    board = dashboard(root(), now=NOW)  # Tuesday 10:00 in Shanghai
    assert [(r.number, r.minutes) for r in board.late.rows] == [("A3", 30), ("A2", 12)]
    assert sorted(numbers(board.missing_out)) == ["A2", "Q2"]


NIGHT = Shift("夜班", time(22), time(6), checkin_before_min=60, checkout_after_min=120)  # window 21:00-08:00
DAY = Shift("白班", time(9), time(18), checkin_before_min=60, checkout_after_min=120)  # window 08:00-20:00


@pytest.mark.parametrize(("at", "expected"), [
    (datetime(2026, 3, 11, 0, 30), date(2026, 3, 10)),  # in progress since Tuesday 22:00
    (datetime(2026, 3, 11, 7, 59), date(2026, 3, 10)),  # ended, its check-out window still open
    (datetime(2026, 3, 11, 8, 1), date(2026, 3, 11)),  # window closed: Wednesday, nobody late yet
    (datetime(2026, 3, 11, 21, 30), date(2026, 3, 11)),  # Wednesday's window open
    (datetime(2026, 3, 10, 23, 59), date(2026, 3, 10)),
], ids=["00:30", "07:59", "08:01", "21:30", "23:59"])
def test_a_night_shifts_board_day_is_the_date_it_began_until_its_window_closes(at: datetime, expected: date) -> None:
    assert board_day(at, NIGHT) == expected


@pytest.mark.parametrize("at", [datetime(2026, 3, 11, h, m) for h, m in ((0, 30), (7, 0), (12, 0), (22, 0))],
                         ids=["00:30", "07:00", "12:00", "22:00"])
def test_a_day_shift_and_a_record_without_a_shift_are_on_the_sites_today(at: datetime) -> None:
    assert board_day(at, DAY) == board_day(at, None) == date(2026, 3, 11)


def test_the_comparison_with_the_last_four_weeks_counts_the_same_board_day_as_the_late_card(db: Any) -> None:
    build_day(AFTER_MIDNIGHT)  # the shift began Tuesday 23:30: past midnight its board day is still Tuesday
    board = dashboard(root(), now=AFTER_MIDNIGHT)
    late = board.compared["late"]
    # today's figure is the card's (A2 and A3), not Wednesday's, whose shift has not begun
    assert late.today == board.late_today == 2
    # and each week before counts the Tuesday night shifts: A1 came 10 minutes late every Tuesday (the columns keep
    # the calendar's dates: the night that began on Tuesday 23:30 is mostly that Wednesday)
    assert [d for d, _ in late.weeks] == [WEDNESDAY - timedelta(days=7 * k) for k in range(1, 5)]
    assert [n for _, n in late.weeks] == [1, 1, 1, 1]
    assert [n for _, n in board.compared["present"].weeks] == [2, 2, 2, 2]  # A1 and Q1
    # present tonight: the night shift's records dated Tuesday (Q5, with no shift, has none)
    assert board.compared["present"].today == DailyRecord.objects.filter(date=TUESDAY, status="present").count() > 0
