"""Reads of what arrived: punches, devices, events and refused messages, as plain rows.

Times come back in the contract's stamp form (``2026-03-02T08:01:02.123456Z``) so the CLI,
the API and exports print one format.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from central.ingest.models import Event, Punch, RejectedMessage
from central.people.models import Device
from contract import protocol as p

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

PUNCH_FIELDS = ("id", "site", "device_id", "employee_number", "direction", "method", "score", "punched_at",
                "time_source", "original_punched_at", "restamped_at", "boot_id", "monotonic_ns", "batch_id",
                "received_at", "time_flag")
_TIME_FIELDS = {"punched_at", "original_punched_at", "restamped_at", "received_at", "at", "first_seen_at",
                "last_seen_at"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An ISO date/time (naive = UTC) or a relative age like ``2h``, ``30m``, ``7d`` → an aware UTC datetime."""
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units and text[:-1].isdigit():
        return (now or datetime.now(timezone.utc)) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO date/time nor an age like 2h, 30m, 7d") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _stamped(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (p.utc_stamp(v) if k in _TIME_FIELDS and isinstance(v, datetime) else v) for k, v in row.items()}


def punch_queryset(since: datetime | None = None, until: datetime | None = None, device: str | None = None,
                   by: str = "punched_at", base: QuerySet[Punch] | None = None, *, employee: str | None = None,
                   site: str | None = None) -> QuerySet[Punch]:
    """Punches with ``by`` (punched_at or received_at) in [since, until), oldest first; ``base`` is the caller's scope."""
    if by not in ("punched_at", "received_at"):
        raise ValueError("by must be punched_at or received_at")
    rows = base if base is not None else Punch.objects.all()
    if since:
        rows = rows.filter(**{f"{by}__gte": since})
    if until:
        rows = rows.filter(**{f"{by}__lt": until})
    if device:
        rows = rows.filter(device_id=device)
    if employee:
        rows = rows.filter(employee_number=employee)
    if site:
        rows = rows.filter(site=site)
    return rows.order_by(by, "id")


def event_queryset(base: QuerySet[Event], *, since: datetime | None = None, device: str | None = None,
                   kind: str | None = None) -> QuerySet[Event]:
    """Events of the caller's scope (``base``) filtered by time, device and kind, oldest first."""
    rows = base
    if since:
        rows = rows.filter(at__gte=since)
    if device:
        rows = rows.filter(device_id=device)
    if kind:
        rows = rows.filter(kind=kind)
    return rows.order_by("at", "id")


def punches(since: datetime | None = None, until: datetime | None = None, device: str | None = None,
            by: str = "punched_at", limit: int = 1_000_000) -> list[dict[str, Any]]:
    return [_stamped(r) for r in punch_queryset(since, until, device, by).values(*PUNCH_FIELDS)[:limit]]


def punch_ids(device: str | None = None) -> list[str]:
    rows = Punch.objects.all() if device is None else Punch.objects.filter(device_id=device)
    return list(rows.values_list("id", flat=True))


class PunchCount(TypedDict):
    punch_count: int


def device_queryset() -> QuerySet[WithAnnotations[Device, PunchCount]]:
    counts = Punch.objects.filter(device_id=OuterRef("device_id")).values("device_id").annotate(n=Count("*")).values("n")
    return Device.objects.select_related("site").annotate(punch_count=Coalesce(Subquery(counts), 0)).order_by(
        "site__code", "device_id")


def devices() -> list[dict[str, Any]]:
    return [_stamped({"device_id": d.device_id, "site": d.site.code, "online": d.online, "status": d.status,
                      "first_seen_at": d.first_seen_at, "last_seen_at": d.last_seen_at,
                      "roster_version": d.roster_version, "punches": d.punch_count}) for d in device_queryset()]


def events(since: datetime | None = None, device: str | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
    return [_stamped(r) for r in event_queryset(Event.objects.all(), since=since, device=device).values(
        "id", "site", "device_id", "kind", "severity", "at", "payload", "received_at")[:limit]]


def rejected(limit: int = 1000) -> list[dict[str, Any]]:
    return [_stamped(r) for r in RejectedMessage.objects.order_by("-id").values(
        "id", "site", "device_id", "topic", "item_id", "reason", "received_at")[:limit]]
