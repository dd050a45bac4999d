"""/api/v1/: the ninja API, and a JSON 404 for any other path below it."""
from __future__ import annotations

from django.http import JsonResponse
from django.urls import path, re_path

from central.api.api import api


def unknown_path(request, rest: str = "") -> JsonResponse:
    return JsonResponse({"detail": "没有这个接口 / no such endpoint; see /api/v1/docs"}, status=404,
                        json_dumps_params={"ensure_ascii": False})


urlpatterns = [
    path("", api.urls),
    re_path(r"^(?P<rest>.*)$", unknown_path),
]
