"""Who is calling: a bearer token (machines, payroll, ERP) or the console's session (a signed-in browser).

The caller is the :class:`~central.accounts.models.User` the token belongs to, with that user's role
and scope; nothing here decides what they may see (:mod:`central.accounts.scope` does).

* ``Authorization: Bearer seed_…`` is judged by the token alone: an unknown, revoked or malformed
  token is a 401 even when a session cookie comes along, so a script never silently acts as
  whoever is signed in to the browser.
* Without an ``Authorization`` header a signed-in console session is accepted; unsafe methods
  then need the CSRF token (``X-CSRFToken``), as every console form does. A session still on a one-time password
  (``must_change_password``) is not: the console holds it on the password page, and so does the API.
* An auditor's every API call is written to the audit log as a ``view`` of its path and query,
  as the console records an auditor's pages (the auditor role's rule: every view logged).
"""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, SessionAuth

from central.accounts import audit
from central.accounts.models import Role, User
from central.accounts.services import user_for_token
from central.api.errors import BAD_TOKEN


def _log_auditor_view(request: HttpRequest, user: User) -> None:
    if user.role == Role.AUDITOR and not user.is_superuser:
        audit.record(user.username, "view", request.get_full_path()[:200])  # as the console records its pages


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``; tokens are looked up by their SHA-256 only."""

    def __call__(self, request: HttpRequest) -> Any | None:
        header = request.headers.get(self.header)
        if header is None:
            return None  # not a token call: the session may answer
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError(message=f"{BAD_TOKEN} (Authorization: Bearer <token>)")
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is None:
            raise AuthenticationError(message=BAD_TOKEN)
        _log_auditor_view(request, user)
        return user


class ConsoleSession(SessionAuth):
    """The console's signed-in user; consulted only when no ``Authorization`` header was sent."""

    def __call__(self, request: HttpRequest) -> Any | None:
        if "Authorization" in request.headers:
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active or getattr(user, "must_change_password", False):
            return None
        found = super().__call__(request)  # checks CSRF on unsafe methods
        if found is not None:
            _log_auditor_view(request, found)
        return found


def caller(request: HttpRequest) -> User:
    """The authenticated user of an API request: django-ninja sets ``request.auth`` to what :data:`AUTH` returned."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User):
        raise AuthenticationError()
    return user


AUTH = [TokenAuth(), ConsoleSession()]
