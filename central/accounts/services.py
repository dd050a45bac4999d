"""Writes to accounts: users with a one-time password, API tokens (created once, stored hashed), revocation.

Every write is recorded in the audit log with its actor; no password or token ever is.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from central.accounts import audit
from central.accounts.models import ApiToken, User

log = logging.getLogger(__name__)
TOKEN_PREFIX = "seed_"


class AccountError(ValueError):
    """An account change that cannot be made; the message says why (Chinese first) and ``field`` names the form field
    it concerns (may be empty)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def one_time_password() -> str:
    return secrets.token_urlsafe(12)


def create_user_with_one_time_password(username: str, *, role: str = "superuser", site_codes: Iterable[str] = (),
                                       department_ids: Iterable[int] = (), actor: str = "system",
                                       employee_number: str | None = None) -> str:
    """Create (or reset) a console user from the server's command line; returns the new password, shown once and
    never stored in clear. The rules of roles and grants are :mod:`central.accounts.users`'; the user must set their
    own password at the first sign-in (``must_change_password``)."""
    from central.accounts.users import UserInput, command_line_account

    return command_line_account(UserInput(username=username, role=role, sites=tuple(site_codes),
                                          departments=tuple(department_ids), employee=employee_number or ""), actor)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(user: User, name: str, *, actor: str) -> tuple[ApiToken, str]:
    """A new API token for ``user``; the clear token is returned once, only its SHA-256 is kept."""
    name = name.strip()[:100] or "API"
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, name=name, prefix=clear[:12], digest=_digest(clear))
        audit.record(actor, "token.create", user.username, {"token": token.pk, "name": name, "prefix": token.prefix})
    return token, clear


def revoke_token(token: ApiToken, *, actor: str) -> None:
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record(actor, "token.revoke", token.user.username, {"token": token.pk, "prefix": token.prefix})


def user_for_token(clear: str) -> User | None:
    """The active user a bearer token belongs to, or None for an unknown, revoked or malformed token."""
    if not clear or len(clear) > 200 or not clear.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(digest=_digest(clear), revoked_at__isnull=True).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
