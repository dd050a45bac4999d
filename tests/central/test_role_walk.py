"""Every console URL and every API endpoint, as every role, aimed at another scope's rows.

Two sites; each scoped user belongs to site A. Site B's employee, door, punches and events carry
marker strings. Walking every URL (the console's URL map and the API's endpoint list, both
checked complete against what Django routes) with site B's keys and filters must answer 403 or
404, or 200 without a single marker, and no write aimed at site B may change anything.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timezone
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from central.accounts.models import ApiToken, Role, User
from central.accounts.services import create_token
from central.api.api import ENDPOINTS, OWN
from central.attendance.models import (
    LeaveRecord,
    LeaveType,
    MakeupPunch,
    MonthConfirmation,
    OvertimeRequest,
    RequestEvidence,
    ShiftChange,
    ShiftType,
)
from central.console.urls import ROLE_WALK, url_names
from central.ingest.models import Command, Event, Punch
from central.people import roster
from central.people.models import Department, Device, Employee, Site

pytestmark = pytest.mark.django_db
MARKERS = ("B-SECRET", "door-b-secret", "乙厂专员", "987654")
DATA_MARKERS = ("乙厂专员", "987654")  # what a refusal must not show either (it may repeat the key it was asked for)
ROLES = ("hr_admin", "manager", "auditor", "employee")


@pytest.fixture
def world() -> dict[str, Any]:
    a = Site.objects.create(code="site-a", name="甲厂")
    b = Site.objects.create(code="site-b", name="乙厂")
    ops_a = Department.objects.create(site=a, name="生产部")
    Department.objects.create(site=b, name="乙厂专员部")
    roster.upsert_employees([
        {"number": "A-1", "name": "甲厂员工", "department": "生产部", "site": "site-a"},
        {"number": "B-SECRET-1", "name": "乙厂专员", "department": "乙厂专员部", "site": "site-b", "card": "987654"},
        {"number": "B-SECRET-2", "name": "乙厂专员二", "department": "乙厂专员部", "site": "site-b"},
    ])
    now = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
    Device.objects.create(device_id="door-a", site=a, online=True, status={"queue_depth": 0})
    Device.objects.create(device_id="door-b-secret", site=b, online=True, status={"queue_depth": 0})
    for i, (number, site, door) in enumerate([("A-1", "site-a", "door-a"), ("B-SECRET-1", "site-b", "door-b-secret")]):
        Punch.objects.create(id=f"0190f3a0-0000-7000-8000-00000000000{i}", site=site, device_id=door,
                             employee_number=number, direction="in", method="card", punched_at=now, boot_id="b",
                             monotonic_ns=1, time_source="ntp", batch_id="0190f3a0-0000-7000-8000-0000000000bb",
                             received_at=now)
        Event.objects.create(id=f"0190f3a0-0000-7000-8000-0000000000e{i}", site=site, device_id=door, kind="tamper",
                             severity="warning", at=now, payload={"who": number}, received_at=now)
    secret = Employee.objects.get(number="B-SECRET-1")  # site B's pending requests: nobody here may decide them
    LeaveRecord.objects.create(employee=secret, leave_type=LeaveType.objects.create(code="AL", name="年假"),
                               start=date(2026, 3, 9), end=date(2026, 3, 9), reason="乙厂专员 leave")
    MakeupPunch.objects.create(employee=secret, at=now, direction="in", reason="乙厂专员 punch")
    day = ShiftType.objects.create(name="白班 Day", start=time(9), end=time(18))  # the API's example change asks for it
    ShiftChange.objects.create(employee=secret, start=date(2026, 3, 10), end=date(2026, 3, 10), shift=None, was="白班 Day",
                               partner=Employee.objects.get(number="B-SECRET-2"), partner_shift=day,
                               partner_answer="asked", reason="乙厂专员 swap")  # a swap asked within site B
    OvertimeRequest.objects.create(employee=secret, date=date(2026, 3, 12), minutes=120, reason="乙厂专员 overtime")
    RequestEvidence.objects.create(leave=LeaveRecord.objects.get(), name="乙厂专员.pdf", content_type="application/pdf",
                                   size=18, sha256="0" * 64, data=b"%PDF-1.4 B-SECRET\n", uploaded_by="B-SECRET-1")
    users = {
        "hr_admin": _user("hr", Role.HR_ADMIN, sites=[a]),
        "manager": _user("mg", Role.MANAGER, departments=[ops_a]),
        "auditor": _user("au", Role.AUDITOR, sites=[a]),
        "employee": _user("em", Role.EMPLOYEE, employee=Employee.objects.get(number="A-1")),
    }
    other = _user("other", Role.HR_ADMIN, sites=[b])
    foreign_token, _ = create_token(other, "site B's token", actor="test")
    return {"users": users, "b_employee": Employee.objects.get(number="B-SECRET-1"), "foreign_token": foreign_token}


def _user(name: str, role: str, *, sites: Any = (), departments: Any = (), employee: Any = None) -> User:
    user = User.objects.create_user(name, password="x" * 12, role=role, employee=employee)
    user.sites.set(sites)
    user.departments.set(departments)
    return user


def _clean(body: bytes, where: str, markers: tuple[str, ...] = MARKERS) -> None:
    """No marker in what the page shows; attributes that only echo the request's own filters are left out."""
    text = re.sub(r'(value|href|hx-get|hx-vals|action|data-[a-z-]+)="[^"]*"', "", body.decode("utf-8", errors="replace"))
    for marker in markers:
        assert marker not in text, f"{where} shows {marker}"


def _snapshot() -> tuple[Any, ...]:
    b = Employee.objects.get(number="B-SECRET-1")
    return (b.name, b.active, b.card, b.version, Command.objects.count(),
            ApiToken.objects.filter(revoked_at__isnull=False).count(),
            list(LeaveRecord.objects.values_list("state", flat=True)), list(MakeupPunch.objects.values_list("state", flat=True)),
            list(RequestEvidence.objects.values_list("pk", "name")),
            list(ShiftChange.objects.values_list("pk", "state", "partner_answer")),
            list(OvertimeRequest.objects.values_list("pk", "state")),
            list(User.objects.order_by("pk").values_list("username", "role", "is_active", "first_name", "password")))


def test_the_console_and_api_maps_are_complete() -> None:
    from django.urls import get_resolver

    console = url_names()
    assert "set_language" in console and console == set(ROLE_WALK)
    api_doc = json.loads(Client().get("/api/v1/openapi.json").content)
    routed = {(method.upper(), path) for path, item in api_doc["paths"].items() for method in item}
    assert routed == {(e.method, e.path) for e in ENDPOINTS}
    assert {"console", "api"} <= set(get_resolver().namespace_dict) | {"api"}


@pytest.mark.parametrize("role", ROLES)
def test_no_console_page_shows_or_changes_another_scopes_rows(world: dict[str, Any], role: str) -> None:
    client = Client()
    client.force_login(world["users"][role])
    keys = {"pk": world["b_employee"].pk, "device_id": "door-b-secret", "username": "other"}  # site B's HR admin
    filters = {"q": "B-SECRET", "device": "door-b-secret", "site": "site-b", "kind": "tamper"}
    before = _snapshot()
    for name, spec in ROLE_WALK.items():
        if name in ("login", "logout", "set_language"):
            continue
        kwargs = {"token_revoke": {"pk": world["foreign_token"].pk},  # site B's own rows
                  "attendance_request_evidence": {"kind": "leave", "pk": LeaveRecord.objects.get().pk},
                  }.get(name) or {k: keys[k] for k in spec["kwargs"]}
        url = reverse(f"console:{name}", kwargs=kwargs)
        if name == "audit" and role == "auditor":
            continue  # the admin audit log is one company-wide chain, read whole by auditors (central/accounts/scope.py)
        if "GET" in spec["methods"]:
            plain = client.get(url)  # every marker counts
            assert plain.status_code in (200, 403, 404), (role, name, plain.status_code)
            if plain.status_code == 200:
                _clean(plain.content, f"{role} GET {url}")
            # with site B's filters: a search box may say what it searched for, never a row of site B
            filtered = client.get(url, filters)
            assert filtered.status_code in (200, 403, 404), (role, name, filtered.status_code)
            if filtered.status_code == 200:
                _clean(filtered.content, f"{role} GET {url} filtered", (*DATA_MARKERS, "B-SECRET-1<"))
        if "POST" in spec["methods"] and name not in ("sites", "departments", "tokens", "employee_add") \
                and not spec.get("form"):
            answer = client.post(url, {"cmd": "open_door", "name": "changed", "number": "B-SECRET-1",
                                       "site": "site-b", "active": ""})
            assert answer.status_code in (403, 404), (role, name, answer.status_code)
    # writes that name site B in their body are refused too: a decision on site B's requests, or taking them back
    for kind, row in (("leave", LeaveRecord.objects.get()), ("makeup", MakeupPunch.objects.get())):
        answer = client.post(reverse("console:attendance_request_decide"), {"kind": kind, "id": row.pk, "decision": "approve"})
        assert answer.status_code in (403, 404), (role, kind, answer.status_code)
        answer = client.post(reverse("console:attendance_request_withdraw"), {"kind": kind, "id": row.pk})
        assert answer.status_code in (403, 404), (role, kind, answer.status_code)
        upload = SimpleUploadedFile("x.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")
        answer = client.post(reverse("console:attendance_request_attach"), {"kind": kind, "id": row.pk, "evidence": upload})
        assert answer.status_code in (403, 404), (role, kind, answer.status_code)
        answer = client.post(reverse("console:attendance_request_decide_many"), {"decision": "approve",
                                                                                 "pick": [f"{kind}:{row.pk}"]})
        assert answer.status_code in (302, 403), (role, kind, answer.status_code)  # a decider: "not found", nothing done
    answer = client.post(reverse("console:employee_add"), {"number": "B-NEW", "name": "新", "site": "site-b",
                                                           "verify_mode": "any", "role": "employee", "active": "on"})
    assert answer.status_code in (200, 403) and not Employee.objects.filter(number="B-NEW").exists()
    assert _snapshot() == before


@pytest.mark.parametrize("role", ROLES)
def test_no_api_endpoint_shows_or_changes_another_scopes_rows(world: dict[str, Any], role: str) -> None:
    _, clear = create_token(world["users"][role], "walk", actor="test")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {clear}")
    values = {"{number}": "B-SECRET-1", "{device_id}": "door-b-secret", "{site}": "site-b", "{name}": "punches",
              "{leave_id}": str(LeaveRecord.objects.get().pk), "{punch_id}": str(MakeupPunch.objects.get().pk),
              "{change_id}": str(ShiftChange.objects.get().pk), "{request_id}": str(OvertimeRequest.objects.get().pk),
              "{username}": "other"}  # site B's HR admin
    before = _snapshot()
    for endpoint in ENDPOINTS:
        path = endpoint.path
        for key, value in values.items():
            path = path.replace(key, value)
        params = {k: values.get(str(v), v) for k, v in endpoint.params.items()}
        params |= {"device": "door-b-secret", "site": "site-b"} if endpoint.method == "GET" and "{" not in endpoint.path else {}
        if endpoint.method == "GET":
            answer = client.get(path, params)
            assert answer.status_code in (200, 403, 404), (role, endpoint, answer.status_code)
            if answer.status_code == 200:
                _clean(answer.content, f"{role} GET {path}")
        else:
            body = json.loads(json.dumps(endpoint.body or {}).replace("{site}", "site-b").replace("{number}", "B-SECRET-1"))
            if endpoint.method == "POST" and path.endswith("/employees"):
                body["number"] = "B-NEW"
            query = "&".join(f"{k}={v}" for k, v in params.items())
            answer = client.generic(endpoint.method, f"{path}?{query}" if query else path, json.dumps(body),
                                    content_type="application/json")
            if endpoint.roles == OWN and answer.status_code == 201:  # one's own request: only ever for oneself
                made = json.loads(answer.content)
                if path.endswith("/month-confirmations"):  # one's own word on a month
                    assert role == "employee" and made["employee_number"] == "A-1", made
                    MonthConfirmation.objects.filter(employee__number="A-1").delete()
                    continue
                assert role == "employee" and made["employee_number"] == "A-1" and made["state"] == "pending", made
                model = {"leave": LeaveRecord, "makeup-punches": MakeupPunch, "shift-changes": ShiftChange,
                         "overtime-requests": OvertimeRequest}[
                    path.rsplit("/", 1)[1]]
                model.objects.filter(pk=made["id"]).delete()
                continue
            assert answer.status_code in (403, 404, 422), (role, endpoint, answer.status_code, answer.content[:200])
            _clean(answer.content, f"{role} {endpoint.method} {path}", DATA_MARKERS)
    assert _snapshot() == before and not Employee.objects.filter(number="B-NEW").exists()

