"""An employee's face through the API (照片登记人脸): an HR system sends an employee's photos as base64 and the central
makes the templates the terminals get with the roster, or refuses the whole call naming each photo at fault; clears
them again. Real photos of ../shared/testdata/faces; read back through the API, the models and the audit log."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from central_support import token_for
from django.test import Client

from central.accounts.models import AuditEntry, Role
from central.people import roster
from central.people.models import Department, Employee, Site

pytestmark = [pytest.mark.django_db, pytest.mark.faces]


@pytest.fixture
def api(db: Any) -> dict[str, Any]:
    site = Site.objects.create(code="s1", name="一厂")
    Site.objects.create(code="s2", name="二厂")
    dept = Department.objects.create(site=site, name="装配")
    roster.upsert_employees([{"number": "A1", "name": "张伟", "site": "s1", "department": "装配"},
                             {"number": "A2", "name": "李娜", "site": "s1"}, {"number": "B1", "name": "王芳", "site": "s2"}])
    hr = token_for("hr", Role.HR_ADMIN, sites=[site])
    manager = token_for("mg", Role.MANAGER, departments=[dept])
    return {"hr": {"HTTP_AUTHORIZATION": f"Bearer {hr}"}, "manager": {"HTTP_AUTHORIZATION": f"Bearer {manager}"}}


def call(method: str, path: str, who: dict[str, str], body: Any = None) -> tuple[int, Any]:
    client = Client()
    answer = getattr(client, method)(path, body, content_type="application/json", **who) if body is not None \
        else getattr(client, method)(path, **who)
    return answer.status_code, answer.json()


def photo(faces_dir: Path, person: str, name: str) -> dict[str, str]:
    return {"name": name, "data": base64.b64encode((faces_dir / "people" / person / name).read_bytes()).decode()}


def test_photos_sent_become_templates_and_can_be_cleared(api, faces_dir) -> None:
    version = roster.current_version()
    status, body = call("put", "/api/v1/employees/A1/faces", api["hr"], {"photos": [
        photo(faces_dir, "John_Salley", "000179_02159509.jpg"), photo(faces_dir, "John_Salley", "000183_02159543.jpg"),
        photo(faces_dir, "John_Savage", "000289_01099139.jpg")]})  # blurred: left out, the call still succeeds
    assert status == 200, body
    assert (body["number"], body["templates"], body["roster_version"]) == ("A1", 2, version + 1)
    assert [(p["name"], p["state"]) for p in body["photos"]] == [
        ("000179_02159509.jpg", "ok"), ("000183_02159543.jpg", "ok"), ("000289_01099139.jpg", "skipped")]
    assert "Blurred" in body["photos"][2]["message"]
    stored = Employee.objects.get(number="A1").faces
    assert len(stored) == 2 and all(len(base64.b64decode(f)) == 512 for f in stored)
    assert call("get", "/api/v1/employees/A1", api["hr"])[1]["faces"] == 2
    answer = Client().put("/api/v1/employees/A1/faces", {"photos": [photo(faces_dir, "John_Salley", "000186_02159346.jpg")]},
                          content_type="application/json", **api["hr"])
    assert answer.status_code == 200 and not any(f in answer.content.decode() for f in Employee.objects.get(number="A1").faces)
    entry = AuditEntry.objects.filter(action="employee.faces_import").order_by("pk").last()
    assert entry is not None and entry.target == "API A1" and entry.detail["employees"] == ["A1"]

    status, body = call("delete", "/api/v1/employees/A1/faces", api["hr"])
    assert status == 200 and body["templates"] == 0 and Employee.objects.get(number="A1").faces == []
    assert AuditEntry.objects.filter(action="employee.faces_cleared", target="A1").exists()


def test_a_refused_call_names_each_photo_and_changes_nothing(api, faces_dir) -> None:
    call("put", "/api/v1/employees/A1/faces", api["hr"], {"photos": [photo(faces_dir, "obama", "obama.jpg")]})
    before = {e.number: list(e.faces) for e in Employee.objects.all()}
    mixed = {"photos": [photo(faces_dir, "John_Simm", "000288_00470387.jpg"),
                        photo(faces_dir, "John_Shimkus", "000375_03227651.jpg")]}
    status, body = call("put", "/api/v1/employees/A2/faces", api["hr"], mixed)
    assert (status, body["field"]) == (422, "photos")
    assert "照片不是同一个人" in body["detail"] and "000288_00470387.jpg" in body["detail"] and "000375_03227651.jpg" in body["detail"]
    status, body = call("put", "/api/v1/employees/A2/faces", api["hr"], {"photos": [photo(faces_dir, "obama", "obama2.jpg")]})
    assert status == 422 and "A2：与员工 A1 的人脸相同" in body["detail"] and "The same face as employee A1" in body["detail"]
    status, body = call("put", "/api/v1/employees/A2/faces", api["hr"],
                        {"photos": [{"name": "dog.jpg", "data": base64.b64encode(
                            (faces_dir / "nonface" / "dogs.jpg").read_bytes()).decode()}]})
    assert status == 422 and "没有一张可用的照片" in body["detail"]
    status, body = call("put", "/api/v1/employees/A2/faces", api["hr"], {"photos": [{"name": "x", "data": "not base64!"}]})
    assert (status, body["field"]) == (422, "photos.0.data")
    status, body = call("put", "/api/v1/employees/A2/faces", api["hr"], {"photos": [], "extra": 1})
    assert status == 422
    assert call("put", "/api/v1/employees/B1/faces", api["hr"], mixed)[0] == 404  # another site's: as if unknown
    assert call("put", "/api/v1/employees/A1/faces", api["manager"], mixed)[0] == 403
    assert call("delete", "/api/v1/employees/A1/faces", api["manager"])[0] == 403
    assert {e.number: list(e.faces) for e in Employee.objects.all()} == before
