"""Upgrade a central database written before the Django models (schema version 1 of ``central/db.py``).

That schema had the tables ``punches``, ``events``, ``devices``, ``rejected``, ``employees``,
``roster_log``, ``commands`` and ``meta`` with times as text (``2026-03-02T08:01:02.123456Z``).
When they are present, every row is copied into the model tables in chunks (times parsed
to UTC datetimes, sites and departments created from the names the rows carry), the roster
version and the last published version are kept, so terminals see no change, and the old
tables are renamed ``legacy_v1_*`` rather than dropped: nothing is lost, and an operator may
drop them once satisfied. On a new database this migration does nothing.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from django.db import migrations

LEGACY_TABLES = ("punches", "events", "devices", "rejected", "employees", "roster_log", "commands", "meta")
CHUNK = 5000


def _when(text: Any) -> datetime | None:
    if text is None or text == "":
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(timezone.utc)


def _json(text: Any, default: Any) -> Any:
    if text is None or text == "":
        return default
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default


def _rows(cursor: Any, table: str, columns: tuple[str, ...], key: str) -> Any:
    """Every row of a legacy table in key order, a chunk at a time (keyset pagination)."""
    last: Any = None
    cols = ", ".join(columns)
    while True:
        if last is None:
            cursor.execute(f"SELECT {cols} FROM {table} ORDER BY {key} LIMIT {CHUNK}")
        else:
            cursor.execute(f"SELECT {cols} FROM {table} WHERE {key} > %s ORDER BY {key} LIMIT {CHUNK}", [last])
        chunk = cursor.fetchall()
        if not chunk:
            return
        for row in chunk:
            yield dict(zip(columns, row))
        last = chunk[-1][columns.index(key)]


def upgrade(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    tables = set(connection.introspection.table_names())
    if not {"punches", "meta", "roster_log"} <= tables:
        return
    Punch = apps.get_model("ingest", "Punch")
    Event = apps.get_model("ingest", "Event")
    RejectedMessage = apps.get_model("ingest", "RejectedMessage")
    Command = apps.get_model("ingest", "Command")
    State = apps.get_model("ingest", "State")
    Site = apps.get_model("people", "Site")
    Department = apps.get_model("people", "Department")
    Employee = apps.get_model("people", "Employee")
    Device = apps.get_model("people", "Device")
    RosterChange = apps.get_model("people", "RosterChange")
    sites: dict[str, Any] = {}

    def site(code: str) -> Any:
        if code not in sites:
            sites[code], _ = Site.objects.get_or_create(code=code, defaults={"name": code})
        return sites[code]

    with connection.cursor() as cur:
        batch: list[Any] = []
        columns = ("id", "site", "device_id", "employee_number", "direction", "method", "score", "punched_at",
                   "boot_id", "monotonic_ns", "time_source", "original_punched_at", "restamped_at", "batch_id",
                   "received_at")
        for r in _rows(cur, "punches", columns, "id"):
            batch.append(Punch(**{**r, "punched_at": _when(r["punched_at"]), "received_at": _when(r["received_at"]),
                                  "original_punched_at": _when(r["original_punched_at"]),
                                  "restamped_at": _when(r["restamped_at"])}))
            if len(batch) >= CHUNK:
                Punch.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        Punch.objects.bulk_create(batch, ignore_conflicts=True)

        batch = []
        for r in _rows(cur, "events", ("id", "site", "device_id", "kind", "severity", "at", "payload", "received_at"),
                       "id"):
            batch.append(Event(**{**r, "at": _when(r["at"]), "received_at": _when(r["received_at"]),
                                  "payload": _json(r["payload"], {})}))
            if len(batch) >= CHUNK:
                Event.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        Event.objects.bulk_create(batch, ignore_conflicts=True)

        batch = []
        for r in _rows(cur, "rejected", ("id", "site", "device_id", "topic", "item_id", "reason", "payload",
                                           "received_at"), "id"):
            batch.append(RejectedMessage(site=r["site"], device_id=r["device_id"], topic=r["topic"],
                                         item_id=r["item_id"], reason=r["reason"], payload=r["payload"],
                                         received_at=_when(r["received_at"])))
        RejectedMessage.objects.bulk_create(batch, batch_size=CHUNK)

        device_sites = set()
        for r in _rows(cur, "devices", ("device_id", "site", "online", "status", "first_seen_at", "last_seen_at",
                                          "roster_version"), "device_id"):
            device_sites.add(r["site"])
            Device.objects.update_or_create(device_id=r["device_id"], defaults={
                "site": site(r["site"]), "online": bool(r["online"]), "status": _json(r["status"], {}),
                "first_seen_at": _when(r["first_seen_at"]), "last_seen_at": _when(r["last_seen_at"]),
                "roster_version": int(r["roster_version"] or 0)})
        home = site(sorted(device_sites)[0] if len(device_sites) == 1 else "default")
        departments: dict[str, Any] = {}
        for r in _rows(cur, "employees", ("number", "name", "department", "card", "pin_hash", "role", "verify_mode",
                                            "allowed_devices", "active", "faces", "fingers", "version", "updated_at"),
                       "number"):
            name = (r["department"] or "").strip()
            if name and name not in departments:
                departments[name], _ = Department.objects.get_or_create(site=home, name=name)
            Employee.objects.update_or_create(number=r["number"], defaults={
                "name": r["name"], "site": home, "department": departments.get(name), "card": r["card"] or None,
                "pin_hash": r["pin_hash"], "role": r["role"], "verify_mode": r["verify_mode"],
                "allowed_devices": _json(r["allowed_devices"], []), "active": bool(r["active"]),
                "faces": _json(r["faces"], []), "fingers": _json(r["fingers"], []), "version": int(r["version"])})

        batch = []
        for r in _rows(cur, "roster_log", ("version", "number", "op", "at"), "version"):
            batch.append(RosterChange(version=int(r["version"]), number=r["number"], op=r["op"], at=_when(r["at"])))
        RosterChange.objects.bulk_create(batch, batch_size=CHUNK, ignore_conflicts=True)

        batch = []
        for r in _rows(cur, "commands", ("id", "site", "device_id", "cmd", "args", "issued_at", "ok", "reason",
                                           "result", "result_at"), "id"):
            batch.append(Command(id=r["id"], site=r["site"], device_id=r["device_id"], cmd=r["cmd"],
                                 args=_json(r["args"], {}), issued_at=_when(r["issued_at"]),
                                 ok=None if r["ok"] is None else bool(r["ok"]), reason=r["reason"],
                                 result=_json(r["result"], None), result_at=_when(r["result_at"])))
        Command.objects.bulk_create(batch, batch_size=CHUNK, ignore_conflicts=True)

        cur.execute("SELECT key, value FROM meta WHERE key = %s", ["roster_published"])
        for key, value in cur.fetchall():
            State.objects.update_or_create(key=key, defaults={"value": value})

    for table in LEGACY_TABLES:
        if table in tables:
            schema_editor.execute(f"ALTER TABLE {table} RENAME TO legacy_v1_{table}")


class Migration(migrations.Migration):
    atomic = True
    dependencies = [("ingest", "0001_initial"), ("people", "0001_initial")]
    operations = [migrations.RunPython(upgrade, migrations.RunPython.noop, elidable=False)]
