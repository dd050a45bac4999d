"""URL map: the console at /, the API at /api/v1/, the wall display at /display/."""
from __future__ import annotations

from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    # the icon the pages name; asked for here by tools that do not read the page (a 404 would render the console)
    path("favicon.ico", RedirectView.as_view(url=static("console/seed.svg"), permanent=True)),
    path("api/v1/", include("central.api.urls")),
    path("display/", include("central.live.display_urls")),
    path("", include("central.console.urls")),
]
