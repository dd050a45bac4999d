"""Apply a roster message from the central server to the terminal database, in one transaction.

The terminal keeps the version it has in the setting ``sync.roster_version``. A delta
applies when its ``base`` is at or below that version and its ``version`` above it
(delta entries are absolute states, so an overlap is harmless); a delta from further
ahead means versions were missed, and the caller asks for a full roster. A full
roster replaces every employee that came from the roster; employees enrolled on this
terminal and never sent by the central (``roster_version = 0``) are kept.

Fingerprint sensor slots freed by a delete or a changed template are appended to the
setting ``fingerprint.purge_positions`` for the terminal to clear on the sensor; new
finger templates arrive with no sensor position, for the terminal to load.
"""
from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from contract import protocol as p
from terminal.store.database import Store, utc_now
from terminal.store.employees import VERIFY_MODES

log = logging.getLogger(__name__)

ROSTER_VERSION_KEY = "sync.roster_version"
PURGE_KEY = "fingerprint.purge_positions"


@dataclass(frozen=True)
class RosterResult:
    outcome: Literal["applied", "duplicate", "behind"]
    have: int
    version: int
    upserts: int = 0
    deletes: int = 0


def roster_version(store: Store) -> int:
    value = store.get_setting(ROSTER_VERSION_KEY, 0)
    return int(value) if isinstance(value, int) else 0


def _check(msg: p.Roster) -> None:
    numbers = [e.number for e in msg.upserts]
    if len(set(numbers)) != len(numbers):
        raise p.ProtocolError("an employee appears twice in upserts")
    if set(numbers) & set(msg.deletes):
        raise p.ProtocolError("an employee is both upserted and deleted")
    cards = [e.card for e in msg.upserts if e.card]
    if len(set(cards)) != len(cards):
        raise p.ProtocolError("two employees share one card")
    for emp in msg.upserts:
        if emp.verify_mode not in VERIFY_MODES:
            raise p.ProtocolError(f"employee {emp.number}: unknown verify_mode {emp.verify_mode}")


def apply_roster(store: Store, msg: p.Roster, actor: str = "central") -> RosterResult:
    """Apply one validated roster message; :class:`ProtocolError` leaves the database unchanged."""
    _check(msg)
    with store.transaction() as conn:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (ROSTER_VERSION_KEY,)).fetchone()
        have = int(json.loads(row[0])) if row else 0
        if not msg.full:
            if msg.version <= have:
                return RosterResult("duplicate", have, msg.version)
            if msg.base > have:
                return RosterResult("behind", have, msg.version)
        purge: list[int] = []
        now = utc_now()
        for emp in msg.upserts:
            _upsert(conn, emp, msg.version, now, purge)
        deletes = list(msg.deletes)
        if msg.full:
            keep = {e.number for e in msg.upserts}
            deletes += [r[0] for r in conn.execute("SELECT number FROM employees WHERE roster_version > 0").fetchall()
                        if r[0] not in keep]
        removed = sum(_delete(conn, number, purge) for number in deletes)
        if purge:
            _append_purge(store, conn, purge)
        store.set_setting(ROSTER_VERSION_KEY, msg.version, conn=conn)
        store.audit(actor, "roster.apply", {"version": msg.version, "base": msg.base, "full": msg.full,
                                             "upserts": len(msg.upserts), "deletes": removed}, conn=conn)
    log.info("roster %s applied: version %s → %s (%s upserts, %s deletes)", "full" if msg.full else "delta",
             have, msg.version, len(msg.upserts), removed)
    return RosterResult("applied", have, msg.version, len(msg.upserts), removed)


def _upsert(conn: Any, emp: p.RosterEmployee, version: int, now: str, purge: list[int]) -> None:
    card = emp.card or None
    if card:  # the roster is authoritative: a card moves to its new holder
        conn.execute("UPDATE employees SET card = NULL WHERE card = ? AND number != ?", (card, emp.number))
    values = (emp.name, emp.department, card, emp.pin_hash, emp.role, emp.verify_mode,
              json.dumps(sorted(set(emp.allowed_devices))), 1 if emp.active else 0, version, now)
    found = conn.execute("SELECT id FROM employees WHERE number = ?", (emp.number,)).fetchone()
    if found:
        employee_id = found[0]
        conn.execute("UPDATE employees SET name = ?, department = ?, card = ?, pin_hash = ?, role = ?, verify_mode = ?, "
                     "allowed_devices = ?, active = ?, roster_version = ?, updated_at = ? WHERE id = ?",
                     (*values, employee_id))
    else:
        employee_id = conn.execute(
            "INSERT INTO employees (name, department, card, pin_hash, role, verify_mode, allowed_devices, active, "
            "roster_version, updated_at, number, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, emp.number, now)).lastrowid
    if emp.faces is not None:
        conn.execute("DELETE FROM face_templates WHERE employee_id = ?", (employee_id,))
        for face in emp.faces:
            conn.execute("INSERT INTO face_templates (employee_id, descriptor, quality, source, created_at) "
                         "VALUES (?, ?, NULL, 'roster', ?)", (employee_id, base64.b64decode(face), now))
    if emp.fingers is not None:
        existing = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT finger, template, sensor_position FROM finger_templates WHERE employee_id = ?", (employee_id,))}
        wanted = {f.finger: base64.b64decode(f.template) for f in emp.fingers}
        for finger, (template, position) in existing.items():
            if wanted.get(finger) != bytes(template):
                conn.execute("DELETE FROM finger_templates WHERE employee_id = ? AND finger = ?", (employee_id, finger))
                if position is not None:
                    purge.append(int(position))
        for finger, template in wanted.items():
            if finger in existing and bytes(existing[finger][0]) == template:
                continue
            conn.execute("INSERT INTO finger_templates (employee_id, finger, sensor_position, template, created_at) "
                         "VALUES (?, ?, NULL, ?, ?)", (employee_id, finger, template, now))


def _delete(conn: Any, number: str, purge: list[int]) -> int:
    found = conn.execute("SELECT id FROM employees WHERE number = ?", (number,)).fetchone()
    if not found:
        return 0
    purge += [int(r[0]) for r in conn.execute(
        "SELECT sensor_position FROM finger_templates WHERE employee_id = ? AND sensor_position IS NOT NULL", (found[0],))]
    conn.execute("DELETE FROM face_templates WHERE employee_id = ?", (found[0],))
    conn.execute("DELETE FROM finger_templates WHERE employee_id = ?", (found[0],))
    conn.execute("DELETE FROM employees WHERE id = ?", (found[0],))
    return 1


def _append_purge(store: Store, conn: Any, positions: list[int]) -> None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (PURGE_KEY,)).fetchone()
    current = json.loads(row[0]) if row else []
    store.set_setting(PURGE_KEY, sorted(set(current) | set(positions)), conn=conn)


def purge_employee(store: Store, number: str, actor: str = "central") -> dict:
    """Delete one employee and their templates now (the purge command); audit-logged."""
    purge: list[int] = []
    with store.transaction() as conn:
        removed = _delete(conn, number, purge)
        if purge:
            _append_purge(store, conn, purge)
        store.audit(actor, "employee.purge", {"number": number, "removed": removed, "sensor_positions": purge}, conn=conn)
    return {"removed": bool(removed), "sensor_positions": purge}
