"""The monthly late allowance (人性化迟到), the rule alone and as read for a range: which late arrivals are let go.
Every expected key is worked out by hand from the rule in central/attendance/late_allowance.py's docstring."""
from __future__ import annotations

from datetime import date, time

import pytest

from central.attendance.late_allowance import Allowance, let_go, let_go_of
from central.attendance.models import DailyRecord, ShiftType, SiteCalendar
from central.people.models import Employee, Site

THREE_OF_TEN = Allowance(3, 10)


def d(day: int, month: int = 3) -> date:
    return date(2026, month, day)


def test_the_first_three_short_ones_of_a_month_are_let_go() -> None:
    lates = [(d(2), "day", 5), (d(3), "day", 10), (d(4), "day", 2), (d(5), "day", 1)]
    assert let_go(lates, THREE_OF_TEN) == {(d(2), "day"), (d(3), "day"), (d(4), "day")}  # the fourth is late


def test_a_longer_one_does_not_use_the_allowance_up() -> None:
    lates = [(d(2), "day", 11), (d(3), "day", 30), (d(4), "day", 9)]
    assert let_go(lates, THREE_OF_TEN) == {(d(4), "day")}


def test_each_month_has_its_own_and_order_is_by_date_then_shift() -> None:
    lates = [(d(5), "night", 3), (d(5), "day", 3), (d(1), "day", 3), (d(31), "day", 3), (d(1, 4), "day", 3)]
    assert let_go(lates, Allowance(2, 10)) == {(d(1), "day"), (d(5), "day"), (d(1, 4), "day")}


def test_no_allowance_lets_nothing_go() -> None:
    lates = [(d(2), "day", 1)]
    assert let_go(lates, Allowance(0, 10)) == set() and let_go(lates, Allowance(3, 0)) == set()


@pytest.mark.django_db
def test_a_range_in_the_middle_of_a_month_counts_the_allowance_from_its_first_day() -> None:
    """Late on the 2nd, 3rd and 10th (each 5 minutes), two let go a month: a report of the 10th alone still sees that
    the 2nd and 3rd used the allowance. Another site without an allowance lets nothing go."""
    sh, bj = (Site.objects.create(code=c, name=c) for c in ("sh", "bj"))
    SiteCalendar.objects.create(site=sh, late_allowance_times=2, late_allowance_min=10)
    ShiftType.objects.create(name="day", start=time(9), end=time(18))
    e1 = Employee.objects.create(number="E1", name="E1", site=sh)
    b1 = Employee.objects.create(number="B1", name="B1", site=bj)
    for emp in (e1, b1):
        for day in (2, 3, 10):
            DailyRecord.objects.create(employee=emp, date=d(day), shift_name="day", status="present",
                                       source="punches", late=True, late_min=5)
    people = {e1.pk: sh.pk, b1.pk: bj.pk}
    assert let_go_of(people, d(10), d(10)) == {}
    assert let_go_of(people, d(1), d(31)) == {e1.pk: {(d(2), "day"), (d(3), "day")}}
    assert let_go_of(people, d(3), d(31)) == {e1.pk: {(d(3), "day")}}


@pytest.mark.django_db
def test_a_closed_month_is_read_with_the_allowance_it_was_closed_with() -> None:
    """March was closed letting one go; the site now lets two go: March still lets one go (the numbers HR signed do
    not move), April two. A month closed before any allowance lets nothing go."""
    from central.attendance.models import ClosedMonth

    sh = Site.objects.create(code="sh", name="sh")
    SiteCalendar.objects.create(site=sh, late_allowance_times=2, late_allowance_min=10)
    e1 = Employee.objects.create(number="E1", name="E1", site=sh)
    for day in (d(2), d(3), d(1, 4), d(2, 4), d(2, 2), d(3, 2)):
        DailyRecord.objects.create(employee=e1, date=day, shift_name="day", status="present", source="punches",
                                   late=True, late_min=5)
    ClosedMonth.objects.create(site=sh, month=d(1), closed_by="hr", late_allowance=[1, 10])
    ClosedMonth.objects.create(site=sh, month=d(1, 2), closed_by="hr")  # closed before allowances: []
    found = let_go_of({e1.pk: sh.pk}, d(1, 2), d(30, 4))
    assert found == {e1.pk: {(d(2), "day"), (d(1, 4), "day"), (d(2, 4), "day")}}
