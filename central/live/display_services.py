"""Writes of the wall display: making and revoking display tokens (audited), and opening a display by its token.

A token is 32 random bytes, URL-safe (43 characters); only its SHA-256 is stored. It is shown once, in the
display's URL, when it is made. Opening a display by an unknown, revoked or malformed token finds nothing,
the same way for each; the token itself is never written to a log or the audit log.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from central.accounts import audit, scope
from central.live.models import DisplayToken

if TYPE_CHECKING:
    from central.accounts.models import User
    from central.people.models import Site

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often (a display polls every few seconds)


class DisplayError(ValueError):
    """A display token the product refuses, with a message for a person (Chinese first) and the field it concerns."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def digest(clear: str) -> str:
    return hashlib.sha256(clear.encode("utf-8")).hexdigest()


def create_display(user: User, site: Site, name: str) -> tuple[DisplayToken, str]:
    """A new display token for ``site``; the clear token is returned once, only its SHA-256 is kept."""
    if not scope.can_manage(user):
        raise scope.ScopeDenied("只有超级管理员和人事管理员可以管理墙上显示屏 / Only superusers and HR admins manage wall displays")
    if not scope.sites(user).filter(pk=site.pk).exists():
        raise DisplayError("您不能为这个站点创建显示屏 / You cannot make a display for this site", "site")
    name = (name or "").strip()[:100]
    if not name:
        raise DisplayError("请填写名称 / A name is required", "name")
    clear = secrets.token_urlsafe(32)
    with transaction.atomic():
        token = DisplayToken.objects.create(site=site, name=name, digest=digest(clear), created_by=user.username)
        audit.record(user.username, "display.create", site.code, {"display": token.pk, "name": name, "site": site.code})
    return token, clear


def revoke_display(user: User, token: DisplayToken) -> bool:
    """The display stops showing anything from its next poll; False when it was revoked already."""
    if not scope.can_manage(user):
        raise scope.ScopeDenied("只有超级管理员和人事管理员可以管理墙上显示屏 / Only superusers and HR admins manage wall displays")
    if not scope.sites(user).filter(pk=token.site_id).exists():
        raise scope.ScopeDenied("这个显示屏不在您的管理范围内 / This display is outside your scope")
    with transaction.atomic():
        now = timezone.now()
        if not DisplayToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
            return False
        token.revoked_at = now
        audit.record(user.username, "display.revoke", token.site.code,
                     {"display": token.pk, "name": token.name, "site": token.site.code})
    return True


def open_display(clear: str) -> DisplayToken | None:
    """The live display token ``clear`` names, or None (unknown, revoked or malformed alike).

    Its ``last_used_at`` is written when it is older than a minute: one write a minute at most, not one per poll.
    """
    if not isinstance(clear, str) or not TOKEN_RE.fullmatch(clear):
        return None
    token = DisplayToken.objects.select_related("site").filter(digest=digest(clear), revoked_at__isnull=True).first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        DisplayToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - TOUCH_EVERY)).update(last_used_at=now)
        token.last_used_at = now
    return token
