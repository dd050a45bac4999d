"""Reads of the webhooks app: the hooks and deliveries a user may see, and the deliveries due to send."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, QuerySet

from central.accounts import scope
from central.webhooks.models import Delivery, Hook

if TYPE_CHECKING:
    from central.accounts.models import User


def hooks(user: User) -> QuerySet[Hook]:
    """Hooks not deleted that ``user`` manages: all for a superuser, those of their sites for an HR admin."""
    rows = Hook.objects.filter(deleted_at__isnull=True).select_related("site")
    if user.is_superuser:
        return rows
    if not scope.can_manage(user):
        return rows.none()
    return rows.filter(site__in=scope.sites(user))


def deliveries(user: User, *, hook: int | None = None, event: str = "", state: str = "") -> QuerySet[Delivery]:
    """The delivery log ``user`` may read (deleted hooks' too), newest first, with the filters given."""
    rows = Delivery.objects.select_related("hook", "hook__site").order_by("-pk")
    if not user.is_superuser:
        rows = rows.filter(hook__site__in=scope.sites(user)) if scope.can_manage(user) else rows.none()
    if hook is not None:
        rows = rows.filter(hook_id=hook)
    if event:
        rows = rows.filter(event=event)
    if state:
        rows = rows.filter(state=state)
    return rows


def log_hooks(user: User) -> QuerySet[Hook]:
    """The hooks a user may filter the log by (deleted ones too)."""
    rows = Hook.objects.select_related("site")
    if user.is_superuser:
        return rows
    return rows.filter(site__in=scope.sites(user)) if scope.can_manage(user) else rows.none()


def due(now: datetime, limit: int = 50) -> list[int]:
    """Ids of deliveries to send now, oldest first: pending, their time come, their hook active, and no older
    undelivered delivery of the same hook and key (that one goes first; a failed one no longer holds others)."""
    older = Delivery.objects.filter(hook_id=OuterRef("hook_id"), key=OuterRef("key"), pk__lt=OuterRef("pk"),
                                    state__in=(Delivery.PENDING, Delivery.SENDING))
    rows = (Delivery.objects.filter(state=Delivery.PENDING, next_attempt_at__lte=now, hook__active=True,
                                    hook__deleted_at__isnull=True)
            .exclude(Exists(older)).order_by("pk").values_list("pk", flat=True)[:limit])
    return list(rows)
