"""The admin audit log: every change an admin makes, hash-chained so an edit or a deletion shows.

Each entry's ``digest`` is SHA-256 over the previous entry's digest and the entry's own
canonical JSON (time, actor, action, target, detail); the first entry chains from 64 zeros.
Writers take a lock first (SQLite: the transaction's write lock; PostgreSQL: an advisory
lock), so two writers can never chain from the same entry. ``verify()`` walks the chain.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from central.accounts.models import AuditEntry
from contract import protocol as p

log = logging.getLogger(__name__)
GENESIS = "0" * 64
_PG_LOCK_KEY = 74_201_301


def _digest(prev: str, entry: AuditEntry) -> str:
    body = p.canonical_json({"at": p.utc_stamp(entry.at), "actor": entry.actor, "action": entry.action,
                             "target": entry.target, "detail": entry.detail})
    return hashlib.sha256(prev.encode("ascii") + body).hexdigest()


def record(actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry (inside the caller's transaction when there is one). Never put a secret in ``detail``."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
        last = AuditEntry.objects.order_by("-seq").values_list("digest", flat=True).first()
        entry = AuditEntry(at=timezone.now(), actor=actor[:150],
                           action=action[:64], target=str(target)[:200], detail=detail or {},
                           prev_digest=last or GENESIS)
        entry.digest = _digest(entry.prev_digest, entry)
        entry.save()
    log.info("audit: %s %s %s", actor, action, target)
    return entry


@dataclass(frozen=True)
class AuditCheck:
    intact: bool
    entries: int
    first_broken: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"intact": self.intact, "entries": self.entries, "first_broken": self.first_broken,
                "reason": self.reason}


def verify() -> AuditCheck:
    """Walk the chain in order; the first entry whose link or digest does not match is reported."""
    prev = GENESIS
    count = 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        count += 1
        if entry.prev_digest != prev:
            return AuditCheck(False, count, entry.seq, "does not link to the entry before it (one was removed or changed)")
        if _digest(prev, entry) != entry.digest:
            return AuditCheck(False, count, entry.seq, "its content does not match its digest (it was edited)")
        prev = entry.digest
    return AuditCheck(True, count)
