"""The device outbox is the queue: claim a batch, publish it, delete only what the ack names.

A claimed row carries its ``batch_id``; an ack deletes rows by (batch id, ref id), so a
row changed after it was sent (a re-stamped punch has its batch id cleared) survives a
late ack for the old copy and is sent again. Rows the central refuses move to
``outbox_rejected`` with the reason: nothing is ever dropped. On start every claim
from a previous run is released, so a kill -9 mid-batch only means that batch is sent
again (the central stores idempotently by id).

A ``resync`` command with ``since`` (a central restored from a backup) puts back into the queue every punch and
event stored at or after that time that is no longer waiting in it (:meth:`Outbox.requeue_since`), with the payload
a new one is queued with.
"""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from contract import protocol as p
from terminal.store.connection import Connection
from terminal.store.database import Store, event_message, utc_now

log = logging.getLogger(__name__)

KINDS = ("punch", "event", "enrolment")
TOPIC_LEAF = {"punch": "punches", "event": "events", "enrolment": "enrolments"}
LIST_KEY = {"punch": "punches", "event": "events", "enrolment": "enrolments"}
MODEL: dict[str, type[p.Message]] = {"punch": p.Punch, "event": p.Event, "enrolment": p.Enrolment}
MAX_ITEMS = {"enrolment": p.MAX_ENROLMENT_BATCH}  # templates are large: fewer to a batch
# what the status's queue_depth counts, on which the central's finality of attendance days waits: an enrolment the
# central cannot take yet (an older central, a broker ACL not written again) never holds days provisional
ATTENDANCE_KINDS = ("punch", "event")
# A punch as the outbox carries it: these columns of its ``punches`` row (``employee_id`` stays on the terminal), the
# keys terminal.punch writes for a new punch. punch_payload() makes the same JSON from the row.
PUNCH_FIELDS = ("id", "device_id", "employee_number", "direction", "method", "score", "punched_at", "boot_id",
                "monotonic_ns", "time_source", "original_punched_at", "restamped_at")
# rows a resync since a time queues again per transaction: a punch at the door waits behind one such transaction at most
REQUEUE_CHUNK = 2_000


def punch_payload(values: Sequence) -> str:
    """A punch's outbox payload from the values of its row's :data:`PUNCH_FIELDS`, in that order."""
    return json.dumps(dict(zip(PUNCH_FIELDS, values, strict=True)), ensure_ascii=False, sort_keys=True)


def _event_payload(values: Sequence) -> str | None:
    """An event's outbox payload from its ``events`` row (id, kind, severity, payload, created_at); None if unreadable."""
    event_id, kind, severity, body, at = values
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        log.error("event %s has an unreadable payload: not queued again", event_id)
        return None
    return event_message(event_id, kind, severity, at, payload)


@dataclass(frozen=True)
class _Stored:
    """Where the items of one outbox kind are kept for good, and how a row becomes its outbox payload."""

    table: str
    columns: tuple[str, ...]  # the first is the id (the outbox ref_id)
    payload: Callable[[Sequence], str | None]


STORED = {"punch": _Stored("punches", PUNCH_FIELDS, punch_payload),
          "event": _Stored("events", ("id", "kind", "severity", "payload", "created_at"), _event_payload)}


@dataclass
class Batch:
    batch_id: str
    kind: str
    ref_ids: list[str]
    payload: bytes
    attempts: int = 1
    sent_at: float = 0.0
    deadline: float = 0.0
    created_at: list[str] = field(default_factory=list)


class Outbox:
    def __init__(self, store: Store):
        self.store = store

    def release_all(self) -> int:
        """Forget every claim (at start, after a disconnect, on resync): those rows will be sent again."""
        with self.store.transaction() as conn:
            return conn.execute("UPDATE outbox SET batch_id = NULL WHERE batch_id IS NOT NULL").rowcount

    def requeue_since(self, since: str, chunk: int = REQUEUE_CHUNK) -> dict[str, int]:
        """Queue again every punch and event stored at or after ``since`` that is not waiting in the outbox.

        ``since`` is a stamp (:func:`contract.stamps.is_stamp`): compared as text with ``created_at`` (the time the
        terminal stored the row, always written in that fixed-width UTC form), it orders as the times do. Each row's
        payload is made as for a new one (:func:`punch_payload`, :func:`terminal.store.database.event_message`) and
        queued unclaimed, ``created_at`` now. ``chunk`` rows at a time: they are read and their payloads made outside
        any write transaction, then inserted in one short transaction (``ON CONFLICT(ref_id) DO NOTHING``: a row
        queued meanwhile is not doubled), so punches at the door are not held up behind weeks of them. Returns how
        many were queued, by kind.
        """
        return {kind: self._requeue(kind, since, chunk) for kind in STORED}

    def _requeue(self, kind: str, since: str, chunk: int) -> int:
        stored = STORED[kind]
        select = (f"SELECT t.rowid AS seq, {', '.join(stored.columns)} FROM {stored.table} AS t "
                  "WHERE t.rowid > ? AND created_at >= ? AND NOT EXISTS (SELECT 1 FROM outbox WHERE ref_id = t.id) "
                  "ORDER BY t.rowid LIMIT ?")
        after, queued = 0, 0
        while rows := self.store.query(select, (after, since, int(chunk))):
            after = rows[-1]["seq"]
            items = [(row["id"], payload) for row in rows
                     if (payload := stored.payload([row[c] for c in stored.columns])) is not None]
            with self.store.transaction() as conn:
                now = utc_now()
                for ref_id, payload in items:
                    queued += conn.execute("INSERT INTO outbox (kind, ref_id, payload, created_at) VALUES (?, ?, ?, ?) "
                                           "ON CONFLICT(ref_id) DO NOTHING", (kind, ref_id, payload, now)).rowcount
        if queued:
            log.info("%s %s(s) stored since %s queued again", queued, kind, since)
        return queued

    def release(self, batch_id: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE outbox SET batch_id = NULL WHERE batch_id = ?", (batch_id,))

    def depth(self, kinds: tuple[str, ...] = KINDS) -> int:
        marks = ",".join("?" * len(kinds))
        row = self.store.query_one(f"SELECT count(*) AS n FROM outbox WHERE kind IN ({marks})", kinds)
        return int(row["n"]) if row else 0

    def claim(self, kind: str, limit: int, device_id: str) -> Batch | None:
        """Take up to ``limit`` unclaimed rows of one kind into a new batch, validating each.

        A row whose payload is not valid (corrupt JSON, wrong schema, another device's
        punch) is moved to ``outbox_rejected`` with the reason instead of being sent.
        """
        batch_id = str(uuid.uuid4())
        now = utc_now()
        limit = min(limit, MAX_ITEMS.get(kind, limit))
        items: list[tuple[str, str]] = []
        with self.store.transaction() as conn:
            rows = conn.execute(
                "SELECT id, ref_id, payload FROM outbox WHERE kind = ? AND batch_id IS NULL ORDER BY id LIMIT ?",
                (kind, int(limit))).fetchall()
            if not rows:
                return None
            good_ids = []
            for row_id, ref_id, payload in rows:
                reason = self._invalid(kind, ref_id, payload, device_id)
                if reason:
                    self._move_rejected(conn, row_id, reason, now)
                    continue
                good_ids.append(row_id)
                items.append((ref_id, payload))
            if not good_ids:
                return None
            marks = ",".join("?" * len(good_ids))
            conn.execute(f"UPDATE outbox SET batch_id = ?, attempts = attempts + 1, last_attempt_at = ? WHERE id IN ({marks})",
                         (batch_id, now, *good_ids))
        body = (f'{{"batch":"{batch_id}","{LIST_KEY[kind]}":[' + ",".join(payload for _, payload in items) + "]}")
        return Batch(batch_id, kind, [ref for ref, _ in items], body.encode("utf-8"))

    def reload(self, batch: Batch) -> Batch | None:
        """The rows still claimed by ``batch`` (for a resend); None when none are left."""
        rows = self.store.query("SELECT ref_id, payload FROM outbox WHERE batch_id = ? ORDER BY id", (batch.batch_id,))
        if not rows:
            return None
        with self.store.transaction() as conn:
            conn.execute("UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ? WHERE batch_id = ?",
                         (utc_now(), batch.batch_id))
        body = (f'{{"batch":"{batch.batch_id}","{LIST_KEY[batch.kind]}":['
                + ",".join(r["payload"] for r in rows) + "]}")
        batch.ref_ids = [r["ref_id"] for r in rows]
        batch.payload = body.encode("utf-8")
        return batch

    def acknowledge(self, ack: p.Ack) -> tuple[int, int]:
        """Delete what the ack stored, set aside what it rejected; returns (deleted, rejected)."""
        now = utc_now()
        deleted = rejected = 0
        with self.store.transaction() as conn:
            for chunk in _chunks(ack.stored, 500):
                marks = ",".join("?" * len(chunk))
                deleted += conn.execute(f"DELETE FROM outbox WHERE batch_id = ? AND ref_id IN ({marks})",
                                        (ack.batch, *chunk)).rowcount
            for item in ack.rejected:
                if item.id is None:
                    continue
                row = conn.execute("SELECT id, kind FROM outbox WHERE batch_id = ? AND ref_id = ?",
                                   (ack.batch, item.id)).fetchone()
                if row is None:
                    continue
                self._move_rejected(conn, row[0], f"central: {item.reason}", now)
                rejected += 1
            # Anything of the batch the ack did not name goes back in the queue.
            conn.execute("UPDATE outbox SET batch_id = NULL WHERE batch_id = ?", (ack.batch,))
        if rejected:
            log.error("the central refused %s item(s) of batch %s (kept in outbox_rejected); first reason: %s",
                      rejected, ack.batch, ack.rejected[0].reason)
        return deleted, rejected

    @staticmethod
    def _invalid(kind: str, ref_id: str, payload: str, device_id: str) -> str | None:
        try:
            data = json.loads(payload)
        except ValueError:
            return "payload is not JSON"
        try:
            item = p.validate(MODEL[kind], data)
        except p.ProtocolError as exc:
            return exc.reason
        if item.id != ref_id:
            return "payload id differs from the outbox ref_id"
        if kind == "punch" and item.device_id != device_id:
            return f"punch of device {item.device_id}, this is {device_id}"
        return None

    @staticmethod
    def _move_rejected(conn: Connection, row_id: int, reason: str, now: str) -> None:
        conn.execute("INSERT INTO outbox_rejected (kind, ref_id, payload, reason, created_at, rejected_at) "
                     "SELECT kind, ref_id, payload, ?, created_at, ? FROM outbox WHERE id = ?", (reason[:500], now, row_id))
        conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
        log.error("outbox row %s set aside: %s", row_id, reason)


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
