"""Webhook pages of the console, included under ``console:`` (see ``central.console.urls``)."""
from __future__ import annotations

from django.urls import URLPattern, path

from central.webhooks import views

urlpatterns: list[URLPattern] = [
    path("", views.hooks, name="webhooks"),
    path("<int:pk>/rotate/", views.rotate, name="webhook_rotate"),
    path("<int:pk>/delete/", views.delete, name="webhook_delete"),
    path("deliveries/", views.deliveries, name="webhook_deliveries"),
    path("deliveries/<int:pk>/retry/", views.retry, name="webhook_retry"),
]
_ADMINS = frozenset({"superuser", "hr_admin"})
ROLE_WALK: dict[str, dict] = {
    # a POST is a form: one naming a site the HR admin does not hold is refused on its field
    "webhooks": {"kwargs": {}, "get": _ADMINS, "methods": ("GET", "POST"), "post": _ADMINS, "form": True},
    "webhook_rotate": {"kwargs": {"pk": "{employee}"}, "get": frozenset(), "methods": ("POST",), "post": _ADMINS},
    "webhook_delete": {"kwargs": {"pk": "{employee}"}, "get": frozenset(), "methods": ("POST",), "post": _ADMINS},
    "webhook_deliveries": {"kwargs": {}, "get": _ADMINS, "methods": ("GET",)},
    "webhook_retry": {"kwargs": {"pk": "{employee}"}, "get": frozenset(), "methods": ("POST",), "post": _ADMINS},
}
