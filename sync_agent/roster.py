"""Apply a roster message from the central server to the terminal database, in one transaction.

The terminal keeps the version it has in the setting ``sync.roster_version``. A delta
applies when its ``base`` is at or below that version and its ``version`` above it
(delta entries are absolute states, so an overlap is harmless); a delta from further
ahead means versions were missed, and the caller asks for a full roster. A full
roster replaces every employee that came from the roster; employees enrolled on this
terminal and never sent by the central (``roster_version = 0``) are kept.

One bad record never stalls the roster. The envelope (version, base, full, deletes) must
be valid or the message is refused whole; each upsert is then checked on its own with
:func:`contract.roster_rules.check_roster` (the rules the central applies too), and a record
that breaks a rule is skipped while the good ones apply and the version advances. Each
skipped record becomes a ``roster.rejected`` event (severity ``warning``; payload: employee
number, field, reason and roster version, never a PIN hash or a template), written in the
same transaction, for the central to show. Skipped records leave the employee as the
terminal had it (a full roster does not delete them either). Records refused here:

* any per-record rule (unknown verify_mode, bad card, PIN hash or template, ...);
* a number that appears a second time in the message (the first one stands);
* a card that an earlier record of the message holds (the first holder keeps it);
* an upsert of an employee the same message deletes (the delete applies);
* a card held by another employee on this terminal who keeps it after this message. The
  roster is authoritative, so a card may move: when its current holder is upserted with
  another card (or none) or deleted by the same message, the new holder gets it. But the
  terminal never silently takes a card away from an employee the message does not touch
  (for example one enrolled on this terminal): that record is refused and reported.

Fingerprint sensor slots freed by a delete or a changed template are appended to the
setting ``fingerprint.purge_positions`` for the terminal to clear on the sensor; new
finger templates arrive with no sensor position, for the terminal to load.

Histories and parts. Versions count within one history of the central (its ``history`` id,
kept here in ``sync.roster_history``); after a restore of the central's database the same
numbers mean other content. A delta of another history than the stored one is not applied
(outcome ``other_history``: the caller asks for the full roster); a full roster of another
history applies whatever its version, and removes the roster's employees it does not name.
A terminal with nothing stored (version 0, no history) takes the history of what it gets
first. A message without a history (an older central) is judged by its version alone.

A version may come in several parts (``part`` of ``parts``, every part with the digest of
the whole content). :func:`receive_roster` keeps each part in the ``roster_parts`` table
(so a restart or reconnect loses none), and once every part is there checks the digest and
applies the version in one transaction, or nothing of it (outcome ``partial`` until then,
``corrupt`` when the digest differs: the set is dropped and asked for again).
:func:`pending_set` names the parts still missing, for the caller to ask for.
"""
from __future__ import annotations

import base64
import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from contract import protocol as p
from contract.roster_rules import RosterRuleError, check_roster, check_unique_card
from terminal.store.connection import Connection
from terminal.store.database import Store, utc_now

log = logging.getLogger(__name__)

ROSTER_VERSION_KEY = "sync.roster_version"
ROSTER_HISTORY_KEY = "sync.roster_history"
PURGE_KEY = "fingerprint.purge_positions"
REJECTED_EVENT = "roster.rejected"
MAX_REJECTED_EVENTS = 50  # per message; the rest are counted in one more event, so a bad roster cannot flood the outbox


@dataclass(frozen=True)
class RosterResult:
    outcome: Literal["applied", "duplicate", "behind", "other_history", "partial", "corrupt"]
    have: int
    version: int
    upserts: int = 0
    deletes: int = 0
    rejected: tuple[RosterRuleError, ...] = ()
    missing: tuple[int, ...] = ()
    full: bool = False  # an applied full roster


@dataclass(frozen=True)
class PendingSet:
    """A roster version this terminal holds some parts of: what to ask the central for."""

    history: str | None
    version: int
    base: int
    full: bool
    digest: str
    parts: int
    missing: tuple[int, ...]

    def request(self) -> dict[str, Any]:
        return {"version": self.version, "base": self.base, "full": self.full, "digest": self.digest,
                "parts": self.parts}


def roster_version(store: Store) -> int:
    value = store.get_setting(ROSTER_VERSION_KEY, 0)
    return int(value) if isinstance(value, int) else 0


def roster_history(store: Store) -> str | None:
    value = store.get_setting(ROSTER_HISTORY_KEY)
    return value if isinstance(value, str) else None


def _held(conn: Connection) -> tuple[int, str | None]:
    """(version, history) of the roster this terminal holds, read in the caller's transaction."""
    rows = dict(conn.execute("SELECT key, value FROM settings WHERE key IN (?, ?)",
                             (ROSTER_VERSION_KEY, ROSTER_HISTORY_KEY)).fetchall())
    version = json.loads(rows[ROSTER_VERSION_KEY]) if ROSTER_VERSION_KEY in rows else 0
    history = json.loads(rows[ROSTER_HISTORY_KEY]) if ROSTER_HISTORY_KEY in rows else None
    return (version if isinstance(version, int) else 0), (history if isinstance(history, str) else None)


def _judge(msg: p.RosterEnvelope, have: int, history: str | None
           ) -> Literal["duplicate", "behind", "other_history"] | None:
    """Why a message does not apply on what this terminal holds, or None when it does."""
    if msg.history is not None and msg.history != history and not (history is None and have == 0):
        return None if msg.full else "other_history"
    if msg.full:  # a full roster of this history applies, unless it is older than what is here
        return "duplicate" if msg.history is not None and msg.history == history and msg.version < have else None
    if msg.version <= have:
        return "duplicate"
    if msg.base > have:
        return "behind"
    return None


def _digest(upserts: Sequence[Any], deletes: Sequence[str]) -> str:
    return p.roster_digest((p.canonical_json(u) for u in upserts), (p.canonical_json(n) for n in deletes))


def _refuse_deleted(upserts: list[p.RosterEmployee], deletes: Collection[str]
                    ) -> tuple[list[p.RosterEmployee], list[RosterRuleError]]:
    """An employee both upserted and deleted by one message: the upsert is refused, the delete applies."""
    kept = [e for e in upserts if e.number not in deletes]
    refused = [RosterRuleError(e.number, "number", "the same roster message also deletes this employee")
               for e in upserts if e.number in deletes]
    return kept, refused


def _refuse_held_cards(conn: Connection, upserts: list[p.RosterEmployee], deletes: Collection[str]
                       ) -> tuple[list[p.RosterEmployee], list[RosterRuleError]]:
    """Refuse upserts whose card another employee of this terminal keeps after this message.

    A holder keeps their card unless the message deletes them or (accepted) upserts them.
    Refusing a record leaves its employee's current card in place, which may take a card
    from under another record: repeat until nothing more is refused.
    """
    on_terminal = conn.execute("SELECT number, card FROM employees WHERE card IS NOT NULL").fetchall()
    accepted = list(upserts)
    refused: list[RosterRuleError] = []
    while True:
        changing = {e.number for e in accepted}
        holders = {card: number for number, card in on_terminal if number not in changing and number not in deletes}
        failed: dict[str, RosterRuleError] = {}
        for emp in accepted:
            try:
                check_unique_card(emp.card, emp.number, holders, where="on this terminal")
            except RosterRuleError as error:
                failed[emp.number] = error
        if not failed:
            return accepted, refused
        accepted = [e for e in accepted if e.number not in failed]
        refused += failed.values()


def _report(store: Store, conn: Connection, refused: Sequence[RosterRuleError], version: int) -> None:
    """One ``roster.rejected`` event per refused record (up to a limit), in the caller's transaction."""
    for error in refused[:MAX_REJECTED_EVENTS]:
        log.warning("roster %s: record refused: %s", version, error)
        store.record_event(REJECTED_EVENT, {**error.as_dict(), "version": version}, severity="warning", conn=conn)
    more = len(refused) - MAX_REJECTED_EVENTS
    if more > 0:
        log.warning("roster %s: %s more records refused", version, more)
        store.record_event(REJECTED_EVENT, {"number": None, "field": "(records)", "version": version,
                                            "reason": f"{more} more records refused in this roster message"},
                           severity="warning", conn=conn)


def apply_roster(store: Store, msg: p.RosterEnvelope, actor: str = "central") -> RosterResult:
    """Apply a roster message (envelope validated, upserts raw or already models): the good records apply.

    Bad records are skipped and reported (see the module docstring); the version advances all
    the same. Nothing is written for a duplicate or a message from further ahead ("behind").
    """
    upserts, refused = check_roster(list(msg.upserts))
    upserts, also_deleted = _refuse_deleted(upserts, set(msg.deletes))
    refused += also_deleted
    with store.transaction() as conn:
        have, history = _held(conn)
        outcome = _judge(msg, have, history)
        if outcome is not None:
            return RosterResult(outcome, have, msg.version)
        deletes = list(dict.fromkeys(msg.deletes))
        if msg.full:  # employees of an earlier roster that are not named (even by a refused record) go
            named = {e.number for e in upserts} | {e.number for e in refused if e.number}
            deletes += [r[0] for r in conn.execute("SELECT number FROM employees WHERE roster_version > 0").fetchall()
                        if r[0] not in named and r[0] not in deletes]
        upserts, held = _refuse_held_cards(conn, upserts, set(deletes))
        refused += held
        purge: list[int] = []
        now = utc_now()
        for emp in upserts:
            _upsert(conn, emp, msg.version, now, purge)
        removed = sum(_delete(conn, number, purge) for number in deletes)
        if purge:
            _append_purge(store, conn, purge)
        _report(store, conn, refused, msg.version)
        store.set_setting(ROSTER_VERSION_KEY, msg.version, conn=conn)
        if msg.history is not None:
            store.set_setting(ROSTER_HISTORY_KEY, msg.history, conn=conn)
        # the parts of this version and of every set it supersedes are not needed any more
        conn.execute("DELETE FROM roster_parts WHERE NOT (history = ? AND version > ?)", (msg.history or "", msg.version))
        store.audit(actor, "roster.apply", {"version": msg.version, "base": msg.base, "full": msg.full,
                                             "history": msg.history, "upserts": len(upserts), "deletes": removed,
                                             "rejected": len(refused)}, conn=conn)
    log.info("roster %s applied: version %s → %s (%s upserts, %s deletes, %s refused)", "full" if msg.full else "delta",
             have, msg.version, len(upserts), removed, len(refused))
    return RosterResult("applied", have, msg.version, len(upserts), removed, tuple(refused), full=msg.full)


_SET = "history = ? AND version = ? AND base = ? AND full = ? AND digest = ? AND parts = ?"


def receive_roster(store: Store, msg: p.RosterEnvelope, actor: str = "central") -> RosterResult:
    """Take one roster message or part: apply it, keep it until its set is whole, or say why not."""
    if msg.parts == 1:
        if msg.digest is not None and _digest(msg.upserts, msg.deletes) != msg.digest:
            log.warning("roster %s: content does not match its digest; not applied", msg.version)
            return RosterResult("corrupt", roster_version(store), msg.version)
        return apply_roster(store, msg, actor)
    key = (msg.history or "", msg.version, msg.base, int(msg.full), msg.digest, msg.parts)
    with store.transaction() as conn:
        have, history = _held(conn)
        outcome = _judge(msg, have, history)
        if outcome is not None:
            return RosterResult(outcome, have, msg.version)
        conn.execute("INSERT OR REPLACE INTO roster_parts (history, version, base, full, digest, parts, part, body, "
                     "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (*key, msg.part, json.dumps({"upserts": list(msg.upserts), "deletes": list(msg.deletes)},
                                                 ensure_ascii=False), utc_now()))
        # sets of an older version or of another history will not be completed any more
        conn.execute("DELETE FROM roster_parts WHERE history != ? OR version < ?", (key[0], msg.version))
        held = {r[0] for r in conn.execute(f"SELECT part FROM roster_parts WHERE {_SET}", key)}
    if len(held) < msg.parts:
        return RosterResult("partial", have, msg.version, missing=tuple(i for i in range(msg.parts) if i not in held))
    return _apply_set(store, key, actor)


def _apply_set(store: Store, key: tuple[str, int, int, int, str | None, int], actor: str) -> RosterResult:
    """Assemble a whole set of parts, check its digest and apply it (or drop it when the digest differs)."""
    history, version, base, full, digest, parts = key
    upserts: list[Any] = []
    deletes: list[str] = []
    for row in store.query(f"SELECT body FROM roster_parts WHERE {_SET} ORDER BY part", key):
        body = json.loads(row["body"])
        upserts += body["upserts"]
        deletes += body["deletes"]
    if _digest(upserts, deletes) != digest:
        log.warning("roster %s: the %s parts do not match their digest; dropped, to be asked for again", version, parts)
        with store.transaction() as conn:
            conn.execute(f"DELETE FROM roster_parts WHERE {_SET}", key)
        return RosterResult("corrupt", roster_version(store), version)
    message = p.RosterEnvelope.model_validate({
        "version": version, "base": base, "full": bool(full), "history": history or None, "digest": digest,
        "upserts": upserts, "deletes": deletes})
    result = apply_roster(store, message, actor)
    if result.outcome != "applied":  # superseded meanwhile: the set is of no use
        with store.transaction() as conn:
            conn.execute(f"DELETE FROM roster_parts WHERE {_SET}", key)
    return result


def pending_set(store: Store) -> PendingSet | None:
    """The newest set of roster parts this terminal holds only some of, with the parts it misses."""
    row = store.query_one("SELECT history, version, base, full, digest, parts, count(*) AS n FROM roster_parts "
                          "GROUP BY history, version, base, full, digest, parts ORDER BY version DESC, full DESC LIMIT 1")
    if row is None:
        return None
    key = (row["history"], row["version"], row["base"], row["full"], row["digest"], row["parts"])
    held = {r["part"] for r in store.query(f"SELECT part FROM roster_parts WHERE {_SET}", key)}
    return PendingSet(row["history"] or None, row["version"], row["base"], bool(row["full"]), row["digest"],
                      row["parts"], tuple(i for i in range(row["parts"]) if i not in held))


def resume_roster(store: Store, actor: str = "central") -> RosterResult | None:
    """Apply a set whose last part was stored but not applied (the terminal stopped in between)."""
    found = pending_set(store)
    if found is None or found.missing:
        return None
    return _apply_set(store, (found.history or "", found.version, found.base, int(found.full), found.digest,
                              found.parts), actor)


def _upsert(conn: Connection, emp: p.RosterEmployee, version: int, now: str, purge: list[int]) -> None:
    card = emp.card or None
    if card:  # a card moving to its new holder: its old holder is changed or deleted by this message too
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


def _delete(conn: Connection, number: str, purge: list[int]) -> int:
    found = conn.execute("SELECT id FROM employees WHERE number = ?", (number,)).fetchone()
    if not found:
        return 0
    purge += [int(r[0]) for r in conn.execute(
        "SELECT sensor_position FROM finger_templates WHERE employee_id = ? AND sensor_position IS NOT NULL", (found[0],))]
    conn.execute("DELETE FROM face_templates WHERE employee_id = ?", (found[0],))
    conn.execute("DELETE FROM finger_templates WHERE employee_id = ?", (found[0],))
    conn.execute("DELETE FROM employees WHERE id = ?", (found[0],))
    return 1


def _append_purge(store: Store, conn: Connection, positions: list[int]) -> None:
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
