"""Opaque cursors for keyset pagination, stable while new rows arrive.

A cursor is URL-safe base64 of the JSON list of the last row's sort key: ``[stamp, id]`` for
punches (``punched_at``) and events (``at``), ``[number]`` for employees. The next page holds
the rows strictly after that key in the same order, so a page never repeats or skips a row
that existed when the previous page was read, whatever was inserted meanwhile.
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from central.api.errors import ApiError
from contract import protocol as p
from contract.stamps import is_stamp

MAX_CURSOR_CHARS = 400
BAD_CURSOR = "游标无效 / invalid cursor: pass back next_cursor exactly as a previous page returned it"


def encode(*key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(text: str, size: int) -> list[str]:
    if len(text) > MAX_CURSOR_CHARS:
        raise ApiError(400, BAD_CURSOR, "cursor")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        key = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, BAD_CURSOR, "cursor") from None
    if not isinstance(key, list) or len(key) != size or not all(isinstance(k, str) and 0 < len(k) <= 100 and "\x00" not in k for k in key):
        raise ApiError(400, BAD_CURSOR, "cursor")
    return key


def after_time(rows: QuerySet, cursor: str | None, time_field: str) -> QuerySet:
    """Rows ordered by (``time_field``, id), after the cursor's key when there is one."""
    rows = rows.order_by(time_field, "id")
    if not cursor:
        return rows
    stamp, last_id = _decode(cursor, 2)
    if not is_stamp(stamp):
        raise ApiError(400, BAD_CURSOR, "cursor")
    moment = p.parse_stamp(stamp)
    return rows.filter(Q(**{f"{time_field}__gt": moment}) | Q(**{time_field: moment, "id__gt": last_id}))


def after_key(rows: QuerySet, cursor: str | None, field: str) -> QuerySet:
    """Rows ordered by one unique text ``field``, after the cursor's key when there is one."""
    rows = rows.order_by(field)
    if not cursor:
        return rows
    (last,) = _decode(cursor, 1)
    return rows.filter(**{f"{field}__gt": last})


def page(rows: QuerySet, limit: int, key) -> tuple[list[Any], str | None]:
    """Up to ``limit`` rows and the cursor of the next page (None on the last page).

    ``key(row)`` gives the row's sort key as the cursor stores it.
    """
    items = list(rows[:limit + 1])
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, encode(*key(items[-1]))


def stamp(moment: datetime | None) -> str | None:
    return p.utc_stamp(moment) if moment is not None else None
