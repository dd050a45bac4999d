"""``punch.stored``: newly stored punches become facts, read by arrival as the attendance follower reads them.

Following the punches table keeps the receiver's ingest path free of any webhook work: a punch is acked
as soon as it is stored, whatever the hooks or their receivers do. The follower re-reads a short
look-back window (a transaction that committed late) and relies on the fact id (the punch id) so that
a punch read twice, or re-stamped (its arrival time moves), is delivered once per hook.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from central.ingest.look_back import LookBack
from central.ingest.models import Punch
from central.people.models import Site
from central.webhooks.events import punch_fact
from central.webhooks.models import Mark
from central.webhooks.services import active_hooks, emit_many

MARK_KEY = "punch.stored"
LOOK_BACK_S = 10  # a batch that committed this much after a later one is still seen
MAX_BACKLOG = timedelta(days=1)  # after a long stop, at most the last day's punches are told
COLUMNS = ("id", "site", "device_id", "employee_number", "direction", "method", "punched_at", "time_source",
           "time_flag", "received_at")


class PunchFollower:
    def __init__(self) -> None:
        self._recent = LookBack()  # punch ids emitted inside the look-back window
        self._sites: dict[str, int] = {}

    def tick(self, now: datetime) -> int:
        """Emit the punches stored since the last pass; returns how many punches were new."""
        hooks = [h for h in active_hooks() if "punch.stored" in h.events]
        if not hooks:
            self._recent.clear()
            return 0
        mark = Mark.objects.filter(key=MARK_KEY).values_list("at", flat=True).first()
        since = min(h.created_at for h in hooks)
        if mark is not None:
            since = max(since, mark - timedelta(seconds=LOOK_BACK_S))
        since = max(since, now - MAX_BACKLOG)
        rows = list(Punch.objects.filter(received_at__gt=since).order_by("received_at", "id").values(*COLUMNS))
        fresh = [r for r in rows if not self._recent.handled(r["id"], r["received_at"])]
        if not fresh:
            return 0
        self._site_ids({r["site"] for r in fresh})
        newest = max(r["received_at"] for r in fresh)
        with transaction.atomic():
            emit_many(punch_fact(r, self._sites.get(r["site"])) for r in fresh)
            if mark is None or newest > mark:
                Mark.objects.update_or_create(key=MARK_KEY, defaults={"at": newest})
        horizon = max(mark or newest, newest) - timedelta(seconds=LOOK_BACK_S)
        self._recent.trim(horizon)
        for r in fresh:
            if r["received_at"] > horizon:
                self._recent.add(r["id"], r["received_at"])
        return len(fresh)

    def _site_ids(self, codes: set[str]) -> None:
        missing = codes - set(self._sites)
        if missing:
            self._sites.update(Site.objects.filter(code__in=missing).values_list("code", "pk"))
