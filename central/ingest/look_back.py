"""What a follower of the punches table has handled inside its look-back window.

Followers read punches by arrival (``received_at``) and re-read a few seconds before their watermark, for a batch
whose transaction committed after a later one. They keep the ids they handled there with each arrival time, so
that a punch read twice is handled once and a re-stamped one (its arrival time moves) again.
"""
from __future__ import annotations

from datetime import datetime


class LookBack:
    """Handled punch ids and their arrival times, dropped a second at a time once they leave the window.

    Kept by the second of arrival so that sliding the window does not go through every id: at thousands of
    punches a second the window holds tens of thousands (benchmarks/attendance.py).
    """

    def __init__(self) -> None:
        self._at: dict[str, datetime] = {}
        self._by_second: dict[int, list[str]] = {}

    def __len__(self) -> int:
        return len(self._at)

    def handled(self, pid: str, received: datetime) -> bool:
        """Whether this punch, arrived at ``received``, was handled already."""
        return self._at.get(pid) == received

    def add(self, pid: str, received: datetime) -> None:
        self._at[pid] = received
        self._by_second.setdefault(int(received.timestamp()), []).append(pid)

    def count_between(self, since: datetime, until: datetime) -> int:
        """How many handled punches arrived in (since, until]."""
        return sum(1 for at in self._at.values() if since < at <= until)

    def trim(self, horizon: datetime) -> None:
        """Forget the punches that arrived at or before ``horizon``."""
        edge = int(horizon.timestamp())
        for second in [s for s in self._by_second if s <= edge]:
            kept = []
            for pid in self._by_second.pop(second):
                at = self._at.get(pid)
                if at is None or int(at.timestamp()) != second:
                    continue  # gone already, or moved by a re-stamp: listed under its new second
                if at <= horizon:
                    del self._at[pid]
                else:
                    kept.append(pid)
            if kept:
                self._by_second[second] = kept

    def clear(self) -> None:
        self._at.clear()
        self._by_second.clear()
