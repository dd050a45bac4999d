"""Employees and their templates: the library behind the admin screens and ``seed-enroll``."""
from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Required, TypedDict, overload

import numpy as np
import numpy.typing as npt

from contract.roster_rules import FACE_DESCRIPTOR_DIM, VERIFY_MODES
from terminal.ids import uuid7
from terminal.store.connection import Connection, Row, inserted_id
from terminal.store.database import IntegrityError, Store, utc_now

log = logging.getLogger(__name__)

FACTORS = ("face", "finger", "card", "pin")  # VERIFY_MODES: contract.roster_rules, the modes the central may send too
ROLES = ("employee", "admin")
NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
DEVICE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DESCRIPTOR_DIM = FACE_DESCRIPTOR_DIM


class EmployeeError(ValueError):
    """Bad employee data; ``field`` names what to correct."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class EmployeeNotFound(LookupError):
    pass


def _clean_text(field: str, value: object, *, required: bool, max_len: int) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise EmployeeError(field, "is required")
    if len(text) > max_len:
        raise EmployeeError(field, f"is longer than {max_len} characters")
    if any(ord(ch) < 32 for ch in text):
        raise EmployeeError(field, "contains control characters")
    return text


def validate_number(number: object) -> str:
    text = "" if number is None else str(number).strip()
    if not NUMBER_RE.match(text):
        raise EmployeeError("number", "must be 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return text


def _clean_card(card: object) -> str | None:
    if card is None or str(card).strip() == "":
        return None
    from contract.cards import CardFormatError, normalize_card

    try:
        return normalize_card(str(card))
    except CardFormatError as exc:
        raise EmployeeError("card", str(exc)) from None


def _clean_pin(pin: object) -> str | None:
    if pin is None or str(pin) == "":
        return None
    from contract.pins import PinFormatError, hash_pin

    try:
        return hash_pin(str(pin))
    except PinFormatError as exc:
        raise EmployeeError("pin", str(exc)) from None


def _clean_devices(devices: Iterable[str] | None) -> str:
    result = []
    for device in devices or ():
        device = str(device).strip()
        if not DEVICE_RE.match(device):
            raise EmployeeError("allowed_devices", f"{device!r} is not a device id")
        result.append(device)
    return json.dumps(sorted(set(result)))


def _choice(field: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise EmployeeError(field, f"must be one of {', '.join(choices)}")
    return value


@overload
def employee_from_row(row: Row) -> Row: ...
@overload
def employee_from_row(row: None) -> None: ...
@overload
def employee_from_row(row: Row | None) -> Row | None: ...
def employee_from_row(row: Row | None) -> Row | None:
    if row is None:
        return None
    row = dict(row)
    row["allowed_devices"] = json.loads(row.get("allowed_devices") or "[]")
    row["active"] = bool(row.get("active"))
    row["has_pin"] = bool(row.pop("pin_hash", None))
    return row


_PUBLIC_COLUMNS = ("id, number, name, department, card, pin_hash, role, verify_mode, allowed_devices, active, "
                   "roster_version, created_at, updated_at")


class NewEmployee(TypedDict, total=False):
    """One employee as :func:`add_employee` takes them (the demo's and the kiosk tour's staff lists)."""

    number: Required[str]
    name: Required[str]
    department: str
    card: str
    pin: str
    role: str
    verify_mode: str


def add_employee(store: Store, *, number: str, name: str, department: str = "", card: str | None = None,
                 pin: str | None = None, role: str = "employee", verify_mode: str = "any",
                 allowed_devices: Iterable[str] | None = None, photo: bytes | None = None,
                 actor: str = "admin") -> dict:
    """Add one employee; every bad field raises :class:`EmployeeError` naming it."""
    row: dict[str, object] = {
        "number": validate_number(number),
        "name": _clean_text("name", name, required=True, max_len=100),
        "department": _clean_text("department", department, required=False, max_len=100),
        "card": _clean_card(card),
        "pin_hash": _clean_pin(pin),
        "role": _choice("role", role, ROLES),
        "verify_mode": _choice("verify_mode", verify_mode, VERIFY_MODES),
        "allowed_devices": _clean_devices(allowed_devices),
        "photo": photo,
    }
    now = utc_now()
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM employees WHERE number = ?", (row["number"],)).fetchone():
            raise EmployeeError("number", f"employee {row['number']} already exists")
        if row["card"] and conn.execute("SELECT 1 FROM employees WHERE card = ?", (row["card"],)).fetchone():
            raise EmployeeError("card", "this card is already assigned to another employee")
        try:
            employee_id = insert_employee_row(store, conn, row, now=now, actor=actor)
        except IntegrityError as exc:
            raise EmployeeError("number", f"conflicts with an existing employee ({exc})") from None
    log.info("employee %s added", row["number"])
    return _saved_employee(store, employee_id)


_UPDATABLE = ("name", "department", "card", "pin", "role", "verify_mode", "allowed_devices", "active", "photo")


def update_employee(store: Store, number: str, *, actor: str = "admin", **changes: Any) -> dict:
    unknown = set(changes) - set(_UPDATABLE)
    if unknown:
        raise EmployeeError(sorted(unknown)[0], "cannot be changed")
    values: dict[str, object] = {}
    for field, value in changes.items():
        if field == "name":
            values["name"] = _clean_text("name", value, required=True, max_len=100)
        elif field == "department":
            values["department"] = _clean_text("department", value, required=False, max_len=100)
        elif field == "card":
            values["card"] = _clean_card(value)
        elif field == "pin":
            values["pin_hash"] = _clean_pin(value)
        elif field == "role":
            values["role"] = _choice("role", value, ROLES)
        elif field == "verify_mode":
            values["verify_mode"] = _choice("verify_mode", value, VERIFY_MODES)
        elif field == "allowed_devices":
            values["allowed_devices"] = _clean_devices(value)
        elif field == "active":
            values["active"] = 1 if value else 0
        elif field == "photo":
            values["photo"] = value
    employee = require_employee(store, number)
    if not values:
        return employee
    with store.transaction() as conn:
        try:
            update_employee_row(store, conn, employee["id"], employee["number"], values, now=utc_now(), actor=actor,
                                fields=changes)
        except IntegrityError:
            raise EmployeeError("card", "this card is already assigned to another employee") from None
    return _saved_employee(store, employee["id"])


# -- rows already checked, written in the caller's transaction (add_employee, update_employee, the roster import) --
def insert_employee_row(store: Store, conn: Connection, row: Mapping[str, object], *, now: str, actor: str) -> int:
    """One employee row in the store's form (``number`` and the columns it sets) and its audit entry; its id."""
    names = [*row, "created_at", "updated_at"]
    employee_id = inserted_id(conn.execute(f"INSERT INTO employees ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                                           (*row.values(), now, now)))
    store.audit(actor, "employee.add", {"employee_id": employee_id, "number": row["number"]}, conn=conn)
    return employee_id


def update_employee_row(store: Store, conn: Connection, employee_id: int, number: str, values: Mapping[str, object], *,
                        now: str, actor: str, fields: Iterable[str]) -> None:
    """Set ``values`` (the store's columns) on one employee and audit it naming ``fields``."""
    assignments = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE employees SET {assignments}, updated_at = ? WHERE id = ?", (*values.values(), now, employee_id))
    store.audit(actor, "employee.update", {"employee_id": employee_id, "number": number, "fields": sorted(fields)},
                conn=conn)


def insert_face_rows(store: Store, conn: Connection, employee_id: int, blobs: Sequence[bytes], *, now: str, actor: str,
                     source: str, quality: Sequence[float] | None = None) -> list[int]:
    """Face templates (descriptor bytes) of one employee and their audit entry; their ids."""
    ids = []
    for i, blob in enumerate(blobs):
        q = None if quality is None else float(quality[i])
        cursor = conn.execute(
            "INSERT INTO face_templates (employee_id, descriptor, quality, source, created_at) VALUES (?, ?, ?, ?, ?)",
            (employee_id, blob, q, source, now))
        ids.append(inserted_id(cursor))
    store.audit(actor, "face.enrol", {"employee_id": employee_id, "templates": len(blobs)}, conn=conn)
    queue_enrolment(conn, employee_id, faces=True)
    return ids


MAX_SENT_FACES = 20  # what an enrolment (and the roster) carries at most: the newest


def queue_enrolment(conn: Connection, employee_id: int, *, faces: bool = False, fingers: bool = False) -> str | None:
    """Queue the employee's whole set of the template kinds that changed for the central, in the caller's
    transaction (docs/protocol.md, change 20): the central then holds them and every terminal gets them
    with the roster. Only for an employee of the roster: one this terminal alone knows stays here. An enrolment of
    the same employee still waiting in the outbox is replaced by this one, which then carries its kinds too (their
    current sets). The outbox row's id, or ``None`` when nothing was queued."""
    found = conn.execute("SELECT number, roster_version FROM employees WHERE id = ?", (employee_id,)).fetchone()
    if found is None or not found[1]:
        return None
    # an enrolment of this employee still waiting (not yet in a batch) is folded into this one: a re-enrolment
    # (delete, then new templates) goes up once, and the other doors never get the moment without faces
    for row_id, payload in conn.execute("SELECT id, payload FROM outbox WHERE kind = 'enrolment' AND batch_id IS NULL"
                                        " ORDER BY id").fetchall():
        waiting = json.loads(payload)
        if waiting.get("employee_number") == found[0]:
            faces, fingers = faces or "faces" in waiting, fingers or "fingers" in waiting
            conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
    body: dict[str, Any] = {"id": uuid7(), "employee_number": found[0], "enrolled_at": utc_now()}
    if faces:
        rows = conn.execute("SELECT descriptor FROM face_templates WHERE employee_id = ? ORDER BY id DESC LIMIT ?",
                            (employee_id, MAX_SENT_FACES)).fetchall()
        body["faces"] = [base64.b64encode(bytes(r[0])).decode("ascii") for r in reversed(rows)]
    if fingers:
        rows = conn.execute("SELECT finger, template FROM finger_templates WHERE employee_id = ? ORDER BY finger",
                            (employee_id,)).fetchall()
        body["fingers"] = [{"finger": int(r[0]), "template": base64.b64encode(bytes(r[1])).decode("ascii")} for r in rows]
    conn.execute("INSERT INTO outbox (kind, ref_id, payload, created_at) VALUES ('enrolment', ?, ?, ?)",
                 (body["id"], json.dumps(body, separators=(",", ":")), body["enrolled_at"]))
    log.info("templates of employee %s queued for the central", found[0])
    return str(body["id"])


def _saved_employee(store: Store, employee_id: int) -> Row:
    """The employee just written in this process (gone only if deleted meanwhile)."""
    employee = get_employee(store, employee_id)
    if employee is None:
        raise EmployeeNotFound(f"no employee with id {employee_id}")
    return employee


def get_employee(store: Store, employee_id: int) -> dict | None:
    return employee_from_row(store.query_one(f"SELECT {_PUBLIC_COLUMNS} FROM employees WHERE id = ?", (employee_id,)))


def find_by_number(store: Store, number: str) -> dict | None:
    return employee_from_row(store.query_one(f"SELECT {_PUBLIC_COLUMNS} FROM employees WHERE number = ?", (str(number),)))


def require_employee(store: Store, number: str) -> dict:
    employee = find_by_number(store, number)
    if employee is None:
        raise EmployeeNotFound(f"no employee {number}")
    return employee


def find_by_card(store: Store, card: str) -> dict | None:
    return employee_from_row(store.query_one(f"SELECT {_PUBLIC_COLUMNS} FROM employees WHERE card = ?", (card,)))


def pin_hash_of(store: Store, employee_id: int) -> str | None:
    row = store.query_one("SELECT pin_hash FROM employees WHERE id = ?", (employee_id,))
    return row["pin_hash"] if row else None


def employee_photo(store: Store, employee_id: int) -> bytes | None:
    row = store.query_one("SELECT photo FROM employees WHERE id = ?", (employee_id,))
    return row["photo"] if row else None


def list_employees(store: Store, search: str | None = None, limit: int = 10_000) -> list[dict]:
    sql = f"SELECT {_PUBLIC_COLUMNS} FROM employees"
    params: tuple = ()
    if search:
        sql += " WHERE number LIKE ? OR name LIKE ?"
        like = f"%{search}%"
        params = (like, like)
    sql += " ORDER BY number LIMIT ?"
    return [employee_from_row(r) for r in store.query(sql, (*params, limit))]


def delete_employee(store: Store, number: str, *, actor: str = "admin") -> dict:
    """Delete an employee and purge their face and finger templates; audit-logged.

    Returns the deleted employee with ``sensor_positions``: the fingerprint sensor slots
    the caller must clear on the sensor itself.
    """
    employee = require_employee(store, number)
    with store.transaction() as conn:
        positions = [r[0] for r in conn.execute(
            "SELECT sensor_position FROM finger_templates WHERE employee_id = ? AND sensor_position IS NOT NULL",
            (employee["id"],)).fetchall()]
        faces = conn.execute("DELETE FROM face_templates WHERE employee_id = ?", (employee["id"],)).rowcount
        fingers = conn.execute("DELETE FROM finger_templates WHERE employee_id = ?", (employee["id"],)).rowcount
        conn.execute("DELETE FROM employees WHERE id = ?", (employee["id"],))
        store.audit(actor, "employee.delete", {"employee_id": employee["id"], "number": employee["number"],
                                                "face_templates": faces, "finger_templates": fingers}, conn=conn)
    log.info("employee %s deleted (%s face, %s finger templates purged)", employee["number"], faces, fingers)
    employee["sensor_positions"] = positions
    return employee


# -- face templates ------------------------------------------------------------------------
def descriptor_bytes(descriptor: npt.ArrayLike) -> bytes:
    array = np.asarray(descriptor, dtype=np.float32).reshape(-1)
    if array.shape != (DESCRIPTOR_DIM,) or not np.all(np.isfinite(array)):
        raise EmployeeError("face", f"a face descriptor must be {DESCRIPTOR_DIM} finite numbers")
    return array.tobytes()


def add_face_templates(store: Store, employee_id: int, descriptors: Sequence[npt.ArrayLike], *, quality: Sequence[float] | None = None,
                       source: str = "", actor: str = "admin") -> list[int]:
    blobs = [descriptor_bytes(d) for d in descriptors]
    with store.transaction() as conn:
        if not conn.execute("SELECT 1 FROM employees WHERE id = ?", (employee_id,)).fetchone():
            raise EmployeeNotFound(f"no employee with id {employee_id}")
        return insert_face_rows(store, conn, employee_id, blobs, now=utc_now(), actor=actor, source=source,
                                quality=quality)


def face_templates(store: Store) -> list[tuple[int, np.ndarray]]:
    """All face descriptors as (employee_id, float32[128]) for active employees."""
    rows = store.query(
        "SELECT f.employee_id, f.descriptor FROM face_templates f JOIN employees e ON e.id = f.employee_id "
        "WHERE e.active = 1 ORDER BY f.id")
    return [(r["employee_id"], np.frombuffer(r["descriptor"], dtype=np.float32).copy()) for r in rows]


def delete_face_templates(store: Store, employee_id: int, *, actor: str = "admin") -> int:
    with store.transaction() as conn:
        count = conn.execute("DELETE FROM face_templates WHERE employee_id = ?", (employee_id,)).rowcount
        store.audit(actor, "face.delete", {"employee_id": employee_id, "templates": count}, conn=conn)
        if count:
            queue_enrolment(conn, employee_id, faces=True)
    return count


# -- finger templates ----------------------------------------------------------------------
def add_finger_template(store: Store, employee_id: int, finger: int, template: bytes, sensor_position: int | None,
                        *, actor: str = "admin", conn: Connection | None = None) -> int:
    if not isinstance(template, (bytes, bytearray)) or not template:
        raise EmployeeError("finger", "template must be non-empty bytes")

    def write(c: Connection) -> int:
        cursor = c.execute(
            "INSERT INTO finger_templates (employee_id, finger, sensor_position, template, created_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(employee_id, finger) DO UPDATE SET sensor_position = excluded.sensor_position, "
            "template = excluded.template, created_at = excluded.created_at",
            (employee_id, int(finger), sensor_position, bytes(template), utc_now()))
        store.audit(actor, "finger.enrol", {"employee_id": employee_id, "finger": int(finger),
                                             "sensor_position": sensor_position}, conn=c)
        queue_enrolment(c, employee_id, fingers=True)
        return inserted_id(cursor)

    if conn is not None:
        return write(conn)
    with store.transaction() as c:
        return write(c)


def finger_templates(store: Store, employee_id: int | None = None) -> list[dict]:
    sql = "SELECT id, employee_id, finger, sensor_position, template FROM finger_templates"
    params: tuple = ()
    if employee_id is not None:
        sql += " WHERE employee_id = ?"
        params = (employee_id,)
    return store.query(sql + " ORDER BY employee_id, finger", params)


def employee_by_sensor_position(store: Store, position: int) -> dict | None:
    row = store.query_one("SELECT employee_id FROM finger_templates WHERE sensor_position = ?", (position,))
    return get_employee(store, row["employee_id"]) if row else None
