"""Read what arrived: punches, devices, events and refused messages."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Optional

from central.db import CentralDB
from contract import protocol as p

PUNCH_FIELDS = ("id", "site", "device_id", "employee_number", "direction", "method", "score", "punched_at",
                "time_source", "original_punched_at", "restamped_at", "boot_id", "monotonic_ns", "batch_id",
                "received_at")


def parse_since(text: str) -> str:
    """An ISO date/time (naive = UTC) or a relative age like ``2h``, ``30m``, ``7d`` → stored-stamp form."""
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units and text[:-1].isdigit():
        return p.utc_stamp(datetime.now(timezone.utc) - timedelta(seconds=int(text[:-1]) * units[text[-1]]))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO date/time nor an age like 2h, 30m, 7d") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return p.utc_stamp(moment)


def punches(db: CentralDB, since: Optional[str] = None, until: Optional[str] = None, device: Optional[str] = None,
            by: str = "punched_at", limit: int = 1_000_000) -> list[dict]:
    """Punches with ``by`` (punched_at or received_at) in [since, until), oldest first."""
    if by not in ("punched_at", "received_at"):
        raise ValueError("by must be punched_at or received_at")
    where, params = [], []
    if since:
        where.append(f"{by} >= ?")
        params.append(since)
    if until:
        where.append(f"{by} < ?")
        params.append(until)
    if device:
        where.append("device_id = ?")
        params.append(device)
    sql = f"SELECT {', '.join(PUNCH_FIELDS)} FROM punches"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return db.query(sql + f" ORDER BY {by}, id LIMIT ?", (*params, limit))


def devices(db: CentralDB) -> list[dict]:
    rows = db.query("SELECT d.device_id, d.site, d.online, d.status, d.first_seen_at, d.last_seen_at, d.roster_version, "
                    "(SELECT count(*) FROM punches x WHERE x.device_id = d.device_id) AS punches "
                    "FROM devices d ORDER BY d.site, d.device_id")
    for row in rows:
        row["online"] = bool(row["online"])
        row["status"] = json.loads(row["status"] or "{}")
    return rows


def events(db: CentralDB, since: Optional[str] = None, device: Optional[str] = None, limit: int = 10_000) -> list[dict]:
    where, params = [], []
    if since:
        where.append("at >= ?")
        params.append(since)
    if device:
        where.append("device_id = ?")
        params.append(device)
    sql = "SELECT id, site, device_id, kind, severity, at, payload, received_at FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = db.query(sql + " ORDER BY at, id LIMIT ?", (*params, limit))
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return rows


def rejected(db: CentralDB, limit: int = 1000) -> list[dict]:
    return db.query("SELECT id, site, device_id, topic, item_id, reason, received_at FROM rejected ORDER BY id DESC LIMIT ?",
                    (limit,))
