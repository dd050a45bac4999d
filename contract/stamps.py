"""The one UTC stamp format every stored and transmitted time uses.

``2026-03-02T08:01:02.123456Z``: ISO 8601, always UTC, always six fractional digits and a
``Z``. Stamps of this form sort as text in time order, which the terminal's tables and the
central's queries rely on. The terminal (:mod:`terminal.hardware.clock`,
:mod:`terminal.store.database`), the sync agent and the central all write stamps through
:func:`utc_stamp` and read them with :func:`parse_stamp`.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime

STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
STAMP_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
_STAMP = re.compile(STAMP_RE)


def utc_stamp(moment: datetime | None = None) -> str:
    """``moment`` (now when None) as a stamp; a naive datetime is taken as local time, like ``astimezone``."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def parse_stamp(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text (a stamp, or any ISO form with an offset or ``Z``).

    Lenient on purpose: old rows and other ISO writers still read. Use :func:`is_stamp` to
    require the exact form; ``ValueError`` when the text is not a time at all.
    """
    return datetime.fromisoformat(text).astimezone(UTC)


def is_stamp(text: object) -> bool:
    """True when ``text`` has exactly the stamp form and is a real time (no 25:00, no 30 February)."""
    if not isinstance(text, str) or not _STAMP.match(text):
        return False
    try:
        parse_stamp(text)
    except ValueError:
        return False
    return True
