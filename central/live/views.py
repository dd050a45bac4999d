"""The live dashboard's part that htmx re-reads every 2 s (``console:dashboard_live``); the page itself is
``console:home`` (:func:`central.console.views.home`). Both read :func:`central.live.selectors.dashboard`."""
from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from central.console.views import AuthedHttpRequest, console_view
from central.live import selectors


def dashboard_context(request: AuthedHttpRequest) -> dict[str, object]:
    """The dashboard of the caller for the request's ``site`` and ``department``; one outside the scope is a 404."""
    try:
        filters = selectors.filters_for(request.user, request.GET.get("site", "").strip(),
                                        request.GET.get("department", "").strip())
    except selectors.FilterNotFound:
        raise Http404("no such site or department in your scope") from None
    return {"nav": "home", "board": selectors.dashboard(request.user, filters)}


@require_GET
@never_cache
@console_view
def dashboard_live(request: AuthedHttpRequest) -> HttpResponse:
    return render(request, "live/dashboard_live.html", dashboard_context(request))
