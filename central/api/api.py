"""The REST API at /api/v1: django-ninja with an OpenAPI document and a docs page served locally.

* ``/api/v1/openapi.json``: the OpenAPI 3.1 description of every endpoint below.
* ``/api/v1/docs``: Swagger UI from django-ninja's bundled static files (``ninja`` in
  INSTALLED_APPS), nothing loaded from the internet; the online validator badge is off.
* Auth: :mod:`central.api.auth` (bearer token or console session); scope: :mod:`central.accounts.scope`.
* Errors: :mod:`central.api.errors` (JSON ``{"detail": ...}``).

:data:`ENDPOINTS` lists every operation with example parameters and the roles that may call
it; roles not listed under ``write`` still get a 403 for writes, and every role's reads are
filtered to its scope (a tour of every URL as every role uses it).
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ninja import NinjaAPI, Swagger
from ninja.renderers import JSONRenderer

from central.api import errors
from central.api.auth import AUTH
from central.api.routers import attendance, devices, employees, org, records, reports, users


class _Renderer(JSONRenderer):
    json_dumps_params = {"ensure_ascii": False}  # Chinese messages readable as they are


class _Api(NinjaAPI):
    def get_openapi_operation_id(self, operation: Any) -> str:
        return operation.view_func.__name__  # listEmployees-style ids: list_employees, send_command …


api = _Api(
    title="Seed 考勤 API",
    version="1",
    urls_namespace="api",
    renderer=_Renderer(),
    auth=AUTH,
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": True}),
    description=(
        "Seed 考勤系统的 REST API：员工、站点、部门、设备、打卡与事件、考勤记录与异常、请假、补卡、调班与加班申请、报表、控制台账号。/ "
        "The Seed attendance REST API: employees, sites, departments, terminals, punches and events, attendance records "
        "and exceptions, leave, make-up punches, shift changes and overtime requests, reports, console accounts.\n\n"
        "认证 / Auth: `Authorization: Bearer <token>`（在控制台创建 / made in the console）or the console session. "
        "每个调用都按调用者的角色与范围过滤 / every call is filtered by the caller's role and scope."),
)
errors.install(api)
for module in (employees, org, devices, records, attendance, reports, users):
    api.add_router("", module.router)

ALL_ROLES = ("superuser", "hr_admin", "manager", "auditor", "employee")
WRITERS = ("superuser", "hr_admin")
DECIDERS = ("superuser", "hr_admin", "manager")  # approve or reject requests (central.accounts.scope)
OWN = ("employee",)  # one's own requests: every role with an employee record (in the tours, the employee role only)


class Endpoint(NamedTuple):
    method: str
    path: str  # as in the OpenAPI document, with {placeholders}
    params: dict[str, Any]  # example query parameters
    roles: tuple[str, ...]  # roles that may succeed; others get 403 (writes) or an empty / 404 answer (reads)
    body: dict[str, Any] | None = None  # example JSON body of a write


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/v1/employees", {"limit": 10, "active": "true"}, ALL_ROLES),
    Endpoint("POST", "/api/v1/employees", {}, WRITERS,
             {"number": "E900", "name": "示例 Example", "site": "{site}", "verify_mode": "any"}),
    Endpoint("GET", "/api/v1/employees/{number}", {}, ALL_ROLES),
    Endpoint("PUT", "/api/v1/employees/{number}", {}, WRITERS, {"name": "新名字 New name"}),
    Endpoint("DELETE", "/api/v1/employees/{number}", {"purge": "false"}, WRITERS),
    # {face_photo}: the base64 of a photo of one face (the tests fill in a real one)
    Endpoint("PUT", "/api/v1/employees/{number}/faces", {}, WRITERS,
             {"photos": [{"name": "E001.jpg", "data": "{face_photo}"}]}),
    Endpoint("DELETE", "/api/v1/employees/{number}/faces", {}, WRITERS),
    Endpoint("GET", "/api/v1/sites", {}, ALL_ROLES),
    Endpoint("GET", "/api/v1/departments", {"site": "{site}"}, ALL_ROLES),
    Endpoint("GET", "/api/v1/devices", {}, ALL_ROLES),
    Endpoint("GET", "/api/v1/devices/{device_id}", {}, ALL_ROLES),
    Endpoint("POST", "/api/v1/devices/{device_id}/commands", {}, WRITERS, {"cmd": "resync"}),
    Endpoint("GET", "/api/v1/punches", {"since": "2026-03-01T00:00:00Z", "limit": 50}, ALL_ROLES),
    # {yesterday}: the day before the tests' today (an import takes the last 62 days)
    Endpoint("POST", "/api/v1/punches/import", {}, WRITERS,
             {"punches": [{"employee": "{number}", "at": "{yesterday}T08:55:00", "direction": "in"}], "source": "erp"}),
    Endpoint("GET", "/api/v1/events", {"since": "2026-03-01T00:00:00Z", "limit": 50}, ALL_ROLES),
    Endpoint("GET", "/api/v1/attendance/records", {"from": "2026-03-01", "to": "2026-03-31", "employee": "{number}"},
             ALL_ROLES),
    Endpoint("GET", "/api/v1/attendance/exceptions", {"from": "2026-03-01", "to": "2026-03-31"}, ALL_ROLES),
    Endpoint("GET", "/api/v1/attendance/leave", {"from": "2026-03-01", "to": "2026-03-31"}, ALL_ROLES),
    Endpoint("GET", "/api/v1/attendance/makeup-punches", {"from": "2026-03-01", "to": "2026-03-31"}, ALL_ROLES),
    Endpoint("GET", "/api/v1/attendance/leave-balances", {"year": 2026}, ALL_ROLES),
    Endpoint("GET", "/api/v1/attendance/closed-months", {"year": 2026}, ALL_ROLES),
    Endpoint("GET", "/api/v1/attendance/month-confirmations", {"month": "2026-03"}, ALL_ROLES),
    Endpoint("POST", "/api/v1/attendance/month-confirmations", {}, OWN, {"month": "2026-03", "state": "confirmed"}),
    Endpoint("POST", "/api/v1/attendance/leave", {}, OWN,
             {"leave_type": "AL", "start": "2026-03-16", "end": "2026-03-16", "reason": "探亲 Family visit"}),
    Endpoint("POST", "/api/v1/attendance/leave", {}, WRITERS,
             {"employee": "{number}", "leave_type": "AL", "start": "2026-03-17", "end": "2026-03-17", "reason": "体检"}),
    Endpoint("POST", "/api/v1/attendance/makeup-punches", {}, OWN,
             {"at": "2026-03-03T18:02:00+08:00", "direction": "out", "reason": "忘记打卡 Forgot to punch"}),
    Endpoint("POST", "/api/v1/attendance/leave/{leave_id}/withdrawal", {}, ()),
    Endpoint("POST", "/api/v1/attendance/makeup-punches/{punch_id}/withdrawal", {}, ()),
    Endpoint("POST", "/api/v1/attendance/leave/{leave_id}/decision", {}, DECIDERS, {"decision": "approve"}),
    Endpoint("POST", "/api/v1/attendance/leave/{leave_id}/early-end", {}, DECIDERS,
             {"back_on": "2026-03-09", "reason": "没有去 Did not go"}),
    Endpoint("POST", "/api/v1/attendance/makeup-punches/{punch_id}/decision", {}, DECIDERS, {"decision": "reject"}),
    Endpoint("POST", "/api/v1/attendance/overtime/{record_id}/decision", {}, DECIDERS,
             {"decision": "approve", "minutes": 90}),
    Endpoint("GET", "/api/v1/attendance/shift-changes", {"from": "2026-03-01", "to": "2026-03-31"}, ALL_ROLES),
    Endpoint("POST", "/api/v1/attendance/shift-changes", {}, OWN,
             {"start": "2026-03-14", "end": "2026-03-14", "shift": "白班 Day", "reason": "赶货 Rush order"}),
    Endpoint("POST", "/api/v1/attendance/shift-changes/{change_id}/answer", {}, (), {"agree": True}),
    Endpoint("POST", "/api/v1/attendance/shift-changes/{change_id}/withdrawal", {}, ()),
    Endpoint("POST", "/api/v1/attendance/shift-changes/{change_id}/decision", {}, DECIDERS, {"decision": "approve"}),
    Endpoint("GET", "/api/v1/attendance/overtime-requests", {"from": "2026-03-01", "to": "2026-03-31"}, ALL_ROLES),
    Endpoint("POST", "/api/v1/attendance/overtime-requests", {}, OWN,
             {"date": "2026-03-13", "minutes": 120, "reason": "赶货 Rush order"}),
    Endpoint("POST", "/api/v1/attendance/overtime-requests/{request_id}/withdrawal", {}, ()),
    Endpoint("POST", "/api/v1/attendance/overtime-requests/{request_id}/decision", {}, DECIDERS,
             {"decision": "approve"}),
    # {username}: an account a writer of site A may change (the manager's); POST's username is made per role
    Endpoint("GET", "/api/v1/users", {"state": "active"}, ALL_ROLES),
    Endpoint("POST", "/api/v1/users", {}, WRITERS, {"username": "new-user", "role": "employee", "employee": "{number}"}),
    Endpoint("PUT", "/api/v1/users/{username}", {}, WRITERS, {"name": "王经理 Manager Wang"}),
    Endpoint("POST", "/api/v1/users/{username}/password-reset", {}, WRITERS),
    Endpoint("GET", "/api/v1/reports", {}, ALL_ROLES),
    Endpoint("GET", "/api/v1/reports/{name}", {"from": "2026-03-01", "to": "2026-03-31"}, ALL_ROLES),
]
