"""Report pages of the console, included under ``console:`` (see ``central.console.urls``).

No URL carries a key in its path: a report is named by ``?report=``, a schedule by ``?edit=`` or the
``id`` field of a POST, a stored file by ``?run=&format=``. ``report_run_file`` answers 200 only for a
run of a schedule the caller sees, so the walk (which names none) gets 404 or 403 from it.
"""
from __future__ import annotations

from django.urls import URLPattern, path

from central.reports import views

STAFF_READERS = frozenset({"superuser", "hr_admin", "manager", "auditor"})
MANAGERS = frozenset({"superuser", "hr_admin"})

urlpatterns: list[URLPattern] = [
    path("", views.reports, name="reports"),
    path("schedules/", views.report_schedules, name="report_schedules"),
    path("schedules/action/", views.report_schedule_action, name="report_schedule_action"),
    path("runs/file/", views.report_run_file, name="report_run_file"),
]
ROLE_WALK: dict[str, dict] = {
    "reports": {"kwargs": {}, "get": STAFF_READERS, "methods": ("GET",)},
    # a POST is a form over the caller's own schedules: refused on its fields when it names nothing allowed
    "report_schedules": {"kwargs": {}, "get": STAFF_READERS, "methods": ("GET", "POST"), "post": MANAGERS,
                         "form": True},
    "report_schedule_action": {"kwargs": {}, "get": frozenset(), "methods": ("POST",), "post": MANAGERS},
    "report_run_file": {"kwargs": {}, "get": frozenset(), "methods": ("GET",)},
}
