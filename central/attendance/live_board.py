"""Every active employee's situation, kept in this process and brought up to date at each read.

The dashboard polls every 2 s and each wall display every 5 s; working out 10,000 employees' situations
at every read costs about 150 ms. The board keeps them, so a read costs what changed since the last one:

* **everyone afresh** at the first read of a new minute (shifts, margins and graces are whole minutes, so a
  situation worked out at a moment holds for the rest of its minute), when approved leave or make-up
  punches changed, and when a schedule, calendar, employee or punch was saved or deleted in this process
  (:func:`forget`, connected to those models' signals in ``AttendanceConfig.ready``);
* **only the employees with punches received** since the last read otherwise: their punches are read by
  number and their situations worked out at the read's own time.

So a punch is shown at the first read after it is stored, and every other change within a minute. Punches
received with an arrival time older than the newest one read (a re-stamp moves ``punched_at`` only) wait for
the next minute too.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, Max

from central.attendance.inputs import Staff, StaffRow
from central.attendance.models import LeaveRecord, MakeupPunch
from central.attendance.presence import Situation
from central.attendance.situations import situations
from central.ingest.models import Punch
from central.people.models import Employee


@dataclass
class _Board:
    database: tuple[object, ...]
    minute: datetime
    approvals: tuple[object, ...]  # approved leave and make-up punches: how many, the latest approval
    received: datetime | None  # the newest punch arrival read
    staff: dict[int, StaffRow]
    by_number: dict[str, int]
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
    received = Punch.objects.aggregate(newest=Max("received_at"))["newest"]
    if board is None or (board.database, board.minute, board.approvals) != (database, minute, approvals):
        staff = {pk: StaffRow(pk, number, site_id, department_id, True) for pk, number, site_id, department_id in
                 Employee.objects.filter(active=True).values_list("id", "number", "site_id", "department_id")}
        return _Board(database, minute, approvals, received, staff, {s.number: pk for pk, s in staff.items()},
                      situations(list(staff.values()), now))
    if received is not None and (board.received is None or received > board.received):
        arrived = Punch.objects.filter(received_at__gt=board.received) if board.received else Punch.objects.all()
        numbers = set(arrived.values_list("employee_number", flat=True).distinct())
        changed = [board.staff[board.by_number[n]] for n in numbers if n in board.by_number]
        if changed:
            board.found.update(situations(changed, now))
        board.received = received
    return board


def _approvals() -> tuple[object, ...]:
    leave = LeaveRecord.objects.filter(state="approved").aggregate(n=Count("id"), latest=Max("approved_at"))
    makeups = MakeupPunch.objects.filter(state="approved").aggregate(n=Count("id"), latest=Max("approved_at"))
    return leave["n"], leave["latest"], makeups["n"], makeups["latest"]
