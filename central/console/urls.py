"""Console URLs, all named under ``console:``.

``ROLE_WALK`` documents every named URL for the role-walk test: example ``kwargs`` (placeholders
``{employee}``, ``{device}``, ``{token}`` and ``{user}`` stand for the pk of an employee the caller can see, a
device id the caller can see, the pk of the caller's own token, and the user name of that employee's own account), the roles that may GET it
(answer 200) and the methods it accepts. ``"form": True`` marks a page whose POST is a form over
company-wide rows or rows it names in its fields: a POST naming nothing the caller may change is
shown again with the refusal on its fields (200), and changes nothing. Every other role gets 403 (a page it may not use) or
404 (a row outside its scope); every anonymous GET is redirected to ``console:login``, except
the login page itself. For the walk: an ``employee`` user is linked to the employee, a
``manager`` is granted that employee's department, an ``hr_admin`` its site, an ``auditor``
nothing (so sees everything).
"""
from typing import Any

from django.urls import URLPattern, URLResolver, include, path

from central.alerts import urls as alert_urls
from central.console import (
    allowance_import_views,
    attendance_views,
    employee_import_views,
    employee_photo_views,
    punch_import_views,
    schedule_import_views,
    user_views,
    views,
)
from central.live import display_console_urls
from central.live import urls as live_urls
from central.reports import urls as report_urls
from central.webhooks import urls as webhook_urls

app_name = "console"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),  # console:set_language (POST language, next)
    path("", views.home, name="home"),
    path("sites/", views.sites, name="sites"),
    path("departments/", views.departments, name="departments"),
    path("employees/", views.employees, name="employees"),
    path("employees/new/", views.employee_add, name="employee_add"),
    path("employees/import/", employee_import_views.employee_import, name="employee_import"),
    path("employees/photos/", employee_photo_views.employee_photos, name="employee_photos"),
    path("employees/<int:pk>/", views.employee_detail, name="employee"),
    path("employees/<int:pk>/edit/", views.employee_edit, name="employee_edit"),
    path("employees/<int:pk>/deactivate/", views.employee_deactivate, name="employee_deactivate"),
    path("employees/<int:pk>/faces/clear/", employee_photo_views.employee_faces_clear, name="employee_faces_clear"),
    path("devices/", views.devices, name="devices"),
    path("devices/<str:device_id>/", views.device_detail, name="device"),
    path("devices/<str:device_id>/commands/", views.device_commands, name="device_commands"),
    path("devices/<str:device_id>/command/", views.device_command, name="device_command"),
    path("events/", views.events, name="events"),
    path("audit/", views.audit_log, name="audit"),
    path("tokens/", views.tokens, name="tokens"),
    path("users/", user_views.users_page, name="users"),
    path("users/open/employees/", user_views.employee_accounts, name="user_employee_accounts"),  # never a user name
    path("users/<str:username>/", user_views.user_edit, name="user_edit"),
    path("users/<str:username>/password/", user_views.user_password_reset, name="user_password_reset"),
    path("users/<str:username>/active/", user_views.user_active, name="user_active"),
    path("account/password/", user_views.password_change, name="password_change"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("attendance/shifts/", attendance_views.shifts, name="attendance_shifts"),
    path("attendance/overtime/", attendance_views.overtime, name="attendance_overtime"),
    path("attendance/leave-types/", attendance_views.leave_types, name="attendance_leave_types"),
    path("attendance/leave-types/import/", allowance_import_views.allowance_import_page,
         name="attendance_allowance_import"),
    path("attendance/punches/import/", punch_import_views.punch_import_page, name="attendance_punch_import"),
    path("attendance/rotations/", attendance_views.rotations, name="attendance_rotations"),
    path("attendance/rotations/preview/", attendance_views.rotation_preview, name="attendance_rotation_preview"),
    path("attendance/team/", attendance_views.team_schedule, name="attendance_team"),
    path("attendance/team/import/", schedule_import_views.schedule_import_page, name="attendance_team_import"),
    path("attendance/assignments/", attendance_views.assignments, name="attendance_assignments"),
    path("attendance/assignments/delete/", attendance_views.assignment_delete, name="attendance_assignment_delete"),
    path("attendance/calendars/", attendance_views.calendars, name="attendance_calendars"),
    path("attendance/closing/", attendance_views.month_close, name="attendance_closing"),
    path("attendance/employees/<int:pk>/month/", attendance_views.employee_month, name="attendance_month"),
    path("attendance/recompute/", attendance_views.recompute_jobs, name="attendance_recompute_jobs"),
    path("attendance/requests/", attendance_views.requests_page, name="attendance_requests"),
    path("attendance/requests/decide/", attendance_views.request_decide, name="attendance_request_decide"),
    path("attendance/requests/decide-many/", attendance_views.request_decide_many,
         name="attendance_request_decide_many"),
    path("attendance/requests/withdraw/", attendance_views.request_withdraw, name="attendance_request_withdraw"),
    path("attendance/requests/answer/", attendance_views.request_answer, name="attendance_request_answer"),
    path("attendance/requests/attach/", attendance_views.request_attach, name="attendance_request_attach"),
    path("attendance/requests/<str:kind>/<int:pk>/evidence/", attendance_views.request_evidence,
         name="attendance_request_evidence"),
    path("dashboard/", include(live_urls)),
    path("displays/", include(display_console_urls)),
    path("reports/", include(report_urls)),
    path("webhooks/", include(webhook_urls)),
    path("alerts/", include(alert_urls)),
]

ALL_ROLES = frozenset({"superuser", "hr_admin", "manager", "auditor", "employee"})
MANAGERS = frozenset({"superuser", "hr_admin"})
STAFF_READERS = frozenset({"superuser", "hr_admin", "manager", "auditor"})

ROLE_WALK: dict[str, dict] = {
    "login": {"kwargs": {}, "get": ALL_ROLES, "methods": ("GET", "POST"), "anonymous": True},
    "logout": {"kwargs": {}, "get": frozenset(), "methods": ("POST",)},
    "set_language": {"kwargs": {}, "get": frozenset(), "methods": ("POST",), "anonymous": True},
    "home": {"kwargs": {}, "get": ALL_ROLES, "methods": ("GET",)},
    "sites": {"kwargs": {}, "get": ALL_ROLES, "methods": ("GET", "POST"), "post": frozenset({"superuser"})},
    "departments": {"kwargs": {}, "get": ALL_ROLES, "methods": ("GET", "POST"), "post": MANAGERS},
    "employees": {"kwargs": {}, "get": ALL_ROLES, "methods": ("GET",)},
    "employee_add": {"kwargs": {}, "get": MANAGERS, "methods": ("GET", "POST"), "post": MANAGERS},
    # a POST is a file checked row by row: another scope's rows are refused on their row (tests/central/test_employee_import.py)
    "employee_import": {"kwargs": {}, "get": MANAGERS, "methods": ("GET", "POST"), "post": MANAGERS, "form": True},
    # a POST is a .zip of photos checked photo by photo: another scope's employees are refused on their photos
    "employee_photos": {"kwargs": {}, "get": MANAGERS, "methods": ("GET", "POST"), "post": MANAGERS, "form": True},
    "employee": {"kwargs": {"pk": "{employee}"}, "get": ALL_ROLES, "methods": ("GET",)},
    "employee_edit": {"kwargs": {"pk": "{employee}"}, "get": MANAGERS, "methods": ("GET", "POST"), "post": MANAGERS},
    "employee_deactivate": {"kwargs": {"pk": "{employee}"}, "get": frozenset(), "methods": ("POST",),
                            "post": MANAGERS},
    "employee_faces_clear": {"kwargs": {"pk": "{employee}"}, "get": frozenset(), "methods": ("POST",),
                             "post": MANAGERS},
    "devices": {"kwargs": {}, "get": ALL_ROLES, "methods": ("GET",)},
    "device": {"kwargs": {"device_id": "{device}"}, "get": STAFF_READERS, "methods": ("GET",)},
    "device_commands": {"kwargs": {"device_id": "{device}"}, "get": STAFF_READERS, "methods": ("GET",)},
    "device_command": {"kwargs": {"device_id": "{device}"}, "get": frozenset(), "methods": ("POST",),
                       "post": MANAGERS},
    "events": {"kwargs": {}, "get": ALL_ROLES, "methods": ("GET",)},
    "audit": {"kwargs": {}, "get": frozenset({"superuser", "auditor"}), "methods": ("GET",)},
    "tokens": {"kwargs": {}, "get": ALL_ROLES, "methods": ("GET", "POST"), "post": ALL_ROLES},
    "token_revoke": {"kwargs": {"pk": "{token}"}, "get": frozenset(), "methods": ("POST",), "post": ALL_ROLES},
    # accounts: a POST names the new account in its fields, refused on them when outside the caller's scope; {user}
    # is an account the caller may change (the employee's own, for an HR admin of its site)
    "users": {"kwargs": {}, "get": frozenset({"superuser", "hr_admin", "auditor"}), "methods": ("GET", "POST"),
              "post": MANAGERS, "form": True},
    # a POST names a site and a department: another scope's are refused on their fields
    "user_employee_accounts": {"kwargs": {}, "get": frozenset(), "methods": ("POST",), "post": MANAGERS, "form": True},
    "user_edit": {"kwargs": {"username": "{user}"}, "get": MANAGERS, "methods": ("GET", "POST"), "post": MANAGERS},
    "user_password_reset": {"kwargs": {"username": "{user}"}, "get": frozenset(), "methods": ("POST",),
                            "post": MANAGERS},
    "user_active": {"kwargs": {"username": "{user}"}, "get": frozenset(), "methods": ("POST",), "post": MANAGERS},
    # one's own password: the form names no one else
    "password_change": {"kwargs": {}, "get": ALL_ROLES, "methods": ("GET", "POST"), "post": ALL_ROLES, "form": True},
    # attendance: company-wide shift types, overtime rules and rotations ("form": a POST is a form, refused on
    # its fields when it names nothing the caller may change); assignments, calendars and months are scoped
    "attendance_shifts": {"kwargs": {}, "get": STAFF_READERS, "methods": ("GET", "POST"), "post": MANAGERS,
                          "form": True},
    "attendance_overtime": {"kwargs": {}, "get": STAFF_READERS, "methods": ("GET", "POST"), "post": MANAGERS,
                            "form": True},
    "attendance_leave_types": {"kwargs": {}, "get": STAFF_READERS, "methods": ("GET", "POST"), "post": MANAGERS,
                               "form": True},
    # a POST is a file checked row by row: another scope's employees are refused on their row
    "attendance_allowance_import": {"kwargs": {}, "get": MANAGERS, "methods": ("GET", "POST"), "post": MANAGERS,
                                    "form": True},
    # a POST is a file checked row by row: another scope's employees are refused on their row
    "attendance_punch_import": {"kwargs": {}, "get": MANAGERS, "methods": ("GET", "POST"), "post": MANAGERS,
                                "form": True},
    "attendance_rotations": {"kwargs": {}, "get": STAFF_READERS, "methods": ("GET", "POST"), "post": MANAGERS,
                             "form": True},
    "attendance_rotation_preview": {"kwargs": {}, "get": STAFF_READERS, "methods": ("GET",)},
    # a department's schedule (排班表): staff read it; HR admins and superusers change a day from it
    "attendance_team": {"kwargs": {}, "get": STAFF_READERS, "methods": ("GET", "POST"), "post": MANAGERS, "form": True},
    # a POST is a file checked cell by cell: another scope's employees are refused on their row
    "attendance_team_import": {"kwargs": {}, "get": MANAGERS, "methods": ("GET", "POST"), "post": MANAGERS, "form": True},
    "attendance_assignments": {"kwargs": {}, "get": STAFF_READERS, "methods": ("GET", "POST"), "post": MANAGERS,
                               "form": True},
    "attendance_assignment_delete": {"kwargs": {}, "get": frozenset(), "methods": ("POST",), "post": MANAGERS},
    "attendance_calendars": {"kwargs": {}, "get": STAFF_READERS, "methods": ("GET", "POST"), "post": MANAGERS},
    # closing a month (月结): staff read a site's months; HR admins of the site and superusers close and reopen them
    "attendance_closing": {"kwargs": {}, "get": STAFF_READERS, "methods": ("GET", "POST"), "post": MANAGERS},
    # an employee's month: HR admins of the employee and superusers post records, leave, settings and the answer to a
    # dispute; the employee posts only their own month's confirmation or dispute (考勤确认), on their own page
    "attendance_month": {"kwargs": {"pk": "{employee}"}, "get": ALL_ROLES, "methods": ("GET", "POST"),
                         "post": MANAGERS | {"employee"}},
    "attendance_recompute_jobs": {"kwargs": {}, "get": STAFF_READERS, "methods": ("GET",)},
    # requests: everyone reads those in scope (an employee their own); one with an employee record asks for leave and
    # make-up punches ("form": a POST naming nothing is shown again); managers, HR admins and superusers decide
    "attendance_requests": {"kwargs": {}, "get": ALL_ROLES, "methods": ("GET", "POST"), "post": frozenset({"employee"}),
                            "form": True},
    "attendance_request_decide": {"kwargs": {}, "get": frozenset(), "methods": ("POST",),
                                  "post": frozenset({"superuser", "hr_admin", "manager"})},
    "attendance_request_decide_many": {"kwargs": {}, "get": frozenset(), "methods": ("POST",),
                                       "post": frozenset({"superuser", "hr_admin", "manager"})},
    # anyone with an employee record takes back their own pending request
    "attendance_request_withdraw": {"kwargs": {}, "get": frozenset(), "methods": ("POST",),
                                    "post": frozenset({"employee"})},
    # anyone with an employee record answers a swap a colleague asked of them
    "attendance_request_answer": {"kwargs": {}, "get": frozenset(), "methods": ("POST",),
                                  "post": frozenset({"employee"})},
    # anyone with an employee record attaches evidence to their own pending request
    "attendance_request_attach": {"kwargs": {}, "get": frozenset(), "methods": ("POST",),
                                  "post": frozenset({"employee"})},
    # a request's evidence: those who see the request (the walk keeps none, so 404 for every role; who opens which:
    # tests/central/test_request_evidence.py)
    "attendance_request_evidence": {"kwargs": {"kind": "leave", "pk": 0}, "get": frozenset(), "methods": ("GET",)},
}
ROLE_WALK.update(report_urls.ROLE_WALK)
ROLE_WALK.update(webhook_urls.ROLE_WALK)
ROLE_WALK.update(alert_urls.ROLE_WALK)
ROLE_WALK.update(live_urls.ROLE_WALK)
ROLE_WALK.update(display_console_urls.ROLE_WALK)


def url_names(patterns: list[Any] | None = None) -> set[str]:
    """Every named console URL, the included report and webhook pages too (what ROLE_WALK must document)."""
    found: set[str] = set()
    for p in urlpatterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            found |= url_names(p.url_patterns)
        elif isinstance(p, URLPattern) and p.name:
            found.add(p.name)
    return found
