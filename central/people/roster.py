"""The central employee tables and the versioned roster sent to terminals.

Every change (upsert or delete of one employee) takes the next roster version and is
logged in ``roster_log``; a terminal at version *n* gets the delta ``n → current`` or,
when it is behind or asks, the full roster. Employees are validated with the same
schema the terminals validate roster messages with.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Iterable

from central.db import CentralDB
from contract import protocol as p

log = logging.getLogger(__name__)


class RosterError(ValueError):
    """An employee record the roster cannot take; the message names the field."""


def _validated(data: dict) -> p.RosterEmployee:
    try:
        return p.validate(p.RosterEmployee, data)
    except p.ProtocolError as exc:
        raise RosterError(f"employee {data.get('number', '?')!s:.40}: {exc.reason}") from None


def current_version(db: CentralDB) -> int:
    row = db.query_one("SELECT max(version) AS v FROM roster_log")
    return int(row["v"] or 0) if row else 0


def _next_version(cur: Any) -> int:
    row = cur.fetch("SELECT max(version) FROM roster_log")
    return int(row[0][0] or 0) + 1


def upsert_employees(db: CentralDB, employees: Iterable[dict]) -> int:
    """Add or change employees (one version each, one transaction); returns the new roster version."""
    checked = [_validated(e) for e in employees]
    now = p.utc_stamp()
    with db.transaction() as cur:
        version = current = _next_version(cur) - 1
        for emp in checked:
            version += 1
            old = cur.fetch("SELECT faces, fingers FROM employees WHERE number = ?", (emp.number,))
            faces = emp.faces if emp.faces is not None else (json.loads(old[0][0]) if old else [])
            fingers = ([f.model_dump() for f in emp.fingers] if emp.fingers is not None
                       else (json.loads(old[0][1]) if old else []))
            cur.execute(
                "INSERT INTO employees (number, name, department, card, pin_hash, role, verify_mode, allowed_devices, "
                "active, faces, fingers, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (number) DO UPDATE SET name = excluded.name, department = excluded.department, "
                "card = excluded.card, pin_hash = excluded.pin_hash, role = excluded.role, "
                "verify_mode = excluded.verify_mode, allowed_devices = excluded.allowed_devices, "
                "active = excluded.active, faces = excluded.faces, fingers = excluded.fingers, "
                "version = excluded.version, updated_at = excluded.updated_at",
                (emp.number, emp.name, emp.department, emp.card, emp.pin_hash, emp.role, emp.verify_mode,
                 json.dumps(sorted(set(emp.allowed_devices))), 1 if emp.active else 0, json.dumps(faces),
                 json.dumps(fingers), version, now))
            cur.execute("INSERT INTO roster_log (version, number, op, at) VALUES (?, ?, 'upsert', ?)",
                        (version, emp.number, now))
    if version != current:
        log.info("roster now at version %s (%s employees changed)", version, len(checked))
    return version


def upsert_employee(db: CentralDB, employee: dict) -> int:
    return upsert_employees(db, [employee])


def delete_employee(db: CentralDB, number: str) -> int:
    """Remove an employee; terminals delete them and purge their templates. Returns the new version."""
    now = p.utc_stamp()
    with db.transaction() as cur:
        if not cur.fetch("SELECT 1 FROM employees WHERE number = ?", (number,)):
            raise RosterError(f"no employee {number}")
        version = _next_version(cur)
        cur.execute("DELETE FROM employees WHERE number = ?", (number,))
        cur.execute("INSERT INTO roster_log (version, number, op, at) VALUES (?, ?, 'delete', ?)", (version, number, now))
    log.info("employee %s deleted; roster now at version %s", number, version)
    return version


def _employee_message(row: dict) -> dict:
    return {
        "number": row["number"], "name": row["name"], "department": row["department"], "card": row["card"],
        "pin_hash": row["pin_hash"], "role": row["role"], "verify_mode": row["verify_mode"],
        "allowed_devices": json.loads(row["allowed_devices"]), "active": bool(row["active"]),
        "faces": json.loads(row["faces"]), "fingers": json.loads(row["fingers"]),
    }


def list_employees(db: CentralDB) -> list[dict]:
    return [_employee_message(r) for r in db.query("SELECT * FROM employees ORDER BY number")]


def full_roster(db: CentralDB) -> dict:
    with db.transaction() as cur:  # one consistent snapshot of version and rows
        version = int(cur.fetch("SELECT max(version) FROM roster_log")[0][0] or 0)
        names = [d for d in ("number", "name", "department", "card", "pin_hash", "role", "verify_mode",
                             "allowed_devices", "active", "faces", "fingers")]
        rows = cur.fetch(f"SELECT {', '.join(names)} FROM employees ORDER BY number")
    return {"version": version, "base": 0, "full": True, "issued_at": p.utc_stamp(),
            "upserts": [_employee_message(dict(zip(names, r))) for r in rows], "deletes": []}


def delta(db: CentralDB, since: int) -> dict | None:
    """Changes after version ``since`` as one message, or None when there are none."""
    with db.transaction() as cur:
        log_rows = cur.fetch("SELECT version, number, op FROM roster_log WHERE version > ? ORDER BY version", (since,))
        if not log_rows:
            return None
        last_op: dict[str, str] = {}
        for _, number, op in log_rows:
            last_op[number] = op
        upsert_numbers = sorted(n for n, op in last_op.items() if op == "upsert")
        names = ("number", "name", "department", "card", "pin_hash", "role", "verify_mode", "allowed_devices",
                 "active", "faces", "fingers")
        upserts = []
        for number in upsert_numbers:
            found = cur.fetch(f"SELECT {', '.join(names)} FROM employees WHERE number = ?", (number,))
            if found:
                upserts.append(_employee_message(dict(zip(names, found[0]))))
    return {"version": int(log_rows[-1][0]), "base": since, "full": False, "issued_at": p.utc_stamp(),
            "upserts": upserts, "deletes": sorted(n for n, op in last_op.items() if op == "delete")}
