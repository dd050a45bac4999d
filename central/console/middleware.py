"""The console's own middleware.

Chinese first: the console speaks Simplified Chinese until the person picks English with the switch.

Django would otherwise follow the browser's Accept-Language header; an HR office's machines
are often set to English while the staff read Chinese. The language switch's cookie wins.

Idle sign-out: a session nobody has used for ``SESSION_IDLE_MIN`` minutes is ended, and a part of a page that
refreshes itself (htmx) and finds its session gone takes the whole page to the sign-in form. A form sent after the
limit is kept for its sender and filled back in once they have signed in again (:mod:`central.console.kept_forms`).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _

from central.console import kept_forms

log = logging.getLogger(__name__)

# a request a page makes by itself (htmx's hx-trigger="every …"), which is no sign of anyone at the machine
POLL_HEADER = "X-Seed-Poll"
SEEN_KEY = "seed_seen"  # in the session: when its holder last asked for something (seconds since the epoch)
SEEN_STEP_S = 60  # the stamp is written again at most once a minute: not a session write for every page
# what has no console session: the API (its tokens), the wall display (its link), static files
NO_SESSION = ("/api/", "/display/", "/static/")


def _go_to(request: HttpRequest, target: str) -> HttpResponse:
    """The whole page to ``target``. htmx follows a redirect inside its request and would swap the page it gets into
    the panel that asked: it is told to go there instead (``HX-Redirect``)."""
    if request.headers.get("HX-Request"):
        answer = HttpResponse(status=204)
        answer["HX-Redirect"] = target
        return answer
    return redirect(target)


class ChineseFirstMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)


class PasswordChangeRequiredMiddleware:
    """A person signed in with a password someone else set (a new account, a reset: ``must_change_password``) sees
    only the page that sets their own, until they have. What has no session (:data:`NO_SESSION`), signing out and
    the language switch are not held."""
    OPEN_NAMES = ("console:password_change", "console:logout", "console:set_language")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "must_change_password", False) \
                and not request.path.startswith(NO_SESSION) \
                and request.path not in {reverse(name) for name in self.OPEN_NAMES}:
            return _go_to(request, reverse("console:password_change"))
        return self.get_response(request)


def _sign_in_url(next_path: str) -> str:
    return f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': next_path}, safe='/')}"


def _page_path(request: HttpRequest) -> str:
    """The page the person is on: the request's own path, or for htmx the page that made it (``HX-Current-URL``)."""
    current = request.headers.get("HX-Current-URL") if request.headers.get("HX-Request") else None
    if not current:
        return request.get_full_path()
    return kept_forms.same_host_path(request, current) or "/"


class IdleSignOutMiddleware:
    """A console session nobody has used for ``settings.SESSION_IDLE_MIN`` minutes (0: never) is signed out: the
    next request goes to the sign-in form, which says why, and back to the page after. Requests a page makes by
    itself (the dashboard's refresh, a queue's progress: :data:`POLL_HEADER`) keep nobody signed in. A refresh whose
    session is gone (idle, signed out in another tab) takes the whole page to the sign-in form."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.login_path = resolve_url(settings.LOGIN_URL)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        idle_s = settings.SESSION_IDLE_MIN * 60
        user = getattr(request, "user", None)
        if idle_s and user is not None and user.is_authenticated and not request.path.startswith(NO_SESSION):
            now = time.time()
            seen = request.session.get(SEEN_KEY)
            idle = now - seen if isinstance(seen, (int, float)) else None  # None: not stamped yet
            if idle is not None and idle > idle_s:
                log.info("console session of %s signed out after %d idle minutes", user.username, idle // 60)
                kept = kept_forms.keep(request, user.get_username())  # a form sent: what was typed waits for them
                logout(request)
                messages.info(request, _("您已 %(minutes)d 分钟未操作，为保护数据已自动退出，请重新登录。")
                              % {"minutes": settings.SESSION_IDLE_MIN})
                if kept is not None:
                    request.session[kept_forms.KEPT_KEY] = kept
                    messages.info(request, _("您填写的内容已保留：重新登录后会回到该页并填好，检查后再提交即可。"))
                return _go_to(request, _sign_in_url(kept["back"] if kept else _page_path(request)))
            if not request.headers.get(POLL_HEADER) and (idle is None or idle >= SEEN_STEP_S):
                request.session[SEEN_KEY] = now
            if request.method == "GET" and not request.headers.get("HX-Request"):
                self._give_back(request)
        response = self.get_response(request)
        if request.headers.get("HX-Request") and response.status_code == 302 \
                and urlsplit(response.get("Location", "")).path == self.login_path:
            return _go_to(request, _sign_in_url(_page_path(request)))
        return response

    @staticmethod
    def _give_back(request: HttpRequest) -> None:
        """The page a form kept at the sign-out came from, opened again by its sender: the form is given back to the
        page to fill in (``request.seed_kept_form``, read by ``console/base.html``), with what the page says once it
        has filled a field (a form of buttons only, such as a decision, has nothing to give back)."""
        kept = kept_forms.take(request)
        request.seed_kept_form = None if kept is None else {  # type: ignore[attr-defined]
            "action": kept["action"], "fields": kept["fields"],
            "notices": [_("您上次提交时已超时退出，填写的内容已恢复：请检查后再提交。"),
                        *([_("所选的文件未能保留，请重新选择。")] if kept["files"] else [])]}
