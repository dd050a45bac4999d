"""Query parameters and parsing shared by the routers."""
from __future__ import annotations

from datetime import datetime

from ninja import Query

from central.api.errors import ApiError
from central.ingest.selectors import parse_since
from contract import protocol as p

MAX_LIMIT = 1000
CODE = p.DEVICE_RE  # site codes and device ids
NUMBER = p.NUMBER_RE
TEXT = r"^[^\x00-\x1f]*$"  # free text filters: anything but control characters (PostgreSQL refuses NUL)
AGE = "ISO 8601（无时区按 UTC）或时长如 2h、7d / ISO 8601 (naive = UTC) or an age like 2h, 7d"


def limit_param() -> int:
    return Query(100, ge=1, le=MAX_LIMIT, description=f"每页条数 1–{MAX_LIMIT}，默认 100 / rows per page, 1 to {MAX_LIMIT}, default 100")


def cursor_param() -> str | None:
    return Query(None, max_length=400, description="上一页返回的 next_cursor / the next_cursor of the previous page")


def moment(value: str | None, name: str) -> datetime | None:
    """An ISO date/time (naive = UTC, ``Z`` or an offset) or an age like ``2h``; a 400 naming ``name`` otherwise."""
    if value is None or value == "":
        return None
    if len(value) > 40 or "\x00" in value:
        raise ApiError(400, f"{name}: 时间格式无效 / not an ISO date/time", name)
    try:
        return parse_since(value)
    except (ValueError, OverflowError):
        raise ApiError(400, f"{name}: 时间格式无效，应为 ISO 8601，如 2026-03-02T08:00:00Z / "
                            f"not an ISO date/time like 2026-03-02T08:00:00Z", name) from None
