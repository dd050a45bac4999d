"""How a day's records count on the sheets HR signs: a pure module (plain data in, numbers out).

Every report that totals days (the monthly sheet, payroll, the summary) counts through :func:`add`, so
the numbers agree across reports and formats. The rules:

* **Days worked** count working days only (``day_kind == "workday"``): present (punched, manual,
  exempt, or a whole day on duty away) 1; a half day 0.5 (short hours, or the worked half of a half-day
  leave). Half a day on duty away (公出, source ``on_duty``) is 0.5 for the half away, plus 0.5 when its other
  half was worked (``other_half == "present"``). Work on a rest day or a holiday is paid as overtime of that
  kind, not as a day worked.
* **Absent days**: absent 1; a half day from short hours 0.5 (the other half was not worked); the
  absent half of a half-day leave, or of half a day on duty away, 0.5.
* **Leave days** by leave type: a full-day leave 1, a half-day leave 0.5. Days on duty away are not leave.
* **Days on duty away** (公出: business trips, errands, field work; records of source ``on_duty``) by leave
  type, apart from leave (``on_duty_days``): a whole day 1, half a day 0.5. They are worked days, counted in
  days worked as above, so a final day on duty away is due (``expected``) in full.
* **Late / early**: the count of records marked late (early) and the sum of their minutes. A late record its site
  lets go (人性化迟到, ``late_let_go``: the first few short ones of the month, :mod:`central.attendance.late_allowance`)
  is not late here: it is counted apart (``late_let_go``, ``late_let_go_min``); the record keeps its minutes.
* **Overtime hours** by kind (workday, rest day, holiday): only minutes that will be paid — overtime
  that needs no approval or was approved. Minutes awaiting approval are totalled apart
  (``overtime_pending_h``), and so are rest-day minutes a manager approved as time off in lieu (``in_lieu_h``,
  调休: not paid, they become days off); minutes of employees not on the overtime list (``unpaid``) and overtime a
  manager rejected (``rejected``) are not counted.
* **Hours worked**: the sum of the records' hours (a day on duty away holds the shift's paid hours it is
  credited).
* **Provisional**: records not yet final (a terminal of the site has not reported yet).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

HALF = Decimal("0.5")
ONE = Decimal("1")
OVERTIME_KINDS = ("workday", "rest_day", "holiday")


class Rec(NamedTuple):
    """One daily record as the reports read it (plain values, no ORM)."""
    employee_id: int
    date: date
    shift: str
    status: str  # present, absent, half_day, on_leave
    source: str  # punches, manual, leave, absent, exempt, on_duty (公出: on duty away, worked)
    half_day: bool
    leave_type: int | None
    hours: Decimal
    late: bool
    early: bool
    late_min: int
    early_min: int
    overtime_min: int
    overtime_kind: str
    overtime_state: str
    other_half: str | None
    missing_out: bool
    day_kind: str
    final: bool
    late_let_go: bool = False  # a late arrival its site lets go this month (人性化迟到): not counted as late


@dataclass
class Totals:
    days_worked: Decimal = Decimal("0")
    late: int = 0
    late_min: int = 0
    late_let_go: int = 0  # late records let go (人性化迟到), not in ``late``
    late_let_go_min: int = 0
    early: int = 0
    early_min: int = 0
    absent_days: Decimal = Decimal("0")
    missing_out: int = 0
    leave_days: dict[int, Decimal] = field(default_factory=dict)  # leave type id: days (on duty away left out)
    on_duty_days: dict[int, Decimal] = field(default_factory=dict)  # leave type id: days on duty away (公出)
    overtime_min: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OVERTIME_KINDS, 0))
    overtime_pending_min: int = 0
    in_lieu_min: int = 0
    hours: Decimal = Decimal("0.00")
    provisional: int = 0
    expected: Decimal = Decimal("0")  # working days the employee was due (worked + absent; leave not counted)

    def overtime_h(self, kind: str) -> Decimal:
        return (Decimal(self.overtime_min[kind]) / 60).quantize(Decimal("0.01"))

    @property
    def overtime_pending_h(self) -> Decimal:
        return (Decimal(self.overtime_pending_min) / 60).quantize(Decimal("0.01"))

    @property
    def counted_overtime_min(self) -> int:
        """What the monthly overtime line counts (:mod:`central.attendance.overtime_limit`): paid, waiting and in
        lieu; rejected and unpaid minutes are not in any of them."""
        return sum(self.overtime_min.values()) + self.overtime_pending_min + self.in_lieu_min

    @property
    def in_lieu_h(self) -> Decimal:
        return (Decimal(self.in_lieu_min) / 60).quantize(Decimal("0.01"))

    @property
    def leave_total(self) -> Decimal:
        return sum(self.leave_days.values(), Decimal("0"))

    @property
    def on_duty_total(self) -> Decimal:
        return sum(self.on_duty_days.values(), Decimal("0"))


def on_duty(rec: Rec) -> bool:
    """A day (or half a day) on duty away (公出): worked away from the site, not leave."""
    return rec.source == "on_duty"


def _day_share(rec: Rec, whole: str) -> Decimal:
    """The share of a working day that was ``whole`` ("present" or "absent"): all of it when the record's status
    is that; half of a half day from short hours; half of a half-day leave whose other half was that."""
    if rec.day_kind != "workday":
        return Decimal("0")
    if rec.status == whole:
        return ONE
    if rec.status == "half_day":
        if on_duty(rec):  # the half away is worked; the other half is as its punches made it
            away = HALF if whole == "present" else Decimal("0")
            return away + (HALF if rec.other_half == whole else Decimal("0"))
        if rec.source == "leave" or rec.leave_type is not None:
            return HALF if rec.other_half == whole else Decimal("0")
        return HALF
    return Decimal("0")


def worked_share(rec: Rec) -> Decimal:
    return _day_share(rec, "present")


def absent_share(rec: Rec) -> Decimal:
    return _day_share(rec, "absent")


def leave_share(rec: Rec) -> Decimal:
    if rec.leave_type is None or on_duty(rec):
        return Decimal("0")
    if rec.status == "on_leave":
        return ONE
    if rec.status == "half_day":
        return HALF
    return Decimal("0")


def on_duty_share(rec: Rec) -> Decimal:
    """The days on duty away a record holds: a whole day 1, half a day 0.5."""
    if rec.leave_type is None or not on_duty(rec):
        return Decimal("0")
    if rec.status == "half_day" or rec.half_day:
        return HALF
    if rec.status == "present":
        return ONE
    return Decimal("0")


def totals_of(recs: list[Rec]) -> Totals:
    """One employee's records counted."""
    totals = Totals()
    for rec in recs:
        add(totals, rec)
    return totals


def add(totals: Totals, rec: Rec) -> None:
    """Count one record into ``totals``."""
    worked, absent = worked_share(rec), absent_share(rec)
    totals.days_worked += worked
    totals.absent_days += absent
    totals.expected += worked + absent
    if rec.late and rec.late_let_go:
        totals.late_let_go += 1
        totals.late_let_go_min += rec.late_min
    elif rec.late:
        totals.late += 1
        totals.late_min += rec.late_min
    if rec.early:
        totals.early += 1
        totals.early_min += rec.early_min
    if rec.missing_out:
        totals.missing_out += 1
    leave = leave_share(rec)
    if leave and rec.leave_type is not None:
        totals.leave_days[rec.leave_type] = totals.leave_days.get(rec.leave_type, Decimal("0")) + leave
    away = on_duty_share(rec)
    if away and rec.leave_type is not None:
        totals.on_duty_days[rec.leave_type] = totals.on_duty_days.get(rec.leave_type, Decimal("0")) + away
    if rec.overtime_min:
        if rec.overtime_state in ("", "approved"):
            kind = rec.overtime_kind if rec.overtime_kind in OVERTIME_KINDS else "workday"
            totals.overtime_min[kind] += rec.overtime_min
        elif rec.overtime_state == "pending":
            totals.overtime_pending_min += rec.overtime_min
        elif rec.overtime_state == "in_lieu":
            totals.in_lieu_min += rec.overtime_min
    totals.hours += Decimal(rec.hours)
    if not rec.final:
        totals.provisional += 1
