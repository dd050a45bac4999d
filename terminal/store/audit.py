"""The hash-chained audit log: every admin action and every punch leaves a link.

Each entry's hash covers its own fields and the previous entry's hash, so editing,
deleting or reordering any entry breaks the chain from that point on;
``seed-terminal verify-audit`` reports the first broken link.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from terminal.store.connection import Connection

GENESIS = "0" * 64


def entry_hash(prev_hash: str, seq: int, at: str, actor: str, action: str, details: str) -> str:
    material = json.dumps([prev_hash, seq, at, actor, action, details], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def append_audit(conn: Connection, actor: str, action: str, details: dict, at: str) -> int:
    """Append one entry inside the caller's transaction and return its sequence number."""
    row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
    body = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = entry_hash(prev, seq, at, actor, action, body)
    conn.execute(
        "INSERT INTO audit_log (seq, at, actor, action, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, body, prev, digest),
    )
    return seq


@dataclass(frozen=True)
class AuditReport:
    entries: int
    first_broken: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.first_broken is None


def verify_chain(rows: Iterable[tuple[int, str, str, str, str, str, str]]) -> AuditReport:
    """Check (seq, at, actor, action, details, prev_hash, hash) rows in sequence order."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    for seq, at, actor, action, details, prev_hash, digest in rows:
        count += 1
        if seq != expected_seq:
            return AuditReport(count, expected_seq, f"entry {expected_seq} is missing (next is {seq})")
        if prev_hash != prev:
            return AuditReport(count, seq, f"entry {seq} does not point at the hash of entry {seq - 1}")
        if entry_hash(prev_hash, seq, at, actor, action, details) != digest:
            return AuditReport(count, seq, f"entry {seq} was altered (its hash does not match its content)")
        prev = digest
        expected_seq += 1
    return AuditReport(count, None, "chain intact")


def verify_audit(conn: Connection) -> AuditReport:
    rows = conn.execute(
        "SELECT seq, at, actor, action, details, prev_hash, hash FROM audit_log ORDER BY seq"
    )
    return verify_chain(rows)
