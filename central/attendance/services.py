"""Writes of the attendance side: recompute daily records, follow new punches and finality, manual records.

* :func:`recompute` runs the engine for employees over a date range, in chunks, and writes back only
  what changed (a computed record is replaced, a record a person entered is kept, a half-day leave
  updated in place). A record that was final and changes is written to the audit log.
* :class:`Follower` is the incremental side: it reads punches by arrival time (``received_at``, so
  nothing is lost when the receiver restarts: the watermark is stored) and recomputes only the
  touched employees' days; it also notices when a site's days become final.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from operator import attrgetter
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone as dj_timezone

from central.accounts import audit
from central.attendance import closing
from central.attendance import engine as e
from central.attendance.errors import AttendanceError
from central.attendance.inputs import (
    STAFF_FIELDS,
    EmployeeInput,
    Moments,
    Rules,
    StaffRow,
    aware,
    db_column,
    in_clauses,
    load_employees,
    load_rules,
    local,
    plans,
    utc_sql,
    utc_value,
)
from central.attendance.models import (
    Assignment,
    AttendanceProfile,
    CalendarDay,
    DailyRecord,
    LeaveRecord,
    LeaveType,
    OvertimeRule,
    RecomputeJob,
    Rotation,
    ShiftType,
    SiteCalendar,
)
from central.attendance.pre_approval import pre_approved
from central.attendance.rules_cache import RULES_VERSION_KEY, RulesCache, read_version
from central.ingest.look_back import LookBack
from central.ingest.models import Punch, State
from central.people.models import Employee, Site
from central.webhooks import events as webhook_events

log = logging.getLogger(__name__)
CHUNK = 500
SYSTEM_ACTOR = "system:attendance"  # what the follower's own recomputes are audited as
STAFF_COLUMNS = ("pk", "number", "site_id", "department_id", "active")  # an employee as the engine's inputs read them
STATE_PREFIX = "attendance."  # the follower's keys in State (and the rules' token, RULES_VERSION_KEY)
WATERMARK_KEY = "attendance.received_until"
FRONTIER_KEY = "attendance.final_until.{site}"
# How far back each pass looks for a batch that committed after a later one. The ingest takes a batch's arrival
# time inside its transaction: on SQLite once it holds the write lock, so arrival order is commit order and the
# window only covers the clock stepping back; on PostgreSQL, several receivers' batches overlap by their own
# length (a tenth of a second). A batch whose commit took longer still (a stalled disk) gets its records when its
# days turn final: a terminal reports its outbox empty only after the batch's ack. Each second of window is a
# second of punches counted at every pass (on PostgreSQL 11 ms over 10 s, 2 ms over 2 s: docs/benchmarks-attendance.md).
LATE_COMMIT_S = 2.0
Progress = Callable[[int, int], None]

# a record's fields as its row's columns (the engine's ``shift`` is the row's ``shift_name``), all but the date:
# what a record is compared on, and what an update writes when it changed
COLUMN_OF = {f.name: "shift_name" if f.name == "shift" else f.name for f in fields(e.Record) if f.name != "date"}


@dataclass
class Outcome:
    employees: int = 0
    records: int = 0
    written: int = 0
    deleted: int = 0
    changed_final: list[dict[str, Any]] = field(default_factory=list)
    held: int = 0  # changes on days of closed months, not written (kept on the month for HR: closing.hold)

    def add(self, other: Outcome) -> None:
        self.employees += other.employees
        self.records += other.records
        self.written += other.written
        self.deleted += other.deleted
        self.changed_final.extend(other.changed_final)
        self.held += other.held


def _row_values(rec: e.Record, zone: Any) -> dict[str, Any]:
    """A record as its row's columns (all but the employee and what a person writes on it)."""
    return {"date": rec.date, "shift_name": rec.shift or "", "status": rec.status, "source": rec.source,
            "half_day": rec.half_day, "hours": rec.hours, "late": rec.late, "early": rec.early,
            "late_min": rec.late_min, "early_min": rec.early_min, "overtime_min": rec.overtime_min,
            "overtime_kind": rec.overtime_kind, "overtime_state": rec.overtime_state,
            "first_in": aware(rec.first_in, zone), "last_out": aware(rec.last_out, zone), "other_half": rec.other_half,
            "missing_out": rec.missing_out, "day_kind": rec.day_kind, "final": rec.final,
            "closed_by_timeout": rec.closed_by_timeout, "punch_ids": list(rec.punch_ids)}


_RECORD_VALUES = attrgetter(*COLUMN_OF)  # a record's compared fields as one tuple, in COLUMN_OF's order
_COLUMNS = tuple(COLUMN_OF.values())


def _changed(old: e.Record, new: e.Record) -> list[str]:
    """The columns whose values differ between two records of one occurrence."""
    pairs = zip(_COLUMNS, _RECORD_VALUES(old), _RECORD_VALUES(new), strict=True)
    return [column for column, a, b in pairs if a != b]


DECIDED_OVERTIME = ("approved", "rejected", "in_lieu")


def _keep_approval(old: e.Record | None, new: e.Record) -> e.Record:
    """Overtime a person decided (approved, rejected, or approved as time off in lieu) stays so while its minutes do
    not change."""
    if (old is not None and old.overtime_state in DECIDED_OVERTIME and new.overtime_state == "pending"
            and old.overtime_min == new.overtime_min):
        return replace(new, overtime_state=old.overtime_state)
    return new


Before = dict[tuple[date, str], tuple[int | None, e.Record]]
NO_FINALITY = e.Finality()  # a site without terminals or a wait: nothing final


def _run_one(rules: Rules, item: EmployeeInput) -> tuple[list[e.Record], Before]:
    finality = rules.finality.get(item.site_id, NO_FINALITY)
    result = e.evaluate(item.schedule, item.person, item.punches, [r for _, r in item.records], first=item.first,
                        last=item.last, finality=finality, punch_uses=False)
    before = {(r.date, r.shift or ""): (pk, r) for pk, r in item.records}  # those of item.first..item.last
    return result.records, before


def _write_chunk(rules: Rules, items: list[EmployeeInput]) -> Outcome:
    """Run the rules for ``items`` (each over its own dates) and write what changed, except on the days of closed
    months (:mod:`central.attendance.closing`): those are read for the chunk's sites before the rules run and again
    in the writing transaction; a month closed in between (HR closing it during this chunk) runs the chunk again."""
    sites = {item.site_id for item in items}
    for _ in range(3):
        closed = closing.closed_months_of(sites)
        try:
            return _write_chunk_closed(rules, items, closed)
        except closing.ClosedMeanwhile:
            log.info("a month was closed while its records were recomputed: the chunk runs again")
    raise AttendanceError("月结与重算同时进行，请稍后再试 / A month kept being closed while it was recomputed: try again")


def _write_chunk_closed(rules: Rules, items: list[EmployeeInput], closed_of: dict[int, frozenset[date]]) -> Outcome:
    outcome = Outcome(employees=len(items))
    delete_ids: list[int] = []
    update: list[Change] = []
    create: list[dict[str, Any]] = []
    finals: list[tuple[str, int | None, dict[str, Any]]] = []  # final records written, for webhooks
    held: list[closing.Held] = []  # what the rules would change on days of closed months
    for item in items:
        zone = rules.zone(item.site_id)
        closed = closed_of.get(item.site_id)
        records, before = _run_one(rules, item)
        outcome.records += len(records)
        seen: set[tuple[date, str]] = set()
        for rec in records:
            if not item.first <= rec.date <= item.last:
                continue
            key = (rec.date, rec.shift or "")
            seen.add(key)
            pk, old = before.get(key, (None, None))
            if old is None and rec.half_day:  # a half-day leave entered without a shift took this occurrence's
                pk, old = before.get((rec.date, ""), (None, None))
                seen.add((rec.date, ""))
            rec = _keep_approval(old, rec)
            if item.overtime_asked:
                rec = pre_approved(item.overtime_asked, rec)
            changed = _changed(old, rec) if old is not None and pk is not None else []
            if "overtime_min" in changed and "overtime_state" not in changed:
                # new minutes are asked again even where the state read was already "pending": a decision taken
                # on the old minutes between this pass's read and its write must not pass for one on the new
                changed.append("overtime_state")
            if old is not None and pk is not None and not changed:
                continue
            if closed and rec.date.replace(day=1) in closed:
                if not closing.UNPAID_COLUMNS.issuperset(changed):
                    held.append(closing.Held(item.site_id, item.number, rec.date, rec.shift or "", old, rec))
                continue
            row = _row_values(rec, zone)
            if old is not None and pk is not None:
                if old.final and (old.status != rec.status or old.hours != rec.hours or old.other_half != rec.other_half):
                    outcome.changed_final.append({"employee": item.number, "date": rec.date.isoformat(), "shift": rec.shift,
                                                  "from": old.status, "to": rec.status, "hours_from": str(old.hours),
                                                  "hours_to": str(rec.hours)})
                update.append((pk, row, changed))
            else:
                row["employee_id"] = item.employee_id
                create.append(row)
            if row["final"]:
                finals.append((item.number, item.site_id, row))
        for key, (pk, old) in before.items():
            if key not in seen and old.computed and pk is not None:
                if closed and key[0].replace(day=1) in closed:
                    held.append(closing.Held(item.site_id, item.number, key[0], key[1], old, None))
                    continue
                delete_ids.append(pk)  # the schedule no longer has this occurrence
                outcome.deleted += 1
    if delete_ids or update or create or held:
        with transaction.atomic():
            if closed_of != closing.closed_months_of({item.site_id for item in items}):
                raise closing.ClosedMeanwhile
            _delete_records(delete_ids)
            _update_records(update)  # in place: what a person wrote on the row (reason, who, leave type) stays
            _insert_records(create)
            webhook_events.records_written(finals)
            closing.hold(held)
    outcome.written = len(update) + len(create)
    outcome.held = len(held)
    return outcome


def _delete_records(ids: list[int]) -> None:
    """DELETE by primary key with a plain statement (nothing refers to a daily record, so there is nothing to
    collect: Django's ``delete()`` spent its time preparing the ``IN`` list)."""
    table = connection.ops.quote_name(DailyRecord._meta.db_table)
    with connection.cursor() as cur:
        for clause, part in in_clauses(db_column(DailyRecord, "id"), ids):
            cur.execute(f"DELETE FROM {table} WHERE {clause}", part)


Change = tuple[int, dict[str, Any], list[str]]  # a record's id, its row (:func:`_row_values`), the columns changed


def _update_records(changes: list[Change]) -> None:
    """UPDATE changed records in place, by id, each in the columns it changed and no other.

    In place rather than deleted and inserted again: a row keeps its id and its index entries (the key does
    not change), so a follower's batch dirties one table page per record instead of the table and every
    index twice; on SQLite that was most of the commit's time (benchmarks/attendance.py). What a person
    wrote on the row (reason, who, leave type) is not touched, nor a column the pass did not change: a
    manager's decision on the day's overtime made while the pass ran stays.

    Rows that changed in the same columns (a new out punch: the out, the hours, the punches) go together: on
    SQLite one ``executemany``, on PostgreSQL one statement (:func:`_update_records_pg`).
    """
    if not changes:
        return
    ops = connection.ops
    by_name = {f.name: f for f in DailyRecord._meta.concrete_fields}
    table, key = ops.quote_name(DailyRecord._meta.db_table), db_column(DailyRecord, "id")
    groups: dict[tuple[str, ...], list[Change]] = {}
    for change in changes:
        groups.setdefault(tuple(change[2]), []).append(change)
    if connection.vendor == "postgresql":
        for changed, group in groups.items():
            _update_records_pg(table, key, [by_name[name] for name in changed], group)
        return
    with connection.cursor() as cur:
        for changed, group in groups.items():
            fields = [by_name[name] for name in (*changed, "updated_at")]
            plan = _value_plan(fields)
            sql = (f"UPDATE {table} SET {', '.join(f'{ops.quote_name(str(f.column))} = %s' for f in fields)} "
                   f"WHERE {key} = %s")
            cur.executemany(sql, [[*_values(row, plan), pk] for pk, row, _ in group])


def _update_records_pg(table: str, key: str, fields: list[Any], changes: list[Change]) -> None:
    """PostgreSQL: one ``UPDATE ... FROM unnest(arrays)``, a column's values of every row as one array bound on
    the server in binary (psycopg writes each array in C).

    PostgreSQL runs each statement of an ``executemany`` on its own. The rows went before by a binary COPY into a
    temporary table, an UPDATE ... FROM it and a TRUNCATE: as fast (benchmarks/attendance.py), but each TRUNCATE of
    a table made in an earlier transaction gives it a new file and a new catalog row, at every pass of a follower
    that runs every second. Django's own cursor binds on the client, where it would quote every element of every
    array.
    """
    import psycopg
    from psycopg.types.json import Jsonb

    ops = connection.ops
    columns = [ops.quote_name(str(f.column)) for f in fields]
    arrays: list[list[Any]] = [[pk for pk, _, _ in changes]]
    types = ["bigint"]
    for f in fields:
        values = [row[f.attname] for _, row, _ in changes]
        if f.get_internal_type() == "JSONField":
            values = [None if v is None else Jsonb(v) for v in values]
        arrays.append(values)
        types.append(str(f.db_type(connection)))
    stamp = ops.quote_name(str(DailyRecord._meta.get_field("updated_at").column))
    sets = ", ".join([*(f"{c} = u.{c}" for c in columns), f"{stamp} = %b"])
    sources = ", ".join(f"%b::{kind}[]" for kind in types)
    sql = f"UPDATE {table} AS r SET {sets} FROM unnest({sources}) AS u({', '.join([key, *columns])}) WHERE r.{key} = u.{key}"
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as raw:  # type: ignore[arg-type]
        raw.execute(sql, [dj_timezone.now(), *arrays])


Plan = list[tuple[str, Callable[[Any], Any] | None, Any]]


def _value_plan(fields: Sequence[Any]) -> Plan:
    """For each field: its attname, how its values reach the driver (``None``: as they are), and its default
    already in that form (``updated_at``: now).

    The same forms Django's own adapters give, without their per-value checks: at 22 columns a row those
    checks took as long as the statement itself (benchmarks/attendance.py).
    """
    sqlite = connection.vendor == "sqlite"
    now = dj_timezone.now()
    plan: Plan = []
    for f in fields:
        kind = f.get_internal_type()
        adapt: Callable[[Any], Any] | None = None
        if kind == "DateTimeField" and sqlite:
            adapt = _sqlite_datetime
        elif kind == "DateField" and sqlite:
            adapt = _sqlite_date
        elif kind == "DecimalField":
            adapt = _decimal_adapter(f)
        elif kind == "JSONField":
            adapt = _json_dumps if sqlite and f.encoder is None else _json_adapter(f)
        default = now if getattr(f, "auto_now", False) else f.get_default()
        plan.append((f.attname, adapt, adapt(default) if adapt and default is not None else default))
    return plan


def _values(row: dict[str, Any], plan: Plan) -> list[Any]:
    return [default if name not in row else adapt(row[name]) if adapt else row[name] for name, adapt, default in plan]


def _sqlite_datetime(value: datetime | None) -> str | None:
    """As Django stores a datetime in SQLite: naive UTC text."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return str(value)


def _sqlite_date(value: date | None) -> str | None:
    return None if value is None else str(value)


def _json_dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _decimal_adapter(f: Any) -> Callable[[Any], Any]:
    ops = connection.ops

    def adapt(value: Any) -> Any:
        if not isinstance(value, Decimal):
            value = f.to_python(value)
        return ops.adapt_decimalfield_value(value, f.max_digits, f.decimal_places)
    return adapt


def _insert_records(rows: list[dict[str, Any]]) -> None:
    """Insert new DailyRecord rows (``{attname: value}``) with ``executemany`` of one INSERT built from the model.

    Like ``store_punches``: Django's per-value preparation in ``bulk_create`` cost more than the engine on a
    month's records (benchmarks/attendance.py). Each value goes through the same database adapter the field
    would use; a field a row leaves out takes its default (``updated_at``: now).
    """
    if not rows:
        return
    ops = connection.ops
    meta = DailyRecord._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    plan = _value_plan(fields)
    sql = (f"INSERT INTO {ops.quote_name(meta.db_table)} ({', '.join(ops.quote_name(str(f.column)) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    values = [_values(row, plan) for row in rows]
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            for i in range(0, len(values), 2000):
                cur.executemany(sql, values[i:i + 2000])
            return
        # PostgreSQL: COPY. executemany through Django's client-side binding cursor ran at about 100 µs a
        # row (a month's 230,000 records took 24 s), and one statement of many rows spends that in psycopg's
        # parsing of the placeholders
        _copy_rows(cur, ops.quote_name(meta.db_table), [ops.quote_name(str(f.column)) for f in fields], values)


_COLUMN_TYPES: dict[tuple[str, str, tuple[str, ...]], list[int]] = {}  # (database, table, columns): type oids


def _copy_rows(cur: Any, table: str, columns: list[str], rows: Iterable[list[Any]]) -> None:
    """PostgreSQL: ``rows`` into ``table``'s ``columns`` (quoted) by a binary COPY.

    Binary, with the columns' types told to psycopg once (read from the table, kept per process): the text
    format made psycopg work out how to write each value of each row, 8 µs a row, 4 ms of a follower's pass.
    """
    key = (str(connection.settings_dict.get("NAME")), table, tuple(columns))
    types = _COLUMN_TYPES.get(key)
    if types is None:
        cur.execute(f"SELECT {', '.join(columns)} FROM {table} LIMIT 0")
        types = _COLUMN_TYPES[key] = [column.type_code for column in cur.cursor.description]
    with cur.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _json_adapter(f: Any) -> Callable[[Any], Any]:
    ops = connection.ops
    return lambda v: None if v is None else ops.adapt_json_value(v, f.encoder)


def recompute(first: date, last: date, *, employees: QuerySet[Employee] | None = None, now: datetime | None = None,
              progress: Progress | None = None, actor: str = "", rules: Rules | None = None) -> Outcome:
    """Recompute every record dated ``first``..``last`` of ``employees`` (default: all). Idempotent."""
    if last < first:
        raise AttendanceError("结束日期早于开始日期 / The end date is before the start date")
    now = now or dj_timezone.now()
    rules = rules or load_rules(now)
    query = (employees if employees is not None else Employee.objects.all()).order_by("pk")
    staff = [StaffRow(*row) for row in query.values_list(*STAFF_COLUMNS)]
    total = len(staff)
    outcome = Outcome()
    for i in range(0, total, CHUNK):
        outcome.add(_recompute_chunk(rules, staff[i:i + CHUNK], first, last))
        if progress:
            progress(min(i + CHUNK, total), total)
    if progress and not total:
        progress(0, 0)
    _audit_changes(outcome, actor or SYSTEM_ACTOR, summary={"from": first.isoformat(), "to": last.isoformat(),
                                                                   "employees": total} if actor else None)
    return outcome


def _recompute_chunk(rules: Rules, staff: list[StaffRow], first: date, last: date,
                     moments: Moments | None = None) -> Outcome:
    """One chunk (at most CHUNK employees): read, run the rules, write what changed. A whole recompute (not the
    follower's new punches, which change no schedule) first lays the approved leaves on the days they now take off."""
    if moments is None:
        sync_leave_records(rules, staff, first, last)
    return _write_chunk(rules, load_employees(rules, staff, first, last, moments))


def sync_leave_records(rules: Rules, staff: Sequence[StaffRow], first: date, last: date) -> int:
    """Make the records of these employees' approved leaves within ``first``..``last`` the days each leave takes off
    by the schedule as it stands (:func:`engine.leave_days`): a leave record on each such day (unless a record a
    person entered, or another leave's, is there), none on the other days of the leave. A roster changed after a
    leave was approved moves the leave with it. Returns how many records it wrote or removed."""
    by_id = {s.pk: s for s in staff}
    leaves = list(LeaveRecord.objects.filter(employee_id__in=list(by_id), state="approved", start__lte=last,
                                             end__gte=first).select_related("leave_type").order_by("pk"))
    if not leaves:
        return 0
    planned = plans(rules, [by_id[pk] for pk in sorted({leave.employee_id for leave in leaves})])
    changed = 0
    with transaction.atomic():
        closed_of = closing.closed_months_of({s.site_id for s in staff})
        for leave in leaves:
            person, schedule = planned[leave.employee_id]
            low, high = max(leave.start, first), min(leave.end, last)
            closed = closed_of.get(by_id[leave.employee_id].site_id, frozenset())
            wanted = {day for day in e.leave_days(schedule, person, low, high, natural=leave.leave_type.counts_rest_days)
                      if day.replace(day=1) not in closed}  # a closed month's days stay as they were paid
            rows = list(DailyRecord.objects.filter(employee_id=leave.employee_id, date__range=(low, high))
                        .values_list("pk", "date", "source", "leave_type_id", "half_day", "hours"))
            on_duty = leave.leave_type.on_duty
            source = "on_duty" if on_duty else "leave"
            mine = {pk: day for pk, day, was, type_id, half, _ in rows
                    if was == source and type_id == leave.leave_type_id and half == leave.half_day
                    and day.replace(day=1) not in closed}
            stale = [pk for pk, day in mine.items() if day not in wanted]
            if stale:
                DailyRecord.objects.filter(pk__in=stale).delete()
            if on_duty and not leave.half_day:  # a whole day away is credited the shift as it now stands
                for pk, day, *_, hours in rows:
                    if pk in mine and day in wanted and hours != (credited := _duty_hours(schedule, person, day)):
                        changed += DailyRecord.objects.filter(pk=pk).update(hours=credited)
            taken = {day for pk, day, was, *_ in rows if was not in e.COMPUTED_SOURCES and pk not in stale}
            fresh = [DailyRecord(employee_id=leave.employee_id, date=day, shift_name="", source=source,
                                 leave_type_id=leave.leave_type_id, half_day=leave.half_day, final=True,
                                 status="half_day" if leave.half_day else "present" if on_duty else "on_leave",
                                 hours=_duty_hours(schedule, person, day) if on_duty and not leave.half_day else 0,
                                 reason=leave.reason, created_by=leave.approved_by)
                     for day in sorted(wanted - taken)]
            DailyRecord.objects.bulk_create(fresh)
            changed += len(stale) + len(fresh)
    return changed


def _duty_hours(schedule: e.Schedule, person: e.Person, day: date) -> Decimal:
    """What a whole day on duty away is credited: the paid hours of the shifts the person works that day (none: 0)."""
    zone = schedule.calendar.zone
    return sum((shift.paid_hours(day, zone) for shift, _weekly in e.shifts_on(schedule, person, day)), Decimal("0.00"))


def recompute_spans(spans: dict[int, tuple[date, date]], staff: dict[int, StaffRow], *, now: datetime,
                    rules: Rules | None = None, actor: str = SYSTEM_ACTOR, moments: Moments | None = None) -> Outcome:
    """Recompute each employee (by id, read as ``staff``) over their own span; employees sharing a span go together.
    With ``moments`` (local times of new punches per employee), only the occurrences holding them."""
    rules = rules or load_rules(now)
    groups: dict[tuple[date, date], list[StaffRow]] = {}
    for pk, span in spans.items():
        groups.setdefault(span, []).append(staff[pk])
    outcome = Outcome()
    for (first, last), people in sorted(groups.items()):
        people.sort()
        for i in range(0, len(people), CHUNK):
            outcome.add(_recompute_chunk(rules, people[i:i + CHUNK], first, last, moments))
    _audit_changes(outcome, actor)
    return outcome


def _audit_changes(outcome: Outcome, actor: str, summary: dict[str, Any] | None = None) -> None:
    """Final records that changed are evidence: one audit entry each (a person's bulk run: one summary)."""
    if summary is not None:
        audit.record(actor, "attendance.recompute", f"{summary['from']}..{summary['to']}",
                     {**summary, "written": outcome.written, "final_changed": len(outcome.changed_final),
                      "held": outcome.held})
        return
    for change in outcome.changed_final[:1000]:
        audit.record(actor, "attendance.record_changed", f"{change['employee']} {change['date']}", change)
    if len(outcome.changed_final) > 1000:
        audit.record(actor, "attendance.record_changed", "…", {"more": len(outcome.changed_final) - 1000})


# -- incremental: new punches and finality ---------------------------------------------------------------
class Follower:
    """Keeps daily records current as punches arrive and as days become final. ``tick()`` does one pass."""

    def __init__(self) -> None:
        self._recent = LookBack()  # punch ids already handled inside the look-back window
        self._recent_mark: datetime | None = None  # the watermark ``_recent`` was trimmed to
        self._rules = RulesCache()
        self._prune_due = 0.0  # time.monotonic() after which finished jobs past JOBS_KEPT are deleted again

    def tick(self, now: datetime | None = None) -> Outcome:
        now = now or dj_timezone.now()
        if time.monotonic() >= self._prune_due:  # not every pass: on SQLite each DELETE takes the write lock
            prune_jobs(now)
            self._prune_due = time.monotonic() + PRUNE_EVERY_S
        states = _read_states()  # the rules' token before the rules: an edit committed after it is read next pass
        rules = self._rules.current(now, states.get(RULES_VERSION_KEY))
        outcome = self.new_punches(rules, now, states)
        self.finality(rules, now, states)
        # a queued recompute was committed with its edit's token: the rules it needs are at least that new
        outcome.add(run_queued(rules, now, fresh=lambda: self._rules.current(now, read_version())))
        return outcome

    def new_punches(self, rules: Rules, now: datetime, states: dict[str, str]) -> Outcome:
        mark = _stamp(states.get(WATERMARK_KEY))
        # trimmed to this very watermark, every time in ``_recent`` lies in its look-back window: no need to count
        trimmed = mark is not None and mark == self._recent_mark
        # a punch handled before comes again when a re-stamp moved it (its received_at moves with it)
        found = [row for row in _arrived(mark, self._recent, trimmed) if not self._recent.handled(row[0], row[3])]
        if not found:
            return Outcome()
        staff = {row[5].pk: row[5] for row in found if row[5] is not None}
        # each employee's punches as local times, and the dates of the occurrences that can hold them (engine.touched
        # then keeps only those that do); the day a re-stamped punch left is recomputed as well as the day it moved to
        moments: Moments = {}
        spans: dict[int, tuple[date, date]] = {}
        everything = e.Schedule(rules.shifts)
        reaching: dict[date, tuple[date, date]] = {}
        for _, _, at, _, was, who in found:
            if who is None:
                continue
            for moment in (at, was):
                if moment is None:
                    continue
                wall = local(moment, rules.zone(who.site_id))
                moments.setdefault(who.pk, []).append(wall)
                day = wall.date()
                low, high = reaching.get(day) or reaching.setdefault(day, e.dates_reaching(everything, day))
                was_low, was_high = spans.get(who.pk, (low, high))
                spans[who.pk] = (min(low, was_low), max(high, was_high))
        newest = max(r[3] for r in found)
        with derived_transaction():  # the records (or their queued recompute) and the watermark: one commit
            if sum((high - low).days + 1 for low, high in spans.values()) > INLINE_EMPLOYEE_DAYS:
                outcome = Outcome()
                _queue_arrived(spans)
            else:
                outcome = recompute_spans(spans, staff, now=now, rules=rules, moments=moments)
            if mark is None or newest > mark:
                _set_state(WATERMARK_KEY, newest)
                mark = newest
        horizon = mark - timedelta(seconds=LATE_COMMIT_S)
        self._recent.trim(horizon)
        for pid, _, _, received, _, _ in found:
            if received > horizon:
                self._recent.add(pid, received)
        self._recent_mark = mark
        return outcome

    def finality(self, rules: Rules, now: datetime, states: dict[str, str]) -> None:
        """Sites whose days became final since the last pass: the days whose windows closed are queued for
        recompute, with the site's frontier in the same commit. :func:`run_queued` then works through them a chunk
        of employees at a time: on a 10,000-person site that is about 2 s of work, several times a day, which new
        punches would otherwise wait for."""
        for site_id, fin in rules.finality.items():
            frontier = max([x for x in (fin.reported_until, fin.timeout_until) if x is not None], default=None)
            if frontier is None:
                continue
            key = FRONTIER_KEY.format(site=site_id)
            before = _stamp(states.get(key))
            previous = local(before, rules.zone(site_id)) if before else frontier - timedelta(days=2)
            if frontier <= previous:
                continue
            days = _closing_days(rules, previous, frontier)
            if not days and before is not None:
                continue  # no shift ended since: the frontier stays, and an idle pass writes nothing (each write
                # would take SQLite's one write lock and flush the disk, every second)
            staff = Employee.objects.filter(site_id=site_id).order_by("pk").values_list("pk", flat=True)
            with transaction.atomic():
                ids = list(staff) if days else []  # read only when some days close
                if ids:
                    queue_recompute(ids, min(days), max(days), SYSTEM_ACTOR,
                                    f"站点 {site_id} 定稿至 {frontier:%Y-%m-%d %H:%M} / days turn final",
                                    kind=RecomputeJob.TURNING_FINAL)
                _set_state(key, frontier.replace(tzinfo=rules.zone(site_id)))


@contextmanager
def derived_transaction() -> Iterator[None]:
    """A transaction of what the punches already on disk determine (records, and the watermark saying how far they
    go), committed without waiting for the disk flush.

    The ingest's commit is durable (an ack means the punch is on disk); this one need not be: a power cut may take
    back the last such commits, the records and the watermark together (SQLite in WAL mode and PostgreSQL keep a
    transaction whole), and the follower then computes them again from the punches. On SQLite
    ``synchronous=NORMAL`` for this transaction, on PostgreSQL ``synchronous_commit = off``. Inside an outer
    transaction it is part of that one, which keeps its own setting. The flush was 4 to 30 ms of a follower's tick
    on SQLite (benchmarks/attendance.py).
    """
    if connection.in_atomic_block or connection.vendor not in ("sqlite", "postgresql"):
        with transaction.atomic():
            yield
        return
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SET LOCAL synchronous_commit TO OFF")
            yield
        return
    with connection.cursor() as cur:
        cur.execute("PRAGMA synchronous")
        level = int(cur.fetchone()[0])
        cur.execute("PRAGMA synchronous=NORMAL")
    try:
        with transaction.atomic():
            yield
    finally:
        with connection.cursor() as cur:
            cur.execute(f"PRAGMA synchronous={level}")


Arrived = tuple[str, str, datetime, datetime, datetime | None, StaffRow | None]
IMPORTED = "import"  # the time source of a punch brought by an import (central.attendance.punch_import)


def _queue_arrived(spans: dict[int, tuple[date, date]]) -> RecomputeJob:
    """Punches too many to recompute in one pass (a year's download imported, a terminal back after weeks away, an
    ERP's bulk load) are queued, in the pass's commit: :func:`run_queued` works through them a chunk of employees at a
    time, each its own short transaction, and the receiver's batches are never held behind one long write."""
    first, last = min(low for low, _ in spans.values()), max(high for _, high in spans.values())
    return queue_recompute(sorted(spans), first, last, SYSTEM_ACTOR, RecomputeJob.ARRIVALS,
                           kind=RecomputeJob.MANY_PUNCHES)


def _arrived(mark: datetime | None, recent: LookBack, trimmed: bool = False) -> list[Arrived]:
    """(id, employee number, punched_at, received_at, original_punched_at, the employee) of punches received
    after ``mark`` - LATE_COMMIT_S (a re-stamp sets received_at again); the employee is ``None`` for a number
    no employee has, for a punch with an impossible time (``time_flag``), which is never counted, and for an imported
    punch (``time_source`` ``import``, which no terminal sends), whose import queued its recompute in the same commit
    (:func:`queue_recompute_of`).

    When the look-back window (mark - LATE_COMMIT_S, mark] holds exactly the punches already handled
    (``recent``), a count over the received_at index proves it and only the punches after ``mark`` are
    read: a busy receiver otherwise re-reads its whole window of punches at every pass. The count reads the index
    alone: every punch is handled, flagged or not (filtering the flag there read each punch's row, 6 ms of a
    follower's tick with 40,000 punches in the window, benchmarks/attendance.py). Read with a plain cursor
    (times as aware UTC), as ``inputs.load_employees`` reads punches.
    """
    ops = connection.ops
    table, people = ops.quote_name(Punch._meta.db_table), ops.quote_name(Employee._meta.db_table)
    received = "p." + db_column(Punch, "received_at")
    adapt = ops.adapt_datetimefield_value
    where, params = "", []
    if mark is not None:
        since = mark - timedelta(seconds=LATE_COMMIT_S)
        where, params = f" WHERE {received} > %s", [adapt(since)]
        handled = len(recent) if trimmed else recent.count_between(since, mark)
        if handled:
            with connection.cursor() as cur:
                cur.execute(f"SELECT COUNT(*) FROM {table} AS p WHERE {received} > %s AND {received} <= %s",
                            [adapt(since), adapt(mark)])
                window = cur.fetchone()[0]
            if window == handled:
                params = [adapt(mark)]
    parse = utc_value()
    punch = ", ".join(utc_sql("p." + db_column(Punch, c)) if c.endswith("_at") else "p." + db_column(Punch, c)
                      for c in ("id", "employee_number", "punched_at", "received_at", "original_punched_at", "time_flag",
                                "time_source"))
    who = ", ".join("e." + db_column(Employee, c) for c in STAFF_FIELDS)
    sql = (f"SELECT {punch}, {who} FROM {table} AS p LEFT JOIN {people} AS e "
           f"ON e.{db_column(Employee, 'number')} = p.{db_column(Punch, 'employee_number')}{where}")
    found: list[Arrived] = []
    with connection.cursor() as cur:
        cur.execute(sql, params)
        while rows := cur.fetchmany(5000):
            for pid, number, at, got, was, flag, source, emp_id, emp_number, site, department, active in rows:
                found.append((pid, number, parse(at).replace(tzinfo=timezone.utc),  # type: ignore[union-attr]
                              parse(got).replace(tzinfo=timezone.utc),  # type: ignore[union-attr]
                              None if was is None else parse(was).replace(tzinfo=timezone.utc),  # type: ignore[union-attr]
                              None if emp_id is None or flag or source == IMPORTED
                              else StaffRow(emp_id, emp_number, site, department, bool(active))))
    return found


def _closing_days(rules: Rules, after: datetime, until: datetime) -> list[date]:
    """Dates of occurrences whose shift end or window end falls in (after, until]."""
    days: set[date] = set()
    span = (until.date() - after.date()).days
    if span > 62:  # a long gap (a new install, a restore): the last two months at most
        after = until - timedelta(days=62)
    day = after.date() - timedelta(days=2)
    while day <= until.date():
        for shift in rules.shifts.values():
            ends = shift.ends(day)
            if any(after < t <= until for t in (ends, ends + timedelta(minutes=shift.checkout_after_min))):
                days.add(day)
        day += timedelta(days=1)
    return sorted(days)


def _read_states() -> dict[str, str]:
    """The follower's own state, in one statement: the watermark, each site's finality frontier, the rules' token."""
    return dict(State.objects.filter(key__startswith=STATE_PREFIX).values_list("key", "value"))


def _stamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _set_state(key: str, at: datetime) -> None:
    """One UPDATE (an INSERT the first time) rather than ``update_or_create``'s read and write."""
    if not State.objects.filter(key=key).update(value=at.isoformat()):
        State.objects.create(key=key, value=at.isoformat())


# -- records a person enters --------------------------------------------------------------------------------
def add_manual_record(employee: Employee, day: date, status: str, *, reason: str, actor: str,
                      shift: ShiftType | None = None, half_day: bool = False, now: datetime | None = None) -> DailyRecord:
    """A record HR enters by hand (it wins over punches); audited with its reason."""
    if status not in e.STATUSES:
        raise AttendanceError(f"状态无效 / Unknown status {status!r}")
    reason = (reason or "").strip()
    if not reason:
        raise AttendanceError("请填写原因 / A reason is required")
    closing.require_open(employee, day)
    with transaction.atomic():
        shift_name = shift.name if shift else ""
        that_day = DailyRecord.objects.filter(employee=employee, date=day)
        if shift_name:  # one shift's record is replaced
            that_day.filter(shift_name=shift_name).delete()
        else:  # a whole-day record replaces the one without a shift and every computed record of the day
            that_day.filter(Q(shift_name="") | Q(source__in=e.COMPUTED_SOURCES)).delete()
        row = DailyRecord.objects.create(employee=employee, date=day, shift_name=shift_name, status=status,
                                         source="manual", half_day=half_day or status == "half_day", reason=reason[:500],
                                         created_by=actor[:150], final=True, hours=Decimal("0.00"))
        audit.record(actor, "attendance.manual_record", f"{employee.number} {day.isoformat()}",
                     {"status": status, "shift": shift_name, "reason": reason[:200]})
        # in the same commit: the record and what it changes on the days around it (a crash leaves neither)
        recompute(day - timedelta(days=1), day + timedelta(days=1), employees=Employee.objects.filter(pk=employee.pk),
                  now=now)
    return DailyRecord.objects.get(pk=row.pk)


# -- schedules HR sets up in the console: shifts, rotations, assignments, calendars ---------------------------
# Each write is scope-checked and audited; what it changes in the past (at most RECOMPUTE_DAYS back, never the
# future: a future day has no record yet) is recomputed at once, so the employees' months show it.
RECOMPUTE_DAYS = 62
# an edit touching more employee-days than this is queued instead (about 2 s of recompute on the 2-core machine
# of benchmarks/attendance.py): a page must not wait, nor a proxy time out, on a big site's two months; and new
# punches reaching more than this in one follower pass are queued too (Follower.new_punches): one transaction that
# long would hold the receiver's next batches, on SQLite its whole ingest
INLINE_EMPLOYEE_DAYS = 20_000
JOBS_KEPT = timedelta(days=30)  # finished recomputes are forgotten after this (the audit log keeps the summary)
PRUNE_EVERY_S = 3600.0  # how often the follower deletes finished jobs past JOBS_KEPT
QUEUED_SLICE_S = 0.5  # how long a follower pass spends on queued recomputes before it looks at new punches again


class ScheduleError(AttendanceError):
    """A schedule the console refuses."""


def _require_hr(user: Any) -> None:
    from central.accounts import scope

    scope.require_manage(user)


def _past_span(first: date | None, last: date | None, today: date | None = None) -> tuple[date, date] | None:
    """The part of ``first``..``last`` (``None``: open) that has records: the last RECOMPUTE_DAYS days up to today."""
    today = today or dj_timezone.localdate()
    low = max(first or date.min, today - timedelta(days=RECOMPUTE_DAYS))
    high = min(last or today, today)
    return (low, high) if low <= high else None


def queue_recompute_for(employees: QuerySet[Employee], first: date | None, last: date | None, actor: str,
                        reason: str) -> RecomputeJob | None:
    """In the transaction of an edit that changes what ``employees``' days come out as: the recompute of the past days
    among ``first``..``last`` queued in that same commit (:func:`queue_recompute_of`), so that a crash after the commit
    leaves no day computed on the old rules; ``reason`` says what changed (the console shows it with the progress).
    After the commit the caller passes the job to :func:`run_claimed`."""
    return queue_recompute_of(employees.order_by("pk").values_list("pk", flat=True), first, last, actor, reason)


def run_claimed(job: RecomputeJob | None) -> Outcome | RecomputeJob | None:
    """After the commit that queued ``job``: a job small enough for a page to wait for (claimed by this request) is run
    here, its outcome returned; a bigger one is left to the follower (:func:`run_queued`) and returned as it is."""
    if job is None or job.claimed_until is None:
        return job
    return finish_claimed(job)


def _fits_inline(employees: int, span: tuple[date, date]) -> bool:
    """Whether a recompute of so many employees over ``span`` is small enough for a page to wait for."""
    return employees * ((span[1] - span[0]).days + 1) <= INLINE_EMPLOYEE_DAYS


def queue_recompute(ids: list[int], first: date, last: date, actor: str, reason: str, *,
                    claimed_until: datetime | None = None, kind: str = RecomputeJob.EDIT) -> RecomputeJob:
    """A recompute of these employees (ids, ascending) over ``first``..``last`` for :func:`run_queued`, in the
    caller's transaction. A person's job is audited as queued, unless its caller runs it at once (``claimed_until``,
    :func:`finish_claimed`)."""
    job = RecomputeJob.objects.create(actor=actor[:150], reason=reason[:200], first=first, last=last, employees=ids,
                                      total=len(ids), claimed_until=claimed_until, kind=kind)
    if actor != SYSTEM_ACTOR and claimed_until is None:
        audit.record(actor, "attendance.recompute_queued", f"{first.isoformat()}..{last.isoformat()}",
                     {"job": job.pk, "employees": len(ids), "reason": job.reason})
    log.info("recompute of %s employees from %s to %s queued (job %s%s)", len(ids), first, last, job.pk,
             ", run at once by its request" if claimed_until else "")
    return job


CLAIM = timedelta(minutes=5)  # how long the follower leaves a job its request runs (the console's own time-out is 60 s)


def queue_recompute_of(employee_ids: Iterable[int], first: date | None, last: date | None, actor: str, reason: str,
                       now: datetime | None = None) -> RecomputeJob | None:
    """In the transaction that wrote what changed (an import's punches): the recompute of the past days among
    ``first``..``last`` of these employees, queued in that same commit, so that neither a crash after it nor the
    follower's pass over the new punches leaves them uncounted or counts them twice. Small enough for a page to wait
    for (INLINE_EMPLOYEE_DAYS), it is claimed by the caller, which runs it after the commit with
    :func:`finish_claimed`; else the follower works through it. ``None`` when no such day has records."""
    span = _past_span(first, last)
    if span is None:  # before the ids are read: a queryset of them is not run for nothing
        return None
    ids = sorted(set(employee_ids))
    if not ids:
        return None
    claim = (now or dj_timezone.now()) + CLAIM if _fits_inline(len(ids), span) else None
    return queue_recompute(ids, span[0], span[1], actor, reason, claimed_until=claim)


def finish_claimed(job: RecomputeJob, now: datetime | None = None) -> Outcome:
    """Run a job this request queued and claimed (:func:`queue_recompute_of`) to its end, a chunk at a time."""
    now = now or dj_timezone.now()
    rules = load_rules(now)
    outcome = Outcome()
    while job.state in (RecomputeJob.PENDING, RecomputeJob.RUNNING):
        outcome.add(_work_job(job, rules, now))
    return outcome


def prune_jobs(now: datetime) -> int:
    """Finished recomputes older than JOBS_KEPT deleted (a few a day, each a line of history); how many."""
    return RecomputeJob.objects.filter(finished_at__lt=now - JOBS_KEPT).delete()[0]


def run_queued(rules: Rules, now: datetime, budget_s: float | None = None,
               fresh: Callable[[], Rules] | None = None) -> Outcome:
    """Work through queued recomputes, oldest first, a chunk of employees at a time, for about ``budget_s`` (default
    QUEUED_SLICE_S; at least one chunk).

    Each chunk's records and the job's progress commit together, so a restart goes on where it stopped (and a
    chunk done twice writes nothing the second time). A chunk that fails marks its job failed, with the reason,
    and the queue goes on with the next one. As for a recompute run at once, a person's edit gets one summary in
    the audit log when its job is done, the follower's own (days turning final) an entry per final record that
    changed. ``fresh``, when given, gives the rules to use once a job is found (the follower's kept rules checked
    against the token the job's edit committed).
    """
    budget = QUEUED_SLICE_S if budget_s is None else budget_s
    began = time.monotonic()
    outcome = Outcome()
    while True:  # one chunk at least, whatever the budget: a queue always moves
        job = (RecomputeJob.objects.filter(state__in=(RecomputeJob.PENDING, RecomputeJob.RUNNING))
               .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)).order_by("pk").first())
        if job is None:
            break
        if fresh is not None:
            rules, fresh = fresh(), None
        outcome.add(_work_job(job, rules, now))
        if time.monotonic() - began >= budget:
            break
    return outcome


def _work_job(job: RecomputeJob, rules: Rules, now: datetime) -> Outcome:
    """The next chunk of ``job``'s employees recomputed, and the job's progress, in one commit; a chunk that fails
    marks the job failed with the reason (logged)."""
    ids = job.employees[job.done:job.done + CHUNK]
    outcome = Outcome()
    try:
        with transaction.atomic():
            if ids:
                query = Employee.objects.filter(pk__in=ids).order_by("pk")
                part = _recompute_chunk(rules, [StaffRow(*row) for row in query.values_list(*STAFF_COLUMNS)],
                                        job.first, job.last)
                if job.actor == SYSTEM_ACTOR:  # as the follower's passes: each final record that changed
                    _audit_changes(part, job.actor)
                outcome.add(part)
                job.written += part.written
                job.final_changed += len(part.changed_final)
                job.held += part.held
            job.done += len(ids)
            job.started_at = job.started_at or now
            job.state = RecomputeJob.RUNNING
            if job.done >= job.total:
                job.state, job.finished_at, job.employees = RecomputeJob.DONE, now, []  # the list has served
                if job.actor != SYSTEM_ACTOR:  # a person's edit: one summary
                    audit.record(job.actor, "attendance.recompute",
                                 f"{job.first.isoformat()}..{job.last.isoformat()}",
                                 {"job": job.pk, "reason": job.reason, "employees": job.total,
                                  "written": job.written, "final_changed": job.final_changed, "held": job.held})
            job.save(update_fields=["done", "written", "final_changed", "held", "started_at", "state", "finished_at",
                                    "employees"])
    except Exception as exc:  # noqa: BLE001 - a job the rules cannot run must not stop the follower
        log.exception("queued recompute %s failed", job.pk)
        job.state, job.finished_at, job.error = RecomputeJob.FAILED, now, f"{type(exc).__name__}: {exc}"[:500]
        RecomputeJob.objects.filter(pk=job.pk).update(state=job.state, finished_at=now, error=job.error)
    return outcome


def check_shift(values: dict[str, Any]) -> None:
    """The rules of one shift type beyond each field's own range; a refusal names its field."""
    start, end = values.get("start"), values.get("end")
    if start is None or end is None:
        return
    if start == end:
        raise ScheduleError("下班时间不能等于上班时间 / The end cannot equal the start", "end")
    breaks = tuple(e.Break(item["start"], item["end"]) for item in values.get("breaks") or [])
    shape = e.Shift(name="", start=start, end=end, breaks=breaks)  # placed in time as the engine places it
    day = date(2000, 1, 3)
    begins, ends = shape.begins(day), shape.ends(day)
    length_h = Decimal((ends - begins).total_seconds()) / 3600
    spans: list[tuple[datetime, datetime]] = []
    for item, (span_start, span_end) in zip(breaks, shape.break_spans(day), strict=True):
        label = f"{item.start:%H:%M}-{item.end:%H:%M}"
        if item.start == item.end:
            raise ScheduleError(f"休息 {label} 没有时长 / The break {label} has no length", "breaks")
        if span_start < begins or span_end > ends:
            raise ScheduleError(f"休息 {label} 不在班次时间内 / The break {label} is outside the shift", "breaks")
        if any(span_start < other_end and other_start < span_end for other_start, other_end in spans):
            raise ScheduleError(f"休息 {label} 与另一段重叠 / The break {label} overlaps another", "breaks")
        spans.append((span_start, span_end))
    flex = values.get("flex_min") or 0
    for room, zh, en in ((values.get("checkin_before_min") or 0, "上班前", "before the start"),
                         (values.get("checkout_after_min") or 0, "下班后", "after the end")):
        if flex > room:  # an in (or out) moved by the flexible start would fall outside the punching window
            raise ScheduleError(f"弹性 {flex} 分钟超出{zh}可打卡的 {room} 分钟，请放宽打卡时段 / A flexible start of {flex} min "
                                f"needs punching allowed at least as long {en} (now {room} min)", "flex_min")
    if flex * 2 * 60 >= (ends - begins).total_seconds():
        raise ScheduleError("弹性时长应短于半个班次 / A flexible start is shorter than half the shift", "flex_min")
    half, absent = values.get("half_day_below_h"), values.get("absent_below_h")
    for name, value in (("half_day_below_h", half), ("absent_below_h", absent)):
        if value is not None and value > length_h:
            raise ScheduleError(f"阈值超过班次时长 {length_h:.2f} 小时 / More than the shift's {length_h:.2f} h", name)
    if half is not None and absent is not None and absent > half:
        raise ScheduleError("缺勤阈值不能高于半天阈值 / The absent threshold cannot be above the half-day one",
                            "absent_below_h")


def _employees_on(shift_ids: Iterable[int] = (), rotation_ids: Iterable[int] = ()) -> QuerySet[Employee]:
    """Employees whose schedule uses these shifts or rotations (their own, their department's or by default)."""
    shift_ids, rotation_ids = list(shift_ids), list(rotation_ids)
    held = Assignment.objects.filter(Q(shift_id__in=shift_ids) | Q(rotation_id__in=rotation_ids))
    own = held.filter(employee__isnull=False).values("employee_id")
    departments = held.filter(department__isnull=False).values("department_id")
    return Employee.objects.filter(Q(pk__in=own) | Q(department_id__in=departments)
                                   | Q(attendance__default_shift_id__in=shift_ids)).distinct()


def _rotations_using(shift_id: int) -> list[int]:
    return [r.pk for r in Rotation.objects.all() if shift_id in (r.pattern or [])]


def _free_name(model: type[OvertimeRule | ShiftType | Rotation], name: str | None, current: Any, zh: str, en: str) -> str:
    """The stripped name of a company-wide row, refused when empty or when another row of ``model`` has it."""
    name = (name or "").strip()
    if not name:
        raise ScheduleError("请填写名称 / A name is required", "name")
    if model.objects.filter(name=name).exclude(pk=getattr(current, "pk", 0) or 0).exists():
        raise ScheduleError(f"已有名为 {name} 的{zh} / {en} named {name} exists", "name")
    return name


def save_overtime_rule(user: Any, values: dict[str, Any], rule: Any = None) -> Any:
    """Add an overtime rule, or change ``rule``; the shifts using it are recomputed."""
    _require_hr(user)
    name = _free_name(OvertimeRule, values.get("name"), rule, "加班规则", "An overtime rule")
    creating = rule is None
    with transaction.atomic():
        rule = rule or OvertimeRule()
        for key in ("min_minutes", "step_min", "before_start", "requires_approval", "listed_only"):
            setattr(rule, key, values[key])
        rule.name = name
        rule.full_clean()
        rule.save()
        audit.record(user.username, "attendance.overtime_rule.create" if creating else "attendance.overtime_rule.update",
                     name, {k: values[k] for k in ("min_minutes", "step_min", "before_start", "requires_approval",
                                                   "listed_only")})
        job = None
        if not creating:
            shift_ids = list(rule.shifts.values_list("pk", flat=True))
            rotations = [r for s in shift_ids for r in _rotations_using(s)]
            job = queue_recompute_for(_employees_on(shift_ids, rotations), None, None, user.username,
                                      f"加班规则 {name} / overtime rule {name}")
    run_claimed(job)
    return rule


def save_leave_type(user: Any, values: dict[str, Any], leave_type: LeaveType | None = None) -> LeaveType:
    """Add a leave type, or change ``leave_type``. Counting rest days or not moves the days its approved leaves
    take off: their employees are recomputed over those leaves."""
    _require_hr(user)
    code = (values.get("code") or "").strip()
    name = (values.get("name") or "").strip()
    if not code:
        raise ScheduleError("请填写代码 / A code is required", "code")
    if not name:
        raise ScheduleError("请填写名称 / A name is required", "name")
    if LeaveType.objects.filter(code=code).exclude(pk=getattr(leave_type, "pk", 0) or 0).exists():
        raise ScheduleError(f"已有代码为 {code} 的假别 / A leave type with the code {code} exists", "code")
    # as stored: a console form has already written its values onto the instance it edits
    stored = LeaveType.objects.filter(pk=leave_type.pk).first() if leave_type is not None and leave_type.pk else None
    statutory = bool(values.get("statutory"))
    if statutory and values.get("yearly_days") is not None:
        raise ScheduleError("法定年休假按工作年限计算，每年额度请留空 / Statutory annual leave is counted from the years of "
                            "working life: leave the days a year empty", "yearly_days")
    if statutory and values["counts_rest_days"]:
        raise ScheduleError("法定年休假不含休息日和节假日，不能按自然日计 / Statutory annual leave does not take rest days "
                            "and holidays: it cannot count calendar days", "counts_rest_days")
    carry, until, since = values.get("carry_over_days"), values.get("carry_over_until"), values.get("carry_over_since")
    in_lieu = bool(values.get("in_lieu"))
    if in_lieu:
        _check_in_lieu_type(values, statutory, carry, leave_type)
    elif stored is not None and stored.in_lieu:
        banked = DailyRecord.objects.filter(overtime_state="in_lieu").count()
        if banked:  # their overtime would be neither paid nor taken as days off
            raise ScheduleError(f"已有 {banked} 天的加班批为调休，调休假不能取消 / {banked} days of overtime were approved "
                                "as time off in lieu: this type must stay time off in lieu", "in_lieu")
    on_duty = bool(values.get("on_duty"))
    if on_duty:
        _check_on_duty_type(values, statutory, in_lieu, carry)
    if stored is not None and stored.on_duty != on_duty:
        taken = LeaveRecord.objects.filter(leave_type=leave_type, state__in=("pending", "approved")).count()
        if taken:  # their requests were asked, and their days laid down, as the one or the other
            raise ScheduleError(f"这种假别已有 {taken} 条待批或已批的申请，不能改为或取消公出，请另建假别 / {taken} requests of "
                                "this type are pending or approved: it cannot become or stop being on duty away; add "
                                "another type", "on_duty")
    months = values.get("in_lieu_months")
    if months is not None and not in_lieu:
        raise ScheduleError("有效期只用于调休假 / Only time off in lieu lasts a number of months", "in_lieu_months")
    forfeits = values.get("forfeits_annual") or ""
    _check_forfeits(forfeits, values, statutory, in_lieu, on_duty)
    if carry is not None and values.get("yearly_days") is None and not statutory:
        raise ScheduleError("结转需要每年额度或法定年休假：没有额度就没有剩余可结转 / Carrying over needs days a year or "
                            "statutory annual leave: without an allowance nothing is left to carry", "carry_over_days")
    if carry is None:  # no carry-over: its last month and first year go with it (the form need not be emptied)
        until = since = None
    elif since is None:
        since = dj_timezone.localdate().year  # from this year's unused days on
    creating = leave_type is None
    moved = stored is not None and stored.counts_rest_days != bool(values["counts_rest_days"])
    with transaction.atomic():
        leave_type = leave_type or LeaveType()
        leave_type.code, leave_type.name = code, name
        leave_type.paid, leave_type.counts_rest_days = bool(values["paid"]), bool(values["counts_rest_days"])
        leave_type.yearly_days, leave_type.statutory = values.get("yearly_days"), statutory
        leave_type.needs_evidence, leave_type.in_lieu = bool(values.get("needs_evidence")), in_lieu
        leave_type.on_duty, leave_type.forfeits_annual, leave_type.in_lieu_months = on_duty, forfeits, months
        leave_type.carry_over_days, leave_type.carry_over_until, leave_type.carry_over_since = carry, until, since
        leave_type.full_clean()
        leave_type.save()
        audit.record(user.username, "attendance.leave_type.create" if creating else "attendance.leave_type.update",
                     code, {"name": name, "paid": leave_type.paid, "counts_rest_days": leave_type.counts_rest_days,
                            "yearly_days": None if leave_type.yearly_days is None else str(leave_type.yearly_days),
                            "statutory": statutory, "needs_evidence": leave_type.needs_evidence, "in_lieu": in_lieu,
                            "on_duty": on_duty, "forfeits_annual": forfeits, "in_lieu_months": months,
                            "carry_over_days": None if carry is None else str(carry), "carry_over_until": until,
                            "carry_over_since": since})
        job = None
        if moved:
            leaves = LeaveRecord.objects.filter(leave_type=leave_type, state="approved")
            span = leaves.aggregate(first=Min("start"), last=Max("end"))
            if span["first"] is not None:
                job = queue_recompute_for(Employee.objects.filter(pk__in=leaves.values("employee_id")), span["first"],
                                          span["last"], user.username, f"假别 {code} / leave type {code}")
    run_claimed(job)
    return leave_type


def _refuse_first(refusals: Iterable[tuple[bool, str, str, str]]) -> None:
    """Of (refused, field, Chinese, English), the first refused raises :class:`ScheduleError` on its field."""
    for refused, name, zh, en in refusals:
        if refused:
            raise ScheduleError(f"{zh} / {en}", name)


def _check_forfeits(forfeits: str, values: dict[str, Any], statutory: bool, in_lieu: bool, on_duty: bool) -> None:
    """Sick leave, and personal leave the company pays, count against statutory annual leave (条例 第四条)."""
    if not forfeits:
        return
    refusals = ((forfeits not in ("sick", "personal"), "forfeits_annual", "请选择病假或事假",
                 "Choose sick leave or personal leave"),
                (statutory, "forfeits_annual", "法定年休假本身不影响年休假", "Statutory annual leave does not count against itself"),
                (in_lieu, "forfeits_annual", "调休不影响年休假", "Time off in lieu does not count against annual leave"),
                (on_duty, "forfeits_annual", "公出算出勤，不影响年休假", "On duty away counts as worked, not against annual leave"),
                (forfeits == "personal" and not values.get("paid"), "forfeits_annual",
                 "只有不扣工资的事假才影响年休假（条例第四条第二项），请先勾选带薪",
                 "Only personal leave the company pays counts against annual leave (article 4, item 2): tick Paid first"))
    _refuse_first(refusals)


def _check_on_duty_type(values: dict[str, Any], statutory: bool, in_lieu: bool, carry: Any) -> None:
    """Days on duty away (公出) are worked days: paid as worked, on working days, with no allowance to count."""
    refusals = ((not values.get("paid"), "paid", "公出算出勤，按出勤计薪，不能是无薪假",
                 "On duty away counts as worked and is paid as worked: it cannot be unpaid"),
                (values.get("yearly_days") is not None, "yearly_days", "公出不是假期，不设每年额度，请留空",
                 "On duty away is not time off: leave the days a year empty"),
                (statutory, "statutory", "公出不是法定年休假", "On duty away is not statutory annual leave"),
                (in_lieu, "in_lieu", "公出不是调休假", "On duty away is not time off in lieu"),
                (carry is not None, "carry_over_days", "公出没有额度，无可结转", "On duty away has no allowance to carry over"),
                (bool(values.get("counts_rest_days")), "counts_rest_days",
                 "公出只算工作日；休息日出差的工作请按加班申报",
                 "On duty away takes working days only; work on a rest day away is overtime, asked as such"))
    _refuse_first(refusals)


def _check_in_lieu_type(values: dict[str, Any], statutory: bool, carry: Any, leave_type: LeaveType | None) -> None:
    """A leave type for time off in lieu (调休) takes its days from overtime alone, on working days, and there is one."""
    refusals = ((values.get("yearly_days") is not None, "yearly_days", "调休假的额度来自调休的加班，每年额度请留空",
                 "Time off in lieu comes from overtime: leave the days a year empty"),
                (statutory, "statutory", "调休假不是法定年休假", "Time off in lieu is not statutory annual leave"),
                (carry is not None, "carry_over_days", "调休假的余额一直保留，不按年结转",
                 "Time off in lieu is kept until taken: nothing to carry over"),
                (bool(values.get("counts_rest_days")), "counts_rest_days", "调休只占工作日，不能按自然日计",
                 "Time off in lieu takes working days only, not calendar days"))
    _refuse_first(refusals)
    other = LeaveType.objects.filter(in_lieu=True).exclude(pk=getattr(leave_type, "pk", 0) or 0).first()
    if other is not None:
        raise ScheduleError(f"已有调休假别「{other.name}」（{other.code}），只能有一个 / {other.name} ({other.code}) is "
                            "already the leave type for time off in lieu: there is one at most", "in_lieu")


SHIFT_FIELDS = ("start", "end", "checkin_before_min", "checkout_after_min", "late_grace_min", "early_grace_min", "hours",
                "direction", "half_day_below_h", "absent_below_h", "count_on_holidays", "rounding_min", "rounding_in",
                "rounding_out", "overtime", "color", "flex_min")


def save_shift(user: Any, values: dict[str, Any], shift: ShiftType | None = None) -> ShiftType:
    """Add a shift type, or change ``shift`` (its employees' past days are recomputed). ``values["breaks"]``
    holds ``{"start": time, "end": time}`` items."""
    _require_hr(user)
    name = _free_name(ShiftType, values.get("name"), shift, "班次", "A shift")
    check_shift(values)
    creating = shift is None
    with transaction.atomic():
        shift = shift or ShiftType()
        shift.name = name
        for key in SHIFT_FIELDS:
            setattr(shift, key, values.get(key))
        shift.breaks = [{"start": f"{b['start']:%H:%M}", "end": f"{b['end']:%H:%M}"} for b in values.get("breaks") or []]
        shift.full_clean()
        shift.save()
        detail = {"start": f"{shift.start:%H:%M}", "end": f"{shift.end:%H:%M}", "breaks": shift.breaks,
                  "late_grace_min": shift.late_grace_min, "early_grace_min": shift.early_grace_min,
                  "flex_min": shift.flex_min, "hours": shift.hours, "overtime": shift.overtime.name if shift.overtime else None}
        audit.record(user.username, "attendance.shift.create" if creating else "attendance.shift.update", name, detail)
        job = None if creating else queue_recompute_for(_employees_on([shift.pk], _rotations_using(shift.pk)), None,
                                                        None, user.username, f"班次 {name} / shift {name}")
    run_claimed(job)
    return shift


def save_rotation(user: Any, name: str, anchor: date, pattern: Sequence[int | None], rotation: Any = None) -> Any:
    """Add a rotation, or change ``rotation``: ``pattern`` is a shift id per day, ``None`` for a rest day."""
    _require_hr(user)
    name = _free_name(Rotation, name, rotation, "轮班", "A rotation")
    pattern = list(pattern)
    if not pattern or all(x is None for x in pattern):
        raise ScheduleError("规律中至少要有一个班次 / The pattern needs at least one shift", "pattern")
    known = set(ShiftType.objects.filter(pk__in=[x for x in pattern if x is not None]).values_list("pk", flat=True))
    unknown = [x for x in pattern if x is not None and x not in known]
    if unknown:
        raise ScheduleError(f"没有编号为 {unknown[0]} 的班次 / No shift {unknown[0]}", "pattern")
    creating = rotation is None
    with transaction.atomic():
        rotation = rotation or Rotation()
        rotation.name, rotation.anchor, rotation.pattern = name, anchor, pattern
        rotation.full_clean()
        rotation.save()
        audit.record(user.username, "attendance.rotation.create" if creating else "attendance.rotation.update", name,
                     {"anchor": anchor.isoformat(), "pattern": pattern})
        job = None if creating else queue_recompute_for(_employees_on((), [rotation.pk]), None, None, user.username,
                                                        f"轮班 {name} / rotation {name}")
    run_claimed(job)
    return rotation


def _assignment_holders(assignment: Any) -> QuerySet[Employee]:
    if assignment.employee_id:
        return Employee.objects.filter(pk=assignment.employee_id)
    return Employee.objects.filter(department_id=assignment.department_id)


def _check_holder(user: Any, employee: Any, department: Any) -> None:
    from central.accounts import scope

    if employee is not None:
        if not scope.employees(user).filter(pk=employee.pk).exists():
            raise ScheduleError(f"没有该员工 / No employee {employee.number}", "employee")
        scope.check_site_allowed(user, employee.site, employee.department)
    else:
        if not scope.departments(user).filter(pk=department.pk).exists():
            raise ScheduleError("没有该部门 / No such department", "department")
        scope.check_site_allowed(user, department.site, department)


PROFILE_FIELDS = ("joined", "work_started", "left", "default_shift", "exempt", "overtime_listed")


def save_attendance_profile(user: Any, employee: Employee, values: dict[str, Any]) -> AttendanceProfile:
    """An employee's attendance terms (``PROFILE_FIELDS``: dates of employment and of the start of their working life,
    default shift, 高管免刷 exempt from punching, 加班白名单 on the overtime list), audited with what they were; the past
    days they change (at most the last RECOMPUTE_DAYS) are recomputed (the start of working life changes no day: only
    the statutory annual leave, which is counted when it is read)."""
    _require_hr(user)
    _check_holder(user, employee, None)
    joined, left = values.get("joined"), values.get("left")
    if joined is not None and left is not None and left < joined:
        raise ScheduleError("离职日期早于入职日期 / The leaving day is before the joining day", "left")
    started = values.get("work_started")
    if started is not None and joined is not None and started > joined:
        raise ScheduleError("参加工作时间晚于入职日期 / The start of working life is after the joining day", "work_started")
    if started is not None and started.year < 1940:
        raise ScheduleError("参加工作时间早于 1940 年 / The start of working life is before 1940", "work_started")
    with transaction.atomic():
        profile = AttendanceProfile.objects.filter(employee=employee).first() or AttendanceProfile(employee=employee)
        before = {name: _profile_value(getattr(profile, name)) for name in PROFILE_FIELDS}
        for name in PROFILE_FIELDS:
            value = values.get(name)
            setattr(profile, name, bool(value) if name in ("exempt", "overtime_listed") else value)
        profile.full_clean(exclude=["employee"])
        profile.save()
        after = {name: _profile_value(getattr(profile, name)) for name in PROFILE_FIELDS}
        changed = [k for k in PROFILE_FIELDS if before[k] != after[k]]
        audit.record(user.username, "attendance.profile", employee.number,
                     {"before": before, "after": after, "changed": changed})
        job = None if changed == ["work_started"] else queue_recompute_for(
            Employee.objects.filter(pk=employee.pk), None, None, user.username,
            f"{employee.number} 考勤设置 / attendance settings")
    run_claimed(job)
    return profile


def queue_after_move(employee_id: int, number: str, since: date, actor: str) -> RecomputeJob | None:
    """In the transaction that moved an employee to another department or site from ``since`` (a past day): their days
    from then on, queued to take the new department's shifts and the new site's calendar (the days before keep the old
    ones); :func:`run_claimed` after the commit."""
    return queue_recompute_for(Employee.objects.filter(pk=employee_id), since, None, actor, f"{number} 调动 / moved")


def queue_for_employees(employee_ids: list[int], first: date | None, last: date | None, actor: str,
                        reason: str) -> RecomputeJob | None:
    """In an import's transaction (:mod:`central.people.importing`, :mod:`central.attendance.schedule_import`): the
    past days among ``first``..``last`` (``None``: open, the last RECOMPUTE_DAYS at most) of the employees it changed,
    queued with ``reason`` ("中文 / English") shown beside its progress; :func:`run_claimed` after the commit."""
    return queue_recompute_for(Employee.objects.filter(pk__in=employee_ids), first, last, actor, reason)


def _profile_value(value: Any) -> Any:
    """A profile field as the audit log keeps it."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, ShiftType):
        return value.name
    return value


def create_assignment(user: Any, *, start: date, end: date | None, employee: Any = None, department: Any = None,
                      shift: ShiftType | None = None, rotation: Any = None) -> Any:
    """One employee, or a whole department (one row), on a shift or a rotation from ``start`` to ``end``."""
    _require_hr(user)
    if (employee is None) == (department is None):
        raise ScheduleError("请选择一名员工或一个部门 / Choose one employee or one department", "employee")
    if (shift is None) == (rotation is None):
        raise ScheduleError("请选择一个班次或一个轮班 / Choose one shift or one rotation", "shift")
    if end is not None and end < start:
        raise ScheduleError("结束日期早于开始日期 / The end date is before the start date", "end")
    _check_holder(user, employee, department)
    with transaction.atomic():
        row = Assignment.objects.create(employee=employee, department=department, shift=shift, rotation=rotation,
                                        start=start, end=end, created_by=user.username[:150])
        audit.record(user.username, "attendance.assignment.create", _assignment_target(row), _assignment_detail(row))
        job = queue_recompute_for(_assignment_holders(row), start, end, user.username,
                                  f"新排班 {_assignment_target(row)} / new assignment")
    run_claimed(job)
    return row


def delete_assignment(user: Any, assignment: Any) -> None:
    """Remove an assignment; its holders' past days within it are recomputed."""
    _require_hr(user)
    _check_holder(user, assignment.employee, assignment.department)
    holders = list(_assignment_holders(assignment).values_list("pk", flat=True))
    start, end = assignment.start, assignment.end
    with transaction.atomic():
        audit.record(user.username, "attendance.assignment.delete", _assignment_target(assignment),
                     _assignment_detail(assignment))
        assignment.delete()
        job = queue_recompute_for(Employee.objects.filter(pk__in=holders), start, end, user.username,
                                  f"删除排班 {_assignment_target(assignment)} / assignment removed")
    run_claimed(job)


def _assignment_target(row: Any) -> str:
    return row.employee.number if row.employee_id else f"{row.department.site.code}/{row.department.name}"


def _assignment_detail(row: Any) -> dict[str, Any]:
    return {"shift": row.shift.name if row.shift_id else None, "rotation": row.rotation.name if row.rotation_id else None,
            "from": row.start.isoformat(), "to": row.end.isoformat() if row.end else None}


def _require_site(user: Any, site: Site) -> None:
    from central.accounts import scope

    if not scope.sites(user).filter(pk=site.pk).exists():
        raise ScheduleError(f"没有该站点 / No site {site.code}", "site")
    scope.check_site_allowed(user, site)


def save_site_calendar(user: Any, site: Site, weekly_rest: Sequence[int], final_wait_h: int, *,
                       late_allowance: tuple[int, int] | None = None,
                       makeup_limits: tuple[int, int] | None = None) -> Any:
    """A site's weekly rest days (0 = Monday), how long its days wait for every terminal, the late arrivals it
    lets go each month (``late_allowance``: how many, each how late at most; None keeps them:
    :mod:`central.attendance.late_allowance`) and its make-up punch rules (``makeup_limits``: how many a month, and
    how many days back; 0: no limit; None keeps them: :mod:`central.attendance.makeup_rules`)."""
    _require_site(user, site)
    days = sorted({int(d) for d in weekly_rest})
    if any(not 0 <= d <= 6 for d in days):
        raise ScheduleError("星期应为 0 到 6 / Weekdays are 0 to 6", "weekly_rest")
    if late_allowance is not None and late_allowance[0] and not late_allowance[1]:
        raise ScheduleError("宽限次数大于 0 时请填写宽限分钟 / Say how late an arrival may be to be let go",
                            "late_allowance_min")
    with transaction.atomic():
        calendar, _ = SiteCalendar.objects.get_or_create(site=site)
        before = list(calendar.weekly_rest or [])
        calendar.weekly_rest, calendar.final_wait_h = days, final_wait_h
        if late_allowance is not None:
            calendar.late_allowance_times, calendar.late_allowance_min = late_allowance
        if makeup_limits is not None:
            calendar.makeup_per_month, calendar.makeup_within_days = makeup_limits
        calendar.full_clean()
        calendar.save()
        audit.record(user.username, "attendance.calendar.update", site.code,
                     {"weekly_rest": days, "final_wait_h": final_wait_h,
                      "late_allowance": [calendar.late_allowance_times, calendar.late_allowance_min],
                      "makeup_limits": [calendar.makeup_per_month, calendar.makeup_within_days]})
        job = None if sorted(before) == days else queue_recompute_for(
            Employee.objects.filter(site=site), None, None, user.username, f"{site.name} 每周休息日 / weekly rest days")
    run_claimed(job)
    return calendar


def add_calendar_day(user: Any, site: Site, day: date, kind: str, name: str = "") -> Any:
    """A dated holiday, or a make-up working day (调休), at ``site``; replaces what that date had."""
    _require_site(user, site)
    if kind not in ("holiday", "workday"):
        raise ScheduleError(f"类型无效 / Unknown kind {kind!r}", "kind")
    with transaction.atomic():
        row, _ = CalendarDay.objects.update_or_create(site=site, date=day, defaults={"kind": kind, "name": name.strip()})
        audit.record(user.username, "attendance.calendar_day.save", f"{site.code} {day.isoformat()}",
                     {"kind": kind, "name": row.name})
        job = _queue_calendar_day(site, day, user.username)
    run_claimed(job)
    return row


def remove_calendar_day(user: Any, day_row: Any) -> None:
    _require_site(user, day_row.site)
    site, day = day_row.site, day_row.date
    with transaction.atomic():
        audit.record(user.username, "attendance.calendar_day.remove", f"{site.code} {day.isoformat()}",
                     {"kind": day_row.kind, "name": day_row.name})
        day_row.delete()
        job = _queue_calendar_day(site, day, user.username)
    run_claimed(job)


def _queue_calendar_day(site: Site, day: date, actor: str) -> RecomputeJob | None:
    """A dated holiday or make-up working day added or removed: the site's days it decides (a night shift's the day
    before), queued in the edit's transaction."""
    return queue_recompute_for(Employee.objects.filter(site=site), day - timedelta(days=1), day, actor,
                               f"{site.name} {day.isoformat()} 节假日 / calendar day")
