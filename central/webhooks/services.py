"""Writes of the webhooks app: emitting events as delivery rows, managing hooks, retrying by hand.

``emit`` is what other parts of the product call to tell registered systems about a fact. It only
inserts delivery rows, in one bulk statement inside the caller's transaction, and does nothing at
all (not even a query, within the cache's few seconds) when no active hook is registered. The
``WebhookThread`` (``central.webhooks.worker``) sends them.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone as dj_timezone

from central.accounts import audit, scope
from central.people.models import Site
from central.webhooks.models import EVENT_NAMES, Delivery, Hook

if TYPE_CHECKING:
    from central.accounts.models import User

log = logging.getLogger(__name__)

HOOKS_CACHE_S = 5.0


class WebhookError(ValueError):
    """A hook the product refuses, with a message for a person (Chinese first) and the field it concerns."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


# -- emitting ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fact:
    """One thing to tell: ``key`` orders deliveries (per hook and key), ``event_id`` names the fact (one delivery
    per hook and fact, however often it is emitted), ``site`` (a site's pk) reaches hooks of that site."""

    event: str
    data: dict[str, Any]
    key: str
    event_id: str
    site: int | None = None


@dataclass(frozen=True)
class ActiveHook:
    id: int
    events: frozenset[str]
    site_id: int | None
    created_at: datetime


_cache: tuple[float, list[ActiveHook]] | None = None
_cache_lock = threading.Lock()


def active_hooks() -> list[ActiveHook]:
    """Active hooks, read at most once every HOOKS_CACHE_S seconds per process."""
    global _cache
    cached = _cache
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    with _cache_lock:
        hooks = [ActiveHook(pk, frozenset(events or ()), site_id, created)
                 for pk, events, site_id, created in Hook.objects.filter(active=True, deleted_at__isnull=True)
                 .values_list("pk", "events", "site_id", "created_at")]
        _cache = (time.monotonic() + HOOKS_CACHE_S, hooks)
    return hooks


def forget_hooks() -> None:
    """Read the hooks again at the next emit (after a change to a hook)."""
    global _cache
    _cache = None


def wanted(event: str) -> bool:
    """Whether any active hook takes ``event`` (lets a caller skip building payloads nobody takes)."""
    return any(event in hook.events for hook in active_hooks())


def emit(event: str, payload: dict[str, Any], *, key: str, event_id: str, site: int | None = None) -> int:
    """One fact for every active hook that takes ``event`` (and, with a site, every hook of that site or of none).

    Returns how many hooks it was offered to; a fact already emitted for a hook adds nothing for it (the
    database ignores the row).
    """
    return emit_many([Fact(event, payload, key, event_id, site)])


def emit_many(facts: Iterable[Fact]) -> int:
    hooks = active_hooks()
    if not hooks:
        return 0
    now = dj_timezone.now()
    rows = [Delivery(hook_id=hook.id, event=fact.event, event_id=fact.event_id[:255], key=fact.key[:64],
                     data=fact.data, next_attempt_at=now, created_at=now)
            for fact in facts for hook in hooks
            if fact.event in hook.events and (hook.site_id is None or hook.site_id == fact.site)]
    if not rows:
        return 0
    Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


# -- hooks ------------------------------------------------------------------------------------------
def check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise WebhookError("地址必须以 http:// 或 https:// 开头 / The URL must start with http:// or https://", "url")
    if not parts.hostname:
        raise WebhookError("地址缺少主机名 / The URL has no host name", "url")
    return url


def _check(user: User, values: dict[str, Any]) -> dict[str, Any]:
    if not scope.can_manage(user):
        raise scope.ScopeDenied("只有超级管理员和人事管理员可以管理网络钩子 / Only superusers and HR admins manage webhooks")
    name = str(values.get("name") or "").strip()
    if not name:
        raise WebhookError("请填写名称 / A name is required", "name")
    events = sorted(set(values.get("events") or ()))
    if not events:
        raise WebhookError("请至少选择一个事件 / Choose at least one event", "events")
    unknown = [e for e in events if e not in EVENT_NAMES]
    if unknown:
        raise WebhookError(f"未知事件 / Unknown event: {', '.join(unknown)}", "events")
    site: Site | None = values.get("site")
    if site is None and not user.is_superuser:
        raise WebhookError("人事管理员的钩子必须选择一个站点 / An HR admin's hook names one of their sites", "site")
    if site is not None and not scope.sites(user).filter(pk=site.pk).exists():
        raise WebhookError("您不能为这个站点添加钩子 / You cannot add hooks for this site", "site")
    return {"name": name[:100], "url": check_url(str(values.get("url") or ""))[:500], "events": events, "site": site,
            "active": bool(values.get("active", True))}


def _detail(hook: Hook) -> dict[str, Any]:
    return {"id": hook.pk, "name": hook.name, "url": hook.url, "events": hook.events,
            "site": hook.site.code if hook.site else None, "active": hook.active}


def create_hook(user: User, values: dict[str, Any]) -> tuple[Hook, str]:
    """A new hook and its secret in clear (to show once)."""
    clean = _check(user, values)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        hook = Hook.objects.create(**clean, secret=secret, created_by=user.username)
        audit.record(user.username, "webhook.create", hook.name, _detail(hook))
    forget_hooks()
    log.info("webhook %s created by %s", hook.pk, user.username)
    return hook, secret


def update_hook(user: User, hook: Hook, values: dict[str, Any]) -> Hook:
    _require_hook(user, hook)
    clean = _check(user, values)
    with transaction.atomic():
        before = _detail(hook)
        for name, value in clean.items():
            setattr(hook, name, value)
        hook.save()
        audit.record(user.username, "webhook.update", hook.name, {"before": before, "after": _detail(hook)})
    forget_hooks()
    return hook


def rotate_secret(user: User, hook: Hook) -> str:
    """A new secret for ``hook`` (in clear, to show once); deliveries sent from now on carry it."""
    _require_hook(user, hook)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        Hook.objects.filter(pk=hook.pk).update(secret=secret, updated_at=dj_timezone.now())
        audit.record(user.username, "webhook.rotate_secret", hook.name, {"id": hook.pk})
    hook.secret = secret
    return secret


def delete_hook(user: User, hook: Hook) -> None:
    """The hook stops (its secret is erased and what was still to send is given up); its delivery log stays."""
    _require_hook(user, hook)
    now = dj_timezone.now()
    with transaction.atomic():
        Hook.objects.filter(pk=hook.pk).update(deleted_at=now, active=False, secret="", updated_at=now)
        given_up = Delivery.objects.filter(hook=hook, state__in=(Delivery.PENDING, Delivery.SENDING)).update(
            state=Delivery.FAILED, claimed_at=None, last_error="钩子已删除 / The hook was deleted")
        audit.record(user.username, "webhook.delete", hook.name, {**_detail(hook), "given_up": given_up})
    forget_hooks()


def retry_delivery(user: User, delivery: Delivery) -> None:
    """A failed delivery is tried again now, with a fresh series of retries."""
    _require_hook(user, delivery.hook)
    if delivery.state != Delivery.FAILED:
        raise WebhookError("只能重试已放弃的投递 / Only a failed delivery can be retried", "state")
    if delivery.hook.deleted_at is not None:
        raise WebhookError("钩子已删除 / The hook was deleted", "hook")
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, state=Delivery.FAILED).update(
            state=Delivery.PENDING, attempts=0, next_attempt_at=dj_timezone.now(), claimed_at=None)
        audit.record(user.username, "webhook.retry", delivery.hook.name,
                     {"delivery": delivery.pk, "event": delivery.event, "event_id": delivery.event_id})


def _require_hook(user: User, hook: Hook) -> None:
    from central.webhooks.selectors import hooks

    if not hooks(user).filter(pk=hook.pk).exists():
        raise scope.ScopeDenied("您不能管理这个钩子 / You cannot manage this hook")
