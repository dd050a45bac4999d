"""Alert pages of the console, included under ``console:`` (see ``central.console.urls``)."""
from __future__ import annotations

from django.urls import URLPattern, path

from central.alerts import views

urlpatterns: list[URLPattern] = [
    path("", views.notifications, name="alerts"),
    path("<int:pk>/read/", views.read, name="alert_read"),
    path("rules/", views.rules, name="alert_rules"),
    path("rules/<int:pk>/toggle/", views.toggle, name="alert_rule_toggle"),
    path("rules/<int:pk>/delete/", views.delete, name="alert_rule_delete"),
]
_ADMINS = frozenset({"superuser", "hr_admin"})
_STAFF = frozenset({"superuser", "hr_admin", "manager", "auditor"})
ROLE_WALK: dict[str, dict] = {
    # a POST to the list marks the caller's own visible alerts read ("form": it names no row)
    "alerts": {"kwargs": {}, "get": _STAFF, "methods": ("GET", "POST"), "post": _STAFF, "form": True},
    "alert_read": {"kwargs": {"pk": "{employee}"}, "get": frozenset(), "methods": ("POST",), "post": _STAFF},
    # a POST is a form: one naming a site or department the HR admin does not hold is refused on its field
    "alert_rules": {"kwargs": {}, "get": _STAFF, "methods": ("GET", "POST"), "post": _ADMINS, "form": True},
    "alert_rule_toggle": {"kwargs": {"pk": "{employee}"}, "get": frozenset(), "methods": ("POST",), "post": _ADMINS},
    "alert_rule_delete": {"kwargs": {"pk": "{employee}"}, "get": frozenset(), "methods": ("POST",), "post": _ADMINS},
}
