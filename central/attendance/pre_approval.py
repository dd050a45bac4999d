"""Overtime asked for and approved ahead (加班申请), as the rules apply it to a computed day: plain data in, a record
out, no ORM (the requests themselves: :mod:`central.attendance.overtime_requests`).

Overtime still waiting on a day with an approved request of at least its minutes is approved: as time off in lieu
(调休) when the request asked so and it is rest-day overtime, else paid (a day that became a working day or a
holiday since the request pays its overtime, 劳动法 第四十四条); more than was asked waits for a decision as before.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import NamedTuple

from central.attendance import engine as e


class Asked(NamedTuple):
    """An approved overtime request of a day: the minutes asked, and whether as time off in lieu."""
    minutes: int
    in_lieu: bool


def pre_approved(asked: Mapping[date, Asked], rec: e.Record) -> e.Record:
    """``rec`` with its waiting overtime approved when ``asked`` (day → request) covers it, else ``rec``."""
    day = asked.get(rec.date)
    if day is None or rec.overtime_state != "pending" or not 0 < rec.overtime_min <= day.minutes:
        return rec
    return replace(rec, overtime_state="in_lieu" if day.in_lieu and rec.overtime_kind == "rest_day" else "approved")
