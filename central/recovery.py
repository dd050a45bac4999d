"""What follows a restore: the punches a backup does not hold are asked back from the terminals.

A terminal keeps every punch it makes (``punches`` on its own store) long after the central acknowledged it. A
database restored from a backup lacks what the central acknowledged after that backup; the backup still knows, for
each terminal, the last time it reported an empty outbox (``Device.drained_at``): every punch the terminal stored
before then had been acknowledged, so it is in the backup. Each terminal is asked (command ``resync`` with
``since``, docs/protocol.md) to send again every punch it stored from then on, less a margin for its clock; the
central stores punches by id, so one it already has changes nothing. A terminal that never reported an empty
outbox is asked for everything it has.

The receiver (:meth:`central.ingest.service.Receiver`) calls :func:`ask_terminals` on its roster pass: a terminal
offline now is asked when it is back, and asked again every :data:`RETRY_S` until one command succeeds.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from central.accounts import audit
from central.ingest.models import PunchRecovery
from central.people import roster
from central.people.models import Device
from contract import protocol as p

log = logging.getLogger(__name__)

CLOCK_MARGIN = timedelta(hours=1)  # a terminal's clock may be behind the central's; more punches sent is harmless
RETRY_S = 600
EVERYTHING = "2000-01-01T00:00:00.000000Z"  # ``since`` for a terminal never drained: before any punch it keeps
SYSTEM_ACTOR = "system:restore"


@dataclass(frozen=True)
class Asked:
    device_id: str
    since: datetime | None


def after_restore(backup_name: str, made_at: str, actor: str) -> list[Asked]:
    """In the restored database: a new roster history (every terminal takes the full roster) and each terminal
    asked for its punches since the backup could have missed them; audited."""
    now = timezone.now()
    reason = f"restored from backup {backup_name} ({made_at})"
    with transaction.atomic():
        history = roster.rotate_history(reason)
        asked = []
        for device in Device.objects.select_related("site").order_by("device_id"):
            since = device.drained_at - CLOCK_MARGIN if device.drained_at else None
            PunchRecovery.objects.create(device_id=device.device_id, site=device.site.code, since=since,
                                         reason=reason[:300], created_at=now)
            asked.append(Asked(device.device_id, since))
        audit.record(actor, "backup.restored", backup_name,
                     {"made_at": made_at, "roster_history": history, "terminals_asked": len(asked)})
    return asked


def ask_terminals(now: datetime | None = None) -> int:
    """Send ``resync`` with ``since`` to the online terminals still owing punches; close those that answered.
    Returns the commands queued."""
    from central.ingest.commands import request_command  # it imports the receiver, which imports this

    now = now or timezone.now()
    sent = 0
    for rec in PunchRecovery.objects.filter(done_at__isnull=True).select_related("command"):
        command = rec.command
        if command is not None and command.ok:
            rec.done_at = command.result_at or now
            rec.save(update_fields=["done_at"])
            result = command.result if isinstance(command.result, dict) else {}
            if "punches_requeued" in result:
                log.info("terminal %s queued %s punches and %s events again", rec.device_id,
                         result["punches_requeued"], result.get("events_requeued"))
            else:  # a terminal older than ``since`` took the roster only
                log.warning("terminal %s cannot send its punches again (its software is older): restore them from "
                            "it by hand", rec.device_id)
            continue
        waiting = command is not None and command.ok is None
        if command is not None and (now - command.issued_at).total_seconds() < (RETRY_S if waiting else 60):
            continue  # answered soon after being sent; a refusal is tried again after a minute
        if not Device.objects.filter(device_id=rec.device_id, online=True).exists():
            continue
        args = {"since": p.utc_stamp(rec.since) if rec.since else EVERYTHING}
        rec.command = request_command(rec.site, rec.device_id, "resync", args, actor=SYSTEM_ACTOR)
        rec.attempts += 1
        rec.save(update_fields=["command", "attempts"])
        sent += 1
    return sent


def any_open() -> bool:
    """Whether a terminal is still asked for punches (the receiver stops looking once none is)."""
    return PunchRecovery.objects.filter(done_at__isnull=True).exists()


def open_recoveries() -> list[PunchRecovery]:
    """Terminals still asked for punches, for the console and the command line."""
    return list(PunchRecovery.objects.filter(done_at__isnull=True).order_by("device_id"))
