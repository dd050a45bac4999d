"""Console pages (under ``console:``) where HR makes and revokes wall display tokens."""
from django.urls import URLPattern, path

from central.live import display_views

urlpatterns: list[URLPattern] = [
    path("", display_views.displays, name="displays"),
    path("<int:pk>/revoke/", display_views.revoke, name="display_revoke"),
]

_ADMINS = frozenset({"superuser", "hr_admin"})
ROLE_WALK: dict[str, dict] = {
    # a POST is a form: one naming a site the HR admin does not hold is refused on its field
    "displays": {"kwargs": {}, "get": _ADMINS, "methods": ("GET", "POST"), "post": _ADMINS, "form": True},
    "display_revoke": {"kwargs": {"pk": "{employee}"}, "get": frozenset(), "methods": ("POST",), "post": _ADMINS},
}
