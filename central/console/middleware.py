"""The console's own middleware.

Chinese first: the console speaks Simplified Chinese until the person picks English with the switch.

Django would otherwise follow the browser's Accept-Language header; an HR office's machines
are often set to English while the staff read Chinese. The language switch's cookie wins.
"""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse


class ChineseFirstMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)


class PasswordChangeRequiredMiddleware:
    """A person signed in with a password someone else set (a new account, a reset: ``must_change_password``) sees
    only the page that sets their own, until they have. The API (tokens), the wall display, static files, signing
    out and the language switch are not held."""
    OPEN = ("/api/", "/display/", "/static/")
    OPEN_NAMES = ("console:password_change", "console:logout", "console:set_language")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "must_change_password", False) \
                and not request.path.startswith(self.OPEN) \
                and request.path not in {reverse(name) for name in self.OPEN_NAMES}:
            target = reverse("console:password_change")
            if request.headers.get("HX-Request"):
                answer = HttpResponse(status=204)
                answer["HX-Redirect"] = target
                return answer
            return redirect(target)
        return self.get_response(request)
