"""The attendance rules kept between the follower's passes, and the mark that says they changed.

Reading the rules (shifts, rotations, department assignments, sites, calendars: seven statements) took 2.5 ms of a
follower's pass on SQLite and 4 ms on PostgreSQL, and the touched employees' attendance profiles and own
assignments 2 ms more (benchmarks/attendance.py), for what changes a few times a month. So the follower keeps
them (the employees' as it meets them, ``Rules.people``), and every saved or deleted row of those tables, in
whatever process (the web console runs apart from the receiver), writes a new token under RULES_VERSION_KEY in
the same transaction. A pass reads the token first and the rules again when it differs; a queued recompute
checks it once more before it runs, since the edit that queued it committed its token with it. Whatever changes
those tables without Django's signals (SQL by hand) is seen after REFRESH_S at most. Finality (the terminals'
reports) is worked out at every pass.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from datetime import datetime

from central.attendance.inputs import Rules, finality_at, read_rules
from central.ingest.models import State

log = logging.getLogger(__name__)
RULES_VERSION_KEY = "attendance.rules_version"
REFRESH_S = 300.0


def mark_rules_changed(**_signal: object) -> None:
    """A row the rules are read from was saved or deleted (a signal receiver): a new token for the followers."""
    State.objects.update_or_create(key=RULES_VERSION_KEY, defaults={"value": uuid.uuid4().hex})


def read_version() -> str | None:
    return State.objects.filter(key=RULES_VERSION_KEY).values_list("value", flat=True).first()


class RulesCache:
    """The rules as last read, with the token they were read under."""

    def __init__(self) -> None:
        self._rules: Rules | None = None
        self._version: str | None = None
        self._read_at = 0.0  # time.monotonic() of the last read

    def current(self, now: datetime, version: str | None) -> Rules:
        """The rules under ``version`` (read before this call, so an edit committed meanwhile is read again at the
        next call) with finality at ``now``."""
        if self._rules is None or version != self._version or time.monotonic() - self._read_at >= REFRESH_S:
            if self._rules is not None:
                log.info("attendance rules read again")
            self._rules, self._version, self._read_at = read_rules(), version, time.monotonic()
        return replace(self._rules, finality=finality_at(self._rules, now))
