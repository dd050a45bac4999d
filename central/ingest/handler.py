"""What the central server does with each message a terminal sends, without the MQTT part.

:class:`Ingest` turns (topic, payload) into database writes and the replies to send
(:class:`Outgoing`). Every payload is validated first; a bad one is recorded as a
:class:`~central.ingest.models.RejectedMessage` with its reason and answered when it can be
(a batch with a valid batch id gets an ack naming what was refused), and never raises.
Punches are stored idempotently by punch id with one bulk insert per batch; the ack is
built only after the transaction committed.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, overload

from django.db import DatabaseError, connection, transaction
from django.utils import timezone as dj_timezone

from central.ingest.models import Command, Event, Punch, RejectedMessage
from central.ingest.plausibility import time_flag
from central.people.models import Device, Site
from contract import protocol as p

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


RosterReply = Callable[[str, str, p.RosterRequest], list[Outgoing]]


@overload
def _when(stamp: str) -> datetime: ...
@overload
def _when(stamp: str | None) -> datetime | None: ...
def _when(stamp: str | None) -> datetime | None:
    return None if stamp is None else p.parse_stamp(stamp)


class Ingest:
    """Validates and stores what terminals send. ``roster_reply(site, device, request)`` answers roster requests."""

    def __init__(self, *, roster_reply: RosterReply | None = None,
                 after_commit: Callable[[str, Any], None] | None = None):
        self.roster_reply = roster_reply
        self.after_commit = after_commit  # test hook: runs between commit and ack
        self.counters = {"punches": 0, "rejected": 0, "events": 0, "acks": 0}
        self._known_devices: dict[str, str] = {}

    def handle(self, topic: str, payload: bytes) -> list[Outgoing]:
        """Process one message; returns the replies to publish. Never raises for bad input."""
        try:
            site, device, leaf = p.parse_topic(topic)
        except p.ProtocolError as exc:
            self._reject(None, None, topic, None, exc.reason, payload)
            return []
        if device is None or leaf in p.DEVICE_DOWN_LEAVES:
            return []  # our own messages (roster, acks, commands) are not for us to ingest
        try:
            data = p.loads(payload)
            if leaf == "punches":
                return self._punches(site, device, topic, data)
            if leaf == "events":
                return self._events(site, device, topic, data)
            if leaf == "enrolments":
                return self._enrolments(site, device, topic, data)
            if leaf == "status":
                return self._status(site, device, data)
            if leaf == "roster/request":
                return self._roster_request(site, device, data)
            if leaf == "cmd/result":
                return self._command_result(site, device, data)
        except p.ProtocolError as exc:
            self._reject(site, device, topic, None, exc.reason, _kept(leaf, payload))
        except Exception as exc:  # noqa: BLE001 - a message the database refuses must not stop the receiver
            # Whatever a payload makes the storage raise (a value the database refuses, a broken constraint) is
            # that message's refusal: recorded, not acked (a terminal sends it again), and the next message goes on.
            # The transaction was rolled back; a connection the error broke is replaced by the caller.
            log.exception("message on %s/%s/%s could not be stored", site, device, leaf)
            if isinstance(exc, DatabaseError) and connection.connection is not None and not connection.is_usable():
                connection.close()  # the error broke the connection: the next use opens a new one
            self._reject(site, device, topic, None, f"could not be stored: {type(exc).__name__}: {exc}"[:500],
                         _kept(leaf, payload))
        return []

    # -- punches -------------------------------------------------------------------------------
    def _punches(self, site: str, device: str, topic: str, data: Any) -> list[Outgoing]:
        if isinstance(data, dict) and "batch" in data and not isinstance(data.get("punches"), list):
            data = {**data, "punches": []}
        batch = p.validate(p.PunchBatch, data)
        valid, rejected = _split(batch.punches, p.Punch, lambda x: None if x.device_id == device else
                                 f"device_id {x.device_id} does not match the topic")
        values = [{"id": x.id, "site": site, "device_id": device, "employee_number": x.employee_number,
                   "direction": x.direction, "method": x.method, "score": x.score, "punched_at": _when(x.punched_at),
                   "boot_id": x.boot_id, "monotonic_ns": x.monotonic_ns, "time_source": x.time_source,
                   "original_punched_at": _when(x.original_punched_at), "restamped_at": _when(x.restamped_at),
                   "batch_id": batch.batch} for x in valid]
        with transaction.atomic():
            # the arrival time is taken inside the transaction: on SQLite after BEGIN IMMEDIATE has the write lock,
            # so batches' arrival times follow their commits, which the followers' short look-back relies on
            # (central.attendance.services.LATE_COMMIT_S)
            now = dj_timezone.now()
            for value in values:
                value["received_at"] = now
            flagged = store_punches(values)
            self._record_rejected(site, device, topic, rejected, batch.punches, now)
            self._seen(site, device, now)
        self.counters["punches"] += len(valid)
        self.counters["rejected"] += len(rejected)
        if rejected:
            log.warning("batch %s from %s/%s: %s stored, %s rejected (first: %s)", batch.batch, site, device,
                        len(valid), len(rejected), rejected[0]["reason"])
        if flagged:
            log.warning("batch %s from %s/%s: %s punches stored with an impossible time (first: %s, %s), "
                        "left out of attendance", batch.batch, site, device, len(flagged), flagged[0]["time_flag"],
                        p.utc_stamp(flagged[0]["punched_at"]))
        return self._ack("punches", site, device, batch.batch, [x.id for x in valid], rejected)

    # -- events --------------------------------------------------------------------------------
    def _events(self, site: str, device: str, topic: str, data: Any) -> list[Outgoing]:
        batch = p.validate(p.EventBatch, data)
        now = dj_timezone.now()
        valid, rejected = _split(batch.events, p.Event)
        with transaction.atomic():
            Event.objects.bulk_create([Event(id=e.id, site=site, device_id=device, kind=e.kind, severity=e.severity,
                                             at=_when(e.at), payload=e.payload, received_at=now) for e in valid],
                                      ignore_conflicts=True)
            self._record_rejected(site, device, topic, rejected, batch.events, now)
            self._seen(site, device, now)
        self.counters["events"] += len(valid)
        return self._ack("events", site, device, batch.batch, [e.id for e in valid], rejected)

    # -- templates enrolled at a door ------------------------------------------------------------
    def _enrolments(self, site: str, device: str, topic: str, data: Any) -> list[Outgoing]:
        """Each enrolment taken or refused on its own (:func:`central.people.door_enrolments.take`); refused ones are
        recorded without their templates."""
        from central.people import door_enrolments
        from central.people.face_photos import StoredFaces

        batch = p.validate(p.EnrolmentBatch, data)
        valid, rejected = _split(batch.enrolments, p.Enrolment)
        stored: list[str] = []
        with transaction.atomic():
            now = dj_timezone.now()
            self._seen(site, device, now)
            faces = StoredFaces() if any(item.faces for item in valid) else None  # read once for the batch
            for item in valid:
                reason = door_enrolments.take(site, device, item, faces)
                if reason:
                    rejected.append({"id": item.id, "reason": reason})
                else:
                    stored.append(item.id)
            self._record_rejected(site, device, topic, rejected, [_without_templates(raw) for raw in batch.enrolments],
                                  now)
        self.counters["rejected"] += len(rejected)
        if rejected:
            log.warning("enrolments from %s/%s: %s taken, %s refused (first: %s)", site, device, len(stored),
                        len(rejected), rejected[0]["reason"])
        return self._ack("enrolments", site, device, batch.batch, stored, rejected)

    def _ack(self, kind: str, site: str, device: str, batch: str, stored: list[str],
             rejected: list[dict[str, Any]]) -> list[Outgoing]:
        """The ack of a committed batch: what was stored, and each refusal with its reason."""
        if self.after_commit:
            self.after_commit(kind, batch)
        self.counters["acks"] += 1
        ack = {"batch": batch, "stored": stored, "rejected": [{"id": r["id"], "reason": r["reason"][:500]} for r in rejected]}
        return [Outgoing(p.device_topic(site, device, "ack"), p.dumps(ack))]

    # -- status, roster requests, command results ----------------------------------------------------
    def _status(self, site: str, device: str, data: Any) -> list[Outgoing]:
        status = p.validate(p.Status, data)
        now = dj_timezone.now()
        body = status.model_dump(exclude_none=True)
        roster = (status.versions or {}).get("roster")
        with transaction.atomic():
            row = self._device(site, device, now)
            row.online = status.online
            row.status = body
            row.last_seen_at = now
            if isinstance(roster, int) and not isinstance(roster, bool) and 0 <= roster < 2**62:
                row.roster_version = roster
            drained = _drained_at(status, now)
            if drained is not None and (row.drained_at is None or drained > row.drained_at):
                row.drained_at = drained
            row.save(update_fields=["site", "online", "status", "last_seen_at", "roster_version", "drained_at"])
        log.info("device %s/%s is %s", site, device, "online" if status.online else "offline")
        return []

    def _roster_request(self, site: str, device: str, data: Any) -> list[Outgoing]:
        request = p.validate(p.RosterRequest, data)
        with transaction.atomic():
            self._seen(site, device, dj_timezone.now())
        if self.roster_reply is None:
            return []
        return self.roster_reply(site, device, request)

    def _command_result(self, site: str, device: str, data: Any) -> list[Outgoing]:
        result = p.validate(p.CommandResult, data)
        changed = record_command_result(result, device)
        if not changed:
            log.info("result for unknown command %s from %s/%s", result.id, site, device)
        return []

    # -- helpers -------------------------------------------------------------------------------------
    def _device(self, site: str, device: str, now: datetime) -> Device:
        """The device row (made on first contact); its site follows the topic it speaks on."""
        site_row, _ = Site.objects.get_or_create(code=site, defaults={"name": site})
        row, created = Device.objects.get_or_create(device_id=device, defaults={
            "site": site_row, "online": True, "first_seen_at": now, "last_seen_at": now})
        if not created and row.site_id != site_row.pk:
            row.site = site_row
        return row

    def _seen(self, site: str, device: str, now: datetime) -> None:
        if self._known_devices.get(device) == site:
            if Device.objects.filter(device_id=device).update(last_seen_at=now):
                return
        row = self._device(site, device, now)
        row.last_seen_at = now
        row.save(update_fields=["site", "last_seen_at"])
        self._known_devices[device] = site

    def _record_rejected(self, site: str, device: str, topic: str, rejected: list[dict[str, Any]], items: list[Any],
                         now: datetime) -> None:
        if rejected:
            RejectedMessage.objects.bulk_create([
                RejectedMessage(site=site, device_id=device, topic=topic[:500], item_id=(_clip(r["id"], 100) if r["id"] else None),
                                reason=r["reason"][:500], payload=_clip(raw_of(items, r["id"])), received_at=now)
                for r in rejected])

    def _reject(self, site: str | None, device: str | None, topic: str, item_id: str | None, reason: str,
                payload: bytes) -> None:
        self.counters["rejected"] += 1
        log.warning("rejected message on %s: %s", _clip(topic, 200), reason)
        try:
            RejectedMessage.objects.create(site=site, device_id=device, topic=_clip(topic, 500), item_id=item_id,
                                           reason=_clip(reason, 500), payload=_clip(payload),
                                           received_at=dj_timezone.now())
        except Exception:
            log.exception("could not record a rejected message")


def _drained_at(status: p.Status, now: datetime) -> datetime | None:
    """When a status proves the terminal's outbox was empty: its own time, never later than its arrival.

    A retained status replayed by the broker carries its old time, so it proves nothing new; a terminal
    clock running ahead cannot claim the future. Attendance days become final from this (engine rule 12).
    """
    if not status.online or status.queue_depth != 0 or status.at is None:
        return None
    return min(p.parse_stamp(status.at), now)


# -- storing punches in bulk ----------------------------------------------------------------------------
# A re-sent punch only changes the stored one when it carries a re-stamp the stored one lacks, and only for
# the device that made it: then its time fields take the re-stamped values, once.
# ``received_at`` moves too: the re-stamp is what arrived then, and the attendance follower, which reads
# punches by arrival, recomputes the days of the corrected time; ``time_flag`` is judged again on the new time.
RESTAMP_FIELDS = ("punched_at", "time_source", "original_punched_at", "restamped_at", "received_at", "time_flag")


def store_punches(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert a batch of punches idempotently by id, applying re-stamps; inside the caller's transaction.

    Each value's ``time_flag`` is judged and set here from its time and its arrival
    (central.ingest.plausibility); returns the values flagged.

    One ``executemany`` of an ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` built from the model's own
    fields, on SQLite and PostgreSQL alike. Measured (benchmarks/central.py): Django's per-value
    preparation in ``bulk_create`` cost twice the whole insert on SQLite (6,900 against 13,700
    punches/s), and re-stamped batches, one UPDATE per punch, ran at 300-700 punches/s on PostgreSQL
    against about 6,000 now; fresh punches on PostgreSQL run at about the same rate either way.
    """
    if not values:
        return []
    sql, datetimes = _upsert()
    adapt = connection.ops.adapt_datetimefield_value
    columns = [f.attname for f in Punch._meta.concrete_fields]
    flagged = []
    for value in values:
        value["time_flag"] = time_flag(value["punched_at"], value["received_at"])
        if value["time_flag"]:
            flagged.append(value)
    rows = [[adapt(v[name]) if name in datetimes else v[name] for name in columns] for v in values]
    with connection.cursor() as cur:
        cur.executemany(sql, rows)
    return flagged


_UPSERT: tuple[str, frozenset[str]] | None = None


def _upsert() -> tuple[str, frozenset[str]]:
    """The upsert statement from the model's table and columns, and which attributes are datetimes."""
    global _UPSERT
    if _UPSERT is None:
        meta = Punch._meta
        qn = connection.ops.quote_name
        table = qn(meta.db_table)
        column_of = {f.attname: str(f.column) for f in meta.concrete_fields}
        columns = list(column_of.values())
        changes = ", ".join(f"{qn(column_of[n])} = excluded.{qn(column_of[n])}" for n in RESTAMP_FIELDS)
        restamped, device = qn(column_of["restamped_at"]), qn(column_of["device_id"])
        sql = (f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
               f"ON CONFLICT ({qn(column_of['id'])}) DO UPDATE SET {changes} "
               f"WHERE {table}.{restamped} IS NULL AND excluded.{restamped} IS NOT NULL "
               f"AND {table}.{device} = excluded.{device}")
        datetimes = frozenset(f.attname for f in meta.concrete_fields if f.get_internal_type() == "DateTimeField")
        _UPSERT = (sql, datetimes)
    return _UPSERT


M = TypeVar("M", p.Punch, p.Event, p.Enrolment)


def _split(items: list[Any], model: type[M], check: Callable[[M], str | None] | None = None,
           ) -> tuple[list[M], list[dict[str, Any]]]:
    """Each item of a batch validated on its own: the valid ones, and {"id", "reason"} for the rest."""
    valid: list[M] = []
    rejected: list[dict[str, Any]] = []
    for raw in items:
        item_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
        try:
            item = p.validate(model, raw)
        except p.ProtocolError as exc:
            rejected.append({"id": item_id, "reason": exc.reason})
            continue
        problem = check(item) if check is not None else None
        if problem:
            rejected.append({"id": item.id, "reason": problem})
            continue
        valid.append(item)
    return valid, rejected


def record_command_result(result: p.CommandResult, device: str | None = None) -> int:
    """Store a terminal's answer to a command; returns how many commands it matched (0 or 1)."""
    rows = Command.objects.filter(id=result.id)
    if device is not None:
        rows = rows.filter(device_id=device)
    return rows.update(ok=result.ok, reason=result.reason, result=result.result, result_at=dj_timezone.now())


def _without_templates(raw: Any) -> Any:
    """A refused enrolment as the rejected table keeps it: how many templates, never the templates."""
    if not isinstance(raw, dict):
        return raw
    return {k: (f"({len(v)} templates not kept)" if k in ("faces", "fingers") and isinstance(v, list) else v)
            for k, v in raw.items()}


def _kept(leaf: str, payload: bytes) -> bytes:
    """What the rejected table keeps of a refused message: an enrolment's templates are biometric data, not kept."""
    return b"(enrolment with templates: not kept)" if leaf == "enrolments" else payload


def raw_of(items: list[Any], item_id: str | None) -> Any:
    for raw in items:
        if isinstance(raw, dict) and raw.get("id") == item_id:
            return raw
    return items[0] if items and item_id is None else None


def _clip(value: Any, limit: int = 4000) -> str:
    """A bounded, printable copy of refused input (no NUL, no lone surrogate) for the rejected table."""
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value[:limit]).decode("utf-8", errors="replace")
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=True, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    text = text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return text[:limit].replace("\x00", "\\u0000")
