"""The live dashboard's console URLs (under ``console:``); the dashboard itself is ``console:home``.

``ROLE_WALK`` entries as :mod:`central.console.urls` documents them: every role may GET the live part
(an employee sees their own day), nothing else.
"""
from django.urls import path

from central.live import views

ALL_ROLES = frozenset({"superuser", "hr_admin", "manager", "auditor", "employee"})

urlpatterns = [
    path("live/", views.dashboard_live, name="dashboard_live"),
]

ROLE_WALK: dict[str, dict] = {
    "dashboard_live": {"kwargs": {}, "get": ALL_ROLES, "methods": ("GET",)},
}
