"""填写内容保留 What a person typed into a form survives the idle sign-out.

A form sent after the session was left alone past ``SESSION_IDLE_MIN`` reaches the sign-in form instead of its view
(:class:`central.console.middleware.IdleSignOutMiddleware`). Its fields are kept in the new session, with the
name of the person it was sent as and the page it came from; once the same person has signed in again and opens that
page, the page fills the form back in (``console/kept_form.js``) and says so. Nothing is sent again by itself: the
person checks the form and sends it. The form is kept only when its CSRF token holds (another site cannot plant a
form to be filled in), never with a password, secret, token or PIN field, nor a file (the page says to choose it
again), and for at most :data:`KEPT_FOR_S`.
"""
from __future__ import annotations

import re
import time
from typing import Any, TypedDict
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware

KEPT_KEY = "seed_kept_form"  # in the session, between the sign-out and the page opened again
KEPT_FOR_S = 30 * 60  # a form not opened again within this is forgotten
MAX_CHARS = 64 * 1024  # a form larger than this (names and values together) is not kept
# fields never kept, by name: what the person must type again rather than have it wait in a session
SECRET_NAME = re.compile(r"password|passwd|secret|token|(^|_)pin($|_)|otp", re.IGNORECASE)


class KeptForm(TypedDict):
    user: str  # the username it was sent as: only they get it back
    page: str  # the path of the page the form was on (given back there, whatever its query)
    back: str  # that page with its query, where signing in again leads
    action: str  # the path it was sent to
    fields: dict[str, list[str]]
    files: bool  # it carried a file, not kept
    at: float  # when it was kept (seconds since the epoch)


def same_host_path(request: HttpRequest, url: str | None) -> str | None:
    """The path and query of ``url`` when it is of this host."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.get_host():
        return None
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def form_page(request: HttpRequest) -> str:
    """The page a form was sent from, with its query (its filters): htmx names it (``HX-Current-URL``), a plain
    form's browser sends it as the Referer; else the address the form went to (which serves the form on GET, as
    Django's views do)."""
    current = request.headers.get("HX-Current-URL") if request.headers.get("HX-Request") else None
    return (same_host_path(request, current) or same_host_path(request, request.headers.get("Referer"))
            or request.get_full_path())


def _csrf_holds(request: HttpRequest) -> bool:
    def unused(_request: HttpRequest) -> HttpResponse:
        raise AssertionError("only the check is asked for")

    return CsrfViewMiddleware(unused).process_view(request, unused, (), {}) is None


def keep(request: HttpRequest, username: str) -> KeptForm | None:
    """What to keep of the POST ``request`` sent as ``username`` (before it is signed out), or ``None`` when nothing
    may be or needs to be kept."""
    if request.method != "POST" or not _csrf_holds(request):
        return None
    fields: dict[str, list[str]] = {}
    size = 0
    for name, values in request.POST.lists():
        if name == "csrfmiddlewaretoken" or SECRET_NAME.search(name):
            continue
        fields[name] = list(values)
        size += len(name) + sum(len(v) for v in values)
    if not fields or size > MAX_CHARS:
        return None
    back = form_page(request)
    return KeptForm(user=username, page=urlsplit(back).path, back=back, action=request.path, fields=fields,
                    files=bool(request.FILES), at=time.time())


def take(request: HttpRequest) -> KeptForm | None:
    """The form kept for the person now signed in, when the page asked for is the one it came from (it then leaves
    the session); a form kept for someone else, or too long ago, is dropped."""
    session = getattr(request, "session", None)
    kept: Any = session.get(KEPT_KEY) if session is not None else None
    if not isinstance(kept, dict):
        return None
    user = getattr(request, "user", None)
    mine = user is not None and user.is_authenticated and kept.get("user") == user.get_username()
    fresh = isinstance(kept.get("at"), (int, float)) and time.time() - kept["at"] <= KEPT_FOR_S
    if not mine or not fresh:
        if user is not None and user.is_authenticated:  # someone else signed in, or it waited too long
            del session[KEPT_KEY]  # type: ignore[union-attr]
        return None
    if kept.get("page") != request.path:
        return None
    del session[KEPT_KEY]  # type: ignore[union-attr]
    return kept  # type: ignore[return-value]
