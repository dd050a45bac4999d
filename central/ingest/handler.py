"""What the central server does with each message a terminal sends, without the MQTT part.

:class:`Ingest` turns (topic, payload) into database writes and the replies to send
(``Outgoing``). Every payload is validated first; a bad one is recorded in the
``rejected`` table with its reason and answered when it can be (a batch with a valid
batch id gets an ack naming what was refused), and never raises. Punches are stored
idempotently by punch id; the ack is built only after the transaction committed.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional

from central.db import CentralDB
from contract import protocol as p

log = logging.getLogger(__name__)

_PUNCH_COLUMNS = ("id", "site", "device_id", "employee_number", "direction", "method", "score", "punched_at",
                  "boot_id", "monotonic_ns", "time_source", "original_punched_at", "restamped_at", "batch_id",
                  "received_at")
# A re-sent punch only changes the stored one when it carries a re-stamp the stored one lacks.
_INSERT_PUNCH = (
    f"INSERT INTO punches ({', '.join(_PUNCH_COLUMNS)}) VALUES ({', '.join('?' * len(_PUNCH_COLUMNS))}) "
    "ON CONFLICT (id) DO UPDATE SET punched_at = excluded.punched_at, time_source = excluded.time_source, "
    "original_punched_at = excluded.original_punched_at, restamped_at = excluded.restamped_at "
    "WHERE punches.restamped_at IS NULL AND excluded.restamped_at IS NOT NULL "
    "AND punches.device_id = excluded.device_id"
)
_INSERT_EVENT = ("INSERT INTO events (id, site, device_id, kind, severity, at, payload, received_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


class Ingest:
    """Validates and stores what terminals send. ``roster_reply(site, device, have)`` answers roster requests."""

    def __init__(self, db: CentralDB, *, roster_reply: Optional[Callable[[str, str, int], list[Outgoing]]] = None,
                 after_commit: Optional[Callable[[str, Any], None]] = None):
        self.db = db
        self.roster_reply = roster_reply
        self.after_commit = after_commit  # test hook: runs between commit and ack
        self.counters = {"punches": 0, "duplicates": 0, "rejected": 0, "events": 0, "acks": 0}

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
            if leaf == "status":
                return self._status(site, device, data)
            if leaf == "roster/request":
                return self._roster_request(site, device, data)
            if leaf == "cmd/result":
                return self._command_result(site, device, data)
        except p.ProtocolError as exc:
            self._reject(site, device, topic, None, exc.reason, payload)
        return []

    # -- punches -------------------------------------------------------------------------------
    def _punches(self, site: str, device: str, topic: str, data: Any) -> list[Outgoing]:
        if isinstance(data, dict) and "batch" in data and not isinstance(data.get("punches"), list):
            data = {**data, "punches": []}
        batch = p.validate(p.PunchBatch, data)
        now = p.utc_stamp()
        valid, rejected = [], []
        for raw in batch.punches:
            item_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
            try:
                punch = p.validate(p.Punch, raw)
            except p.ProtocolError as exc:
                rejected.append({"id": item_id, "reason": exc.reason})
                continue
            if punch.device_id != device:
                rejected.append({"id": punch.id, "reason": f"device_id {punch.device_id} does not match the topic"})
                continue
            valid.append(punch)
        rows = [(x.id, site, device, x.employee_number, x.direction, x.method, x.score, x.punched_at, x.boot_id,
                 x.monotonic_ns, x.time_source, x.original_punched_at, x.restamped_at, batch.batch, now)
                for x in valid]
        with self.db.transaction() as cur:
            cur.executemany(_INSERT_PUNCH, rows)
            for item in rejected:
                cur.execute("INSERT INTO rejected (site, device_id, topic, item_id, reason, payload, received_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (site, device, topic, item["id"], item["reason"], _clip(raw_of(batch.punches, item["id"])), now))
            self._seen(cur, site, device, now)
        self.counters["punches"] += len(valid)
        self.counters["rejected"] += len(rejected)
        if self.after_commit:
            self.after_commit("punches", batch.batch)
        ack = {"batch": batch.batch, "stored": [x.id for x in valid],
               "rejected": [{"id": r["id"], "reason": r["reason"][:500]} for r in rejected]}
        self.counters["acks"] += 1
        if rejected:
            log.warning("batch %s from %s/%s: %s stored, %s rejected (first: %s)", batch.batch, site, device,
                        len(valid), len(rejected), rejected[0]["reason"])
        return [Outgoing(p.device_topic(site, device, "ack"), p.dumps(ack))]

    # -- events --------------------------------------------------------------------------------
    def _events(self, site: str, device: str, topic: str, data: Any) -> list[Outgoing]:
        batch = p.validate(p.EventBatch, data)
        now = p.utc_stamp()
        valid, rejected = [], []
        for raw in batch.events:
            item_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
            try:
                valid.append(p.validate(p.Event, raw))
            except p.ProtocolError as exc:
                rejected.append({"id": item_id, "reason": exc.reason})
        with self.db.transaction() as cur:
            cur.executemany(_INSERT_EVENT, [(e.id, site, device, e.kind, e.severity, e.at,
                                             json.dumps(e.payload, ensure_ascii=False, sort_keys=True), now)
                                            for e in valid])
            for item in rejected:
                cur.execute("INSERT INTO rejected (site, device_id, topic, item_id, reason, payload, received_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (site, device, topic, item["id"], item["reason"], _clip(raw_of(batch.events, item["id"])), now))
            self._seen(cur, site, device, now)
        self.counters["events"] += len(valid)
        if self.after_commit:
            self.after_commit("events", batch.batch)
        ack = {"batch": batch.batch, "stored": [e.id for e in valid],
               "rejected": [{"id": r["id"], "reason": r["reason"][:500]} for r in rejected]}
        return [Outgoing(p.device_topic(site, device, "ack"), p.dumps(ack))]

    # -- status, roster requests, command results ----------------------------------------------------
    def _status(self, site: str, device: str, data: Any) -> list[Outgoing]:
        status = p.validate(p.Status, data)
        now = p.utc_stamp()
        body = status.model_dump(exclude_none=True)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO devices (device_id, site, online, status, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET site = excluded.site, online = excluded.online, "
                "status = excluded.status, last_seen_at = excluded.last_seen_at",
                (device, site, 1 if status.online else 0, json.dumps(body, ensure_ascii=False, sort_keys=True), now, now))
            roster = (status.versions or {}).get("roster")
            if isinstance(roster, int) and not isinstance(roster, bool) and 0 <= roster < 2**62:
                cur.execute("UPDATE devices SET roster_version = ? WHERE device_id = ?", (roster, device))
        log.info("device %s/%s is %s", site, device, "online" if status.online else "offline")
        return []

    def _roster_request(self, site: str, device: str, data: Any) -> list[Outgoing]:
        request = p.validate(p.RosterRequest, data)
        with self.db.transaction() as cur:
            self._seen(cur, site, device, p.utc_stamp())
        if self.roster_reply is None:
            return []
        return self.roster_reply(site, device, request.have)

    def _command_result(self, site: str, device: str, data: Any) -> list[Outgoing]:
        result = p.validate(p.CommandResult, data)
        with self.db.transaction() as cur:
            changed = cur.execute(
                "UPDATE commands SET ok = ?, reason = ?, result = ?, result_at = ? WHERE id = ? AND device_id = ?",
                (1 if result.ok else 0, result.reason, json.dumps(result.result, ensure_ascii=False), p.utc_stamp(),
                 result.id, device))
        if not changed:
            log.info("result for unknown command %s from %s/%s", result.id, site, device)
        return []

    # -- helpers -------------------------------------------------------------------------------------
    def _seen(self, cur: Any, site: str, device: str, now: str) -> None:
        cur.execute(
            "INSERT INTO devices (device_id, site, online, status, first_seen_at, last_seen_at) VALUES (?, ?, 1, '{}', ?, ?) "
            "ON CONFLICT (device_id) DO UPDATE SET last_seen_at = excluded.last_seen_at", (device, site, now, now))

    def _reject(self, site: Optional[str], device: Optional[str], topic: str, item_id: Optional[str], reason: str,
                payload: bytes) -> None:
        self.counters["rejected"] += 1
        log.warning("rejected message on %s: %s", topic[:200], reason)
        try:
            with self.db.transaction() as cur:
                cur.execute("INSERT INTO rejected (site, device_id, topic, item_id, reason, payload, received_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (site, device, topic[:500], item_id, reason[:500], _clip(payload), p.utc_stamp()))
        except Exception:
            log.exception("could not record a rejected message")


def raw_of(items: list, item_id: Optional[str]) -> Any:
    for raw in items:
        if isinstance(raw, dict) and raw.get("id") == item_id:
            return raw
    return items[0] if items and item_id is None else None


def _clip(value: Any, limit: int = 4000) -> str:
    """A bounded, printable copy of a refused payload for the rejected table."""
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value[:limit]).decode("utf-8", errors="replace")
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text[:limit].replace("\x00", "\\u0000")
