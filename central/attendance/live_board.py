"""Every active employee's situation, kept in this process and brought up to date at each read.

The dashboard polls every 2 s and each wall display every 5 s; reading and working out 10,000 employees'
situations at every read costs about 150 ms. The board keeps their inputs (plans, punches of the last 36 h,
leave: :class:`~central.attendance.situations.Inputs`) and their situations, so a read costs what changed:

* **punches received** since the last read (and in the minute before it: a batch stamped on arrival may
  commit after a later one) are read by arrival (the arrival index) and added to their employees' lists, and
  only those employees are worked out again, at the read's own time;
* at the first read of **a new minute** everyone is worked out again from the kept inputs (shifts, margins and
  graces are whole minutes, so a situation worked out at a moment holds for the rest of its minute), with the
  plans and leave read again (the plans are kept 30 s: :func:`~central.attendance.situations.kept_plans`);
* **everything is read afresh** every ``RELOAD_S``, when approved leave or make-up punches changed, and when a
  schedule, calendar, employee or punch was saved or deleted in this process (:func:`forget`, connected to
  those models' signals in ``AttendanceConfig.ready``).

So a punch is shown at the first read after it is stored, a schedule change within a minute, and a change no
read can see (a re-stamp moves ``punched_at`` of a punch already kept) within ``RELOAD_S``.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from django.db import connection
from django.db.models import Count, Max

from central.attendance.inputs import Staff, StaffRow, load_rules
from central.attendance.models import LeaveRecord, MakeupPunch
from central.attendance.presence import Situation
from central.attendance.situations import Inputs, kept_plans, leave_days, read_inputs, situations, work_out
from central.ingest.models import Punch
from central.people.models import Employee

RELOAD_S = 600.0
OVERLAP = timedelta(seconds=60)


@dataclass
class _Board:
    database: tuple[object, ...]
    loaded: float  # time.monotonic() of the last full read
    minute: datetime
    approvals: tuple[object, ...]  # approved leave and make-up punches: how many, the latest approval
    received: datetime | None  # the newest punch arrival read
    staff: dict[int, StaffRow]
    by_number: dict[str, int]
    inputs: Inputs
    found: dict[int, Situation]


_board: _Board | None = None
_lock = threading.Lock()


def board_situations(staff: Sequence[Staff], now: datetime) -> dict[int, Situation]:
    """:func:`~central.attendance.situations.situations` of ``staff`` at ``now`` (aware), from the board: the active
    employees' as kept (up to date as the module says), anyone else's worked out here."""
    global _board
    with _lock:
        board = _board = _brought_up_to(_board, now)
        found = {emp.pk: board.found[emp.pk] for emp in staff if emp.pk in board.found}
    others = [emp for emp in staff if emp.pk not in found]
    if others:
        found.update(situations(others, now))
    return found


def forget(**_signal: object) -> None:
    """Something a situation depends on was saved or deleted here: the next read works everyone out afresh."""
    global _board
    with _lock:
        _board = None


def _brought_up_to(board: _Board | None, now: datetime) -> _Board:
    database = (connection.alias, connection.settings_dict.get("NAME"))
    minute = now.replace(second=0, microsecond=0)
    approvals = _approvals()
    if (board is None or (board.database, board.approvals) != (database, approvals)
            or time.monotonic() - board.loaded > RELOAD_S):
        received = Punch.objects.aggregate(newest=Max("received_at"))["newest"]
        staff = {pk: StaffRow(pk, number, site_id, department_id, True) for pk, number, site_id, department_id in
                 Employee.objects.filter(active=True).values_list("id", "number", "site_id", "department_id")}
        inputs = read_inputs(list(staff.values()), now)
        return _Board(database, time.monotonic(), minute, approvals, received, staff,
                      {s.number: pk for pk, s in staff.items()}, inputs, work_out(staff.values(), inputs, now))
    changed: set[int] = set()
    # again the last OVERLAP of arrivals too: a batch stamped on arrival may commit after a later-stamped one
    arrived = Punch.objects.filter(received_at__gt=board.received - OVERLAP) if board.received else Punch.objects.all()
    for pid, number, at, way, flag, got in arrived.values_list(
            "id", "employee_number", "punched_at", "direction", "time_flag", "received_at"):
        board.received = max(board.received, got) if board.received else got
        emp_id = board.by_number.get(number)
        if (emp_id is not None and not flag
                and board.inputs.add_punch(emp_id, pid, at.astimezone(timezone.utc).replace(tzinfo=None), way)):
            changed.add(emp_id)
    if minute != board.minute:
        everyone = list(board.staff.values())
        board.inputs.planned = kept_plans(load_rules(now), everyone)
        board.inputs.leave, board.inputs.away = leave_days(now)
        board.found = work_out(everyone, board.inputs, now)
        board.minute = minute
    elif changed:
        board.found.update(work_out([board.staff[pk] for pk in changed], board.inputs, now))
    return board


def _approvals() -> tuple[object, ...]:
    leave = LeaveRecord.objects.filter(state="approved").aggregate(n=Count("id"), latest=Max("approved_at"))
    makeups = MakeupPunch.objects.filter(state="approved").aggregate(n=Count("id"), latest=Max("approved_at"))
    return leave["n"], leave["latest"], makeups["n"], makeups["latest"]
