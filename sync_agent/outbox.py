"""The device outbox is the queue: claim a batch, publish it, delete only what the ack names.

A claimed row carries its ``batch_id``; an ack deletes rows by (batch id, ref id), so a
row changed after it was sent (a re-stamped punch has its batch id cleared) survives a
late ack for the old copy and is sent again. Rows the central refuses move to
``outbox_rejected`` with the reason: nothing is ever dropped. On start every claim
from a previous run is released, so a kill -9 mid-batch only means that batch is sent
again (the central stores idempotently by id).
"""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from contract import protocol as p
from terminal.store.connection import Connection
from terminal.store.database import Store, utc_now

log = logging.getLogger(__name__)

KINDS = ("punch", "event", "enrolment")
TOPIC_LEAF = {"punch": "punches", "event": "events", "enrolment": "enrolments"}
LIST_KEY = {"punch": "punches", "event": "events", "enrolment": "enrolments"}
MODEL: dict[str, type[p.Message]] = {"punch": p.Punch, "event": p.Event, "enrolment": p.Enrolment}
MAX_ITEMS = {"enrolment": p.MAX_ENROLMENT_BATCH}  # templates are large: fewer to a batch
# what the status's queue_depth counts, on which the central's finality of attendance days waits: an enrolment the
# central cannot take yet (an older central, a broker ACL not written again) never holds days provisional
ATTENDANCE_KINDS = ("punch", "event")


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
