"""URL map: the console at /, the API at /api/v1/, the wall display at /display/."""
from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("central.api.urls")),
    path("display/", include("central.live.display_urls")),
    path("", include("central.console.urls")),
]
