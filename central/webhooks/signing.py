"""The body and signature of a delivery, and ``verify`` for receivers.

Body: compact JSON with sorted keys, UTF-8. Signature: ``sha256=`` and the hex HMAC-SHA256, keyed with the
hook's secret, of the send time in unix seconds, a dot, and the body. A receiver refuses a timestamp more than
``WINDOW_S`` away from its own clock, so a recorded request cannot be played again later.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

WINDOW_S = 300


def body(delivery_id: int, event: str, created_at: datetime, data: dict[str, Any]) -> bytes:
    document = {"id": delivery_id, "event": event, "created_at": utc_iso(created_at), "data": data}
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def utc_iso(at: datetime) -> str:
    """An aware time as UTC ISO 8601 with a ``Z``."""
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def headers(secret: str, delivery_id: int, event: str, timestamp: int, payload: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Seed-Event": event, "X-Seed-Delivery": str(delivery_id),
            "X-Seed-Timestamp": str(timestamp), "X-Seed-Signature": signature(secret, timestamp, payload)}


def verify(secret: str, payload: bytes, headers: Mapping[str, str], now: float, window: int = WINDOW_S) -> bool:
    """True when ``payload`` was signed with ``secret`` less than ``window`` seconds from ``now`` (unix seconds).

    ``headers`` is looked up case-insensitively, as HTTP header names are.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lower.get("x-seed-timestamp", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > window:
        return False
    return hmac.compare_digest(signature(secret, timestamp, payload), lower.get("x-seed-signature", ""))
