"""The sync agent's status line in the terminal database, for the kiosk's status screen.

The agent keeps the setting ``sync.status`` (JSON) up to date::

    {"connected": bool, "last_ack_at": str|None, "queue_depth": int, "clock_offset_s": float|None,
     "time_source": "ntp"|"unsynced", "last_ntp_at": str|None, "ntp_server": str|None,
     "broker": "host:port", "roster_version": int, "last_error": str|None, "updated_at": str, "pid": int}

Times are UTC (``2026-03-02T08:01:02.000000Z``). ``read_status`` adds ``stale: true`` when
the agent has not written for a while (it is not running).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from terminal.hardware.clock import parse_utc
from terminal.store.database import Store

STATUS_KEY = "sync.status"
DEFAULTS: dict[str, Any] = {"connected": False, "last_ack_at": None, "queue_depth": None, "clock_offset_s": None,
                            "time_source": "unsynced", "last_ntp_at": None, "ntp_server": None, "broker": None,
                            "roster_version": 0, "last_error": None, "updated_at": None, "pid": None}


def read_status(store: Store, stale_after_s: float = 90.0) -> dict[str, Any]:
    """The agent's last status with every key present; ``stale`` when older than ``stale_after_s``."""
    value = store.get_setting(STATUS_KEY, {}) or {}
    status = {**DEFAULTS, **(value if isinstance(value, dict) else {})}
    stale = True
    if status.get("updated_at"):
        try:
            age = (datetime.now(timezone.utc) - parse_utc(status["updated_at"])).total_seconds()
            stale = age > stale_after_s
        except ValueError:
            pass
    status["stale"] = stale
    if stale:
        status["connected"] = False
    return status


def clock_trusted(store: Store, max_age_s: float = 3600.0, max_offset_s: float = 2.0) -> bool:
    """True when the agent's last NTP check is recent and within bound (a ``SystemClock`` sync hint)."""
    status = read_status(store, stale_after_s=max_age_s)
    if status.get("time_source") != "ntp" or not status.get("last_ntp_at"):
        return False
    try:
        age = (datetime.now(timezone.utc) - parse_utc(status["last_ntp_at"])).total_seconds()
    except ValueError:
        return False
    offset = status.get("clock_offset_s")
    return age <= max_age_s and isinstance(offset, (int, float)) and abs(offset) <= max_offset_s
