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
from central.accounts.models import ApiToken, Role, User
from central.people.models import Department, Site

log = logging.getLogger(__name__)
TOKEN_PREFIX = "seed_"


class AccountError(ValueError):
    """An account change that cannot be made; the message says why."""


def one_time_password() -> str:
    return secrets.token_urlsafe(12)


def create_user_with_one_time_password(username: str, *, role: str = "superuser", site_codes: Iterable[str] = (),
                                       department_ids: Iterable[int] = (), actor: str = "system",
                                       employee_number: str | None = None) -> str:
    """Create (or reset) a console user; returns the new password, shown once and never stored in clear."""
    username = username.strip()
    if not username or len(username) > 150:
        raise AccountError("the user name must be 1 to 150 characters")
    if role not in ("superuser", *Role.values):
        raise AccountError(f"unknown role {role!r}")
    codes = list(site_codes)
    found_sites = list(Site.objects.filter(code__in=codes))
    missing = sorted(set(codes) - {s.code for s in found_sites})
    if missing:
        raise AccountError(f"no such site: {', '.join(missing)}")
    password = one_time_password()
    with transaction.atomic():
        user = User.objects.filter(username=username).first() or User(username=username)
        user.is_superuser = user.is_staff = role == "superuser"
        user.role = Role.HR_ADMIN if role == "superuser" else role
        user.is_active = True
        if employee_number:
            from central.people.models import Employee

            user.employee = Employee.objects.filter(number=employee_number).first()
            if user.employee is None:
                raise AccountError(f"no employee {employee_number}")
        user.set_password(password)
        user.save()
        user.sites.set(found_sites)
        user.departments.set(Department.objects.filter(pk__in=list(department_ids)))
        audit.record(actor, "user.create", username, {"role": role, "sites": sorted(codes)})
    return password


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
