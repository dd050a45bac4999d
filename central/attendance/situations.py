"""Each employee's :class:`~central.attendance.presence.Situation` now, read from the database.

The live dashboard, the wall display and the alert rules ask this one selector. It reads the rules and
plans as the engine's inputs do (:mod:`central.attendance.inputs`), the punches of the last
``presence.READ_BACK`` by time only (one range read on the punch time index, whatever the number of
employees), approved make-up punches and approved full-day leave, and hands each employee's plain
data to :func:`presence.situation`. Punches flagged as impossible times are left out, as the engine
leaves them out.
"""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection

from central.attendance import engine as e
from central.attendance.engine import Occurrence
from central.attendance.inputs import (
    LocalClock,
    Rules,
    Staff,
    _punch_rows,
    db_column,
    load_rules,
    local,
    plans,
    utc_sql,
    utc_value,
)
from central.attendance.models import LeaveRecord, MakeupPunch
from central.attendance.presence import READ_BACK, Situation, current_occurrence, situation
from central.ingest.models import Punch


def situations(staff: Sequence[Staff], now: datetime, *, rules: Rules | None = None) -> dict[int, Situation]:
    """Employee pk → their situation at ``now`` (aware). ``rules``: already read for ``now``, to share."""
    if not staff:
        return {}
    return work_out(staff, read_inputs(staff, now, rules=rules), now)


@dataclass
class Inputs:
    """What these employees' situations are worked out from (a live board keeps it between reads)."""
    planned: dict[int, tuple[e.Person, e.Schedule]]
    clock_of: dict[int, LocalClock]  # each employee's site's local clock
    punches: dict[int, list[e.PunchIn]]  # each employee's, in time order
    leave: dict[int, set[date]]
    away: dict[int, set[date]] = field(default_factory=dict)  # of ``leave``, the days on duty away (公出)

    def add_punch(self, emp_id: int, punch_id: str, at_utc: datetime, direction: str) -> bool:
        """A punch (naive UTC time) received after the read, in its place in the employee's list; False when it is
        there already."""
        mine = self.punches.setdefault(emp_id, [])
        if any(p.id == punch_id for p in mine):
            return False
        mine.append(e.PunchIn(punch_id, self.clock_of[emp_id](at_utc), direction if direction in ("in", "out") else None))
        mine.sort(key=_at)
        return True


def read_inputs(staff: Sequence[Staff], now: datetime, *, rules: Rules | None = None) -> Inputs:
    """The plans, the punches of the last ``READ_BACK``, approved make-ups and full-day leave of ``staff``."""
    rules = rules or load_rules(now)
    numbers = {emp.number: emp.pk for emp in staff}
    since = now - READ_BACK
    clocks = {str(zone): LocalClock(zone) for zone in {rules.zone(emp.site_id) for emp in staff}}
    site_clock = {site_id: clocks[str(rules.zone(site_id))] for site_id in {emp.site_id for emp in staff}}
    found = Inputs(kept_plans(rules, staff), {emp.pk: site_clock[emp.site_id] for emp in staff}, defaultdict(list),
                   *leave_days(now))
    clock_of = found.clock_of
    few = list(numbers) if len(staff) <= FEW else None
    for pid, number, at, way in _recent_punches(since, now, few):  # in time order
        emp_id = numbers.get(number)
        if emp_id is not None:
            found.punches[emp_id].append(e.PunchIn(pid, clock_of[emp_id](at), way if way in ("in", "out") else None))
    for mid, emp_id, made_at, direction in MakeupPunch.objects.filter(
            state="approved", at__gte=since, at__lte=now).values_list("id", "employee_id", "at", "direction"):
        if emp_id in clock_of:
            mine = found.punches[emp_id]
            mine.append(e.PunchIn(f"makeup-{mid}", local(made_at, clock_of[emp_id].zone),
                                  direction if direction in ("in", "out") else None))
            mine.sort(key=_at)
    return found


def work_out(staff: Iterable[Staff], inputs: Inputs, now: datetime) -> dict[int, Situation]:
    """The situations of ``staff`` (all in ``inputs``) at ``now`` (aware)."""
    local_now: dict[int, datetime] = {}
    # who shares a schedule, the rules of their employment and a zone shares the occurrence in progress
    shared: dict[tuple[int, tuple[object, ...], int], tuple[Occurrence | None, list[Occurrence]]] = {}
    found: dict[int, Situation] = {}
    none: list[e.PunchIn] = []
    for emp in staff:
        person, schedule = inputs.planned[emp.pk]
        clock = inputs.clock_of[emp.pk]
        zone = id(clock)
        at = local_now.get(zone)
        if at is None:
            at = local_now[zone] = local(now, clock.zone)
        key = (id(schedule), person.rules_key(), zone)
        current = shared.get(key)
        if current is None:
            current = shared[key] = current_occurrence(schedule, person, at)
        found[emp.pk] = situation(person, schedule, inputs.punches.get(emp.pk, none), at,
                                  leave_days=inputs.leave.get(emp.pk, ()), away_days=inputs.away.get(emp.pk, ()),
                                  current=current)
    return found


# -- the plans, kept a short while -------------------------------------------------------------------------------
PLANS_TTL_S = 30.0  # the longest a schedule change made in another process takes to show here
_PLANS: dict[tuple[object, ...], tuple[float, dict[int, tuple[e.Person, e.Schedule]]]] = {}


def kept_plans(rules: Rules, staff: Sequence[Staff]) -> dict[int, tuple[e.Person, e.Schedule]]:
    """:func:`inputs.plans` of these employees, kept for ``PLANS_TTL_S``: who works when changes seldom, and reading
    it for 10,000 employees is a third of a dashboard's time. A change saved in this process (shifts, rotations,
    assignments, calendars, profiles, employees: :func:`forget_plans`) is seen at once; one saved in another
    process after ``PLANS_TTL_S`` at most. Punches, leave and make-ups are read afresh every time."""
    key = (connection.alias, connection.settings_dict.get("NAME"),
           hash(tuple((emp.pk, emp.number, emp.site_id, emp.department_id, emp.active) for emp in staff)))
    kept = _PLANS.get(key)
    now = time.monotonic()
    if kept is not None and now - kept[0] < PLANS_TTL_S:
        return kept[1]
    planned = plans(rules, staff)
    if len(_PLANS) >= 16:  # a handful of scopes (a site's, a department's, everyone's) at a time
        _PLANS.clear()
    _PLANS[key] = (now, planned)
    return planned


def forget_plans(**_signal: object) -> None:
    """A schedule, calendar, profile or employee changed: the next read plans afresh (a signal receiver)."""
    _PLANS.clear()


def _at(punch: e.PunchIn) -> datetime:
    return punch.at


FEW = 500  # employees whose punches are read by their numbers (the number index), not by time for everyone


def _recent_punches(since: datetime, until: datetime, numbers: list[str] | None = None
                    ) -> list[tuple[str, str, datetime, str]]:
    """(id, number, naive UTC time, direction) of every counted punch in [since, until], in time order; only
    ``numbers``' when given."""
    if numbers is not None:
        return sorted(_punch_rows(numbers, since, until + timedelta(microseconds=1)), key=_time_of)
    at, flag = db_column(Punch, "punched_at"), db_column(Punch, "time_flag")
    adapt, parse = connection.ops.adapt_datetimefield_value, utc_value()
    table = connection.ops.quote_name(Punch._meta.db_table)
    columns = [db_column(Punch, "id"), db_column(Punch, "employee_number"), utc_sql(at), db_column(Punch, "direction")]
    with connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {at} >= %s AND {at} <= %s AND {flag} = %s "
                    f"ORDER BY {at}", [adapt(since), adapt(until), ""])
        return [(pid, number, parse(when), way) for pid, number, when, way in cur.fetchall()]  # type: ignore[misc]


def _time_of(row: tuple[str, str, datetime, str]) -> datetime:
    return row[2]


def leave_days(now: datetime) -> tuple[dict[int, set[date]], dict[int, set[date]]]:
    """Employee pk → the dates of approved full-day leave from two days before ``now`` to the day after, and of those
    the days on duty away (leave of 公出 types), in one read."""
    first, last = (now - timedelta(days=2)).date(), (now + timedelta(days=1)).date()
    days: dict[int, set[date]] = defaultdict(set)
    away: dict[int, set[date]] = defaultdict(set)
    for emp_id, start, end, on_duty in LeaveRecord.objects.filter(
            state="approved", half_day=False, start__lte=last, end__gte=first).values_list(
            "employee_id", "start", "end", "leave_type__on_duty"):
        day = max(start, first)
        while day <= min(end, last):
            days[emp_id].add(day)
            if on_duty:
                away[emp_id].add(day)
            day += timedelta(days=1)
    return days, away
