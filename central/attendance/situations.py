"""Each employee's :class:`~central.attendance.presence.Situation` now, read from the database.

The live dashboard, the wall display and the alert rules ask this one selector. It reads the rules and
plans as the engine's inputs do (:mod:`central.attendance.inputs`), the punches of the last
``presence.READ_BACK`` by time only (one range read on the punch time index, whatever the number of
employees), approved make-up punches and approved full-day leave, and hands each employee's plain
data to :func:`presence.situation`. Punches flagged as impossible times are left out, as the engine
leaves them out.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from django.db import connection

from central.attendance import engine as e
from central.attendance.inputs import (
    LocalClock,
    Rules,
    Staff,
    db_column,
    load_rules,
    local,
    plans,
    utc_sql,
    utc_value,
)
from central.attendance.models import LeaveRecord, MakeupPunch
from central.attendance.presence import READ_BACK, Situation, situation
from central.ingest.models import Punch


def situations(staff: Sequence[Staff], now: datetime, *, rules: Rules | None = None) -> dict[int, Situation]:
    """Employee pk → their situation at ``now`` (aware). ``rules``: already read for ``now``, to share."""
    if not staff:
        return {}
    rules = rules or load_rules(now)
    planned = plans(rules, staff)
    numbers = {emp.number: emp.pk for emp in staff}
    since = now - READ_BACK
    clocks: dict[str, LocalClock] = {}
    zone_of = {emp.pk: clocks.setdefault(str(rules.zone(emp.site_id)), LocalClock(rules.zone(emp.site_id)))
               for emp in staff}
    punches: dict[int, list[e.PunchIn]] = defaultdict(list)
    for pid, number, at, way in _recent_punches(since, now):
        emp_id = numbers.get(number)
        if emp_id is not None:
            punches[emp_id].append(e.PunchIn(pid, zone_of[emp_id](at), way if way in ("in", "out") else None))
    for mid, emp_id, made_at, direction in MakeupPunch.objects.filter(
            state="approved", at__gte=since, at__lte=now).values_list("id", "employee_id", "at", "direction"):
        if emp_id in zone_of:
            punches[emp_id].append(e.PunchIn(f"makeup-{mid}", local(made_at, zone_of[emp_id].zone),
                                             direction if direction in ("in", "out") else None))
    leave = _leave_days(now - timedelta(days=2), now + timedelta(days=1))
    found: dict[int, Situation] = {}
    for emp in staff:
        person, schedule = planned[emp.pk]
        mine = punches.get(emp.pk, [])
        mine.sort(key=lambda p: p.at)
        found[emp.pk] = situation(person, schedule, mine, local(now, zone_of[emp.pk].zone),
                                  leave_days=leave.get(emp.pk, ()))
    return found


def _recent_punches(since: datetime, until: datetime) -> list[tuple[str, str, datetime, str]]:
    """(id, number, naive UTC time, direction) of every counted punch in [since, until]."""
    at, flag = db_column(Punch, "punched_at"), db_column(Punch, "time_flag")
    adapt, parse = connection.ops.adapt_datetimefield_value, utc_value()
    table = connection.ops.quote_name(Punch._meta.db_table)
    columns = [db_column(Punch, "id"), db_column(Punch, "employee_number"), utc_sql(at), db_column(Punch, "direction")]
    with connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {at} >= %s AND {at} <= %s AND {flag} = %s",
                    [adapt(since), adapt(until), ""])
        return [(pid, number, parse(when), way) for pid, number, when, way in cur.fetchall()]  # type: ignore[misc]


def _leave_days(first: datetime, last: datetime) -> dict[int, set[date]]:
    """Employee pk → the dates of approved full-day leave from ``first``'s date to ``last``'s."""
    days: dict[int, set[date]] = defaultdict(set)
    for emp_id, start, end in LeaveRecord.objects.filter(
            state="approved", half_day=False, start__lte=last.date(), end__gte=first.date()).values_list(
            "employee_id", "start", "end"):
        day = max(start, first.date())
        while day <= min(end, last.date()):
            days[emp_id].add(day)
            day += timedelta(days=1)
    return days
