"""The wall display (``display:``, no sign-in: a token bound to one site) and its console page (``console:displays``).

The display is read-only and shows numbers only. A wrong, revoked or malformed token gets the same bare 404,
which Django's request log does not write (it would write the path, and so the token).
"""
from __future__ import annotations

import logging

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from central.accounts import scope
from central.attendance.inputs import zone_named
from central.console.views import AuthedHttpRequest, console_view, require
from central.live import display_selectors as selectors
from central.live import display_services as services
from central.live.display_forms import DisplayForm
from central.live.models import DisplayToken

log = logging.getLogger(__name__)

POLL_S = 5
WEEKDAYS_ZH = "一二三四五六日"


def _private(response: HttpResponse) -> HttpResponse:
    """Nothing of a display page is cached, indexed or sent on as a referrer (its URL holds the token)."""
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _not_found() -> HttpResponse:
    response = HttpResponseNotFound("<!DOCTYPE html><title>404</title><p>未找到 Not found</p>",
                                    content_type="text/html; charset=utf-8")
    response._has_been_logged = True  # type: ignore[attr-defined]  # django.request would log the path: the token
    return _private(response)


def _context(token: DisplayToken, clear: str) -> dict:
    numbers = selectors.wall_numbers(token.site)
    now = numbers.local_now
    return {"n": numbers, "c": numbers.counts, "poll_s": POLL_S,
            "live_url": reverse("display:wall_live", args=[clear]),
            "date_zh": f"{now.year}年{now.month}月{now.day}日 星期{WEEKDAYS_ZH[now.weekday()]}",
            "date_en": now.strftime("%A %-d %B %Y"),
            "server_ms": int(now.timestamp() * 1000), "zone": str(zone_named(token.site.time_zone))}


@require_GET
def wall(request: HttpRequest, token: str) -> HttpResponse:
    found = services.open_display(token)
    if found is None:
        return _not_found()
    return _private(render(request, "live/display.html", _context(found, token)))


@require_GET
def wall_live(request: HttpRequest, token: str) -> HttpResponse:
    """The numbers alone, polled by the display every few seconds."""
    found = services.open_display(token)
    if found is None:
        return _not_found()
    return _private(render(request, "live/display_live.html", _context(found, token)))


# -- the console page ------------------------------------------------------------------------------------
def _page(request: AuthedHttpRequest, form: DisplayForm, made: DisplayToken | None = None,
          url: str | None = None) -> HttpResponse:
    response = render(request, "live/displays.html", {
        "nav": "displays", "form": form, "displays": selectors.displays(request.user), "made": made, "made_url": url})
    return _private(response) if url else response


@require_http_methods(["GET", "POST"])
@console_view
def displays(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    require(scope.can_manage(user))
    if request.method != "POST":
        return _page(request, DisplayForm(user))
    form = DisplayForm(user, request.POST)
    if form.is_valid():
        try:
            token, clear = services.create_display(user, form.cleaned_data["site"], form.cleaned_data["name"])
        except services.DisplayError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            log.info("wall display %s made for site %s by %s", token.pk, token.site.code, user.username)
            # the URL (and so the token) is in this one response only
            return _page(request, DisplayForm(user), token, request.build_absolute_uri(reverse("display:wall", args=[clear])))
    return _page(request, form)


@require_POST
@console_view
def revoke(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    require(scope.can_manage(user))
    token = get_object_or_404(selectors.displays(user), pk=pk)
    if services.revoke_display(user, token):
        messages.success(request, _("显示屏 %(name)s 已停用 Display %(name)s revoked") % {"name": token.name})
    return redirect(reverse("console:displays"))
