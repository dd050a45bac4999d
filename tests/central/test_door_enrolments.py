"""Templates enrolled at a door reach the central (门上登记上传, docs/protocol.md change 20): the receiver takes an
employee's faces and fingers sent by a terminal of their site as the central's own (one roster version, one audit
entry naming the terminal), acknowledges a resend without a change, and refuses, each on its own with the reason in
the ack, an employee it does not have, a face that is another employee's and a malformed item;
a refused enrolment is recorded without its templates."""
from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import numpy as np
import pytest
from central_support import send

from central.accounts.models import AuditEntry
from central.ingest.handler import Ingest
from central.ingest.models import RejectedMessage
from central.people import roster
from central.people.models import Employee, Site

pytestmark = pytest.mark.django_db


def face(seed: int) -> str:
    vector = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return base64.b64encode((vector / np.linalg.norm(vector) * 1.4).astype(np.float32).tobytes()).decode()


FINGER = base64.b64encode(bytes(range(256)) * 2).decode()


def enrolment(number: str, at: str = "2026-12-07T02:00:00.000000Z", **templates: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "employee_number": number, "enrolled_at": at, **templates}


@pytest.fixture
def site(db: Any) -> None:
    Site.objects.create(code="s1", name="一厂")
    Site.objects.create(code="s2", name="二厂")
    roster.upsert_employees([{"number": "E1", "name": "张三", "site": "s1"}, {"number": "E2", "name": "李四", "site": "s1"},
                             {"number": "F1", "name": "王五", "site": "s2"}])


def test_templates_from_a_door_become_the_centrals_and_a_resend_changes_nothing(site) -> None:
    ingest = Ingest()
    version = roster.current_version()
    item = enrolment("E1", faces=[face(1), face(2)], fingers=[{"finger": 3, "template": FINGER}])
    ack = send(ingest, "enrolments", {"batch": str(uuid.uuid4()), "enrolments": [item]})[0]
    assert ack["stored"] == [item["id"]] and ack["rejected"] == []
    employee = Employee.objects.get(number="E1")
    assert (employee.faces, employee.faces_managed) == ([face(1), face(2)], True)
    assert (employee.fingers, employee.fingers_managed) == ([{"finger": 3, "template": FINGER}], True)
    assert roster.current_version() == version + 1
    message = roster.employee_message(employee)  # what every terminal of the site now gets
    assert message["faces"] == [face(1), face(2)] and message["fingers"] == [{"finger": 3, "template": FINGER}]
    entry = AuditEntry.objects.get(action="employee.templates_enrolled")
    assert (entry.actor, entry.target) == ("device:door-a", "E1")
    assert entry.detail == {"device": "door-a", "faces": 2, "fingers": 1, "roster_version": version + 1}

    again = send(ingest, "enrolments", {"batch": str(uuid.uuid4()), "enrolments": [item]})[0]
    assert again["stored"] == [item["id"]] and roster.current_version() == version + 1  # an ack lost: no new version
    faces_only = enrolment("E1", faces=[])  # the admin deleted the faces at the door: the fingers stay
    send(ingest, "enrolments", {"batch": str(uuid.uuid4()), "enrolments": [faces_only]})
    employee.refresh_from_db()
    assert employee.faces == [] and employee.fingers == [{"finger": 3, "template": FINGER}]


def test_each_refused_enrolment_is_named_in_the_ack_and_kept_without_its_templates(site) -> None:
    ingest = Ingest()
    send(ingest, "enrolments", {"batch": str(uuid.uuid4()), "enrolments": [enrolment("E1", faces=[face(1)])]})
    version = roster.current_version()
    items = [enrolment("X9", faces=[face(5)]),  # no such employee
             enrolment("F1", faces=[face(6)]),  # another site's: the roster is the company's, taken
             enrolment("E2", faces=[face(1)]),  # E1's face
             enrolment("E2"),  # neither faces nor fingers
             {**enrolment("E2"), "faces": ["bm90IGEgZmFjZQ=="]},  # not a descriptor
             enrolment("E2", faces=[face(7)])]  # good: taken whatever the others
    ack = send(ingest, "enrolments", {"batch": str(uuid.uuid4()), "enrolments": items})[0]
    assert ack["stored"] == [items[1]["id"], items[5]["id"]]
    reasons = {r["id"]: r["reason"] for r in ack["rejected"]}
    assert "no employee X9 on the central" in reasons[items[0]["id"]]
    assert "The same face as employee E1" in reasons[items[2]["id"]]
    assert "faces, fingers or both" in reasons[items[3]["id"]] and "face 0" in reasons[items[4]["id"]]
    assert Employee.objects.get(number="E2").faces == [face(7)] and roster.current_version() == version + 2
    assert Employee.objects.get(number="F1").faces == [face(6)]
    kept = list(RejectedMessage.objects.filter(device_id="door-a").values_list("item_id", "payload"))
    assert {item_id for item_id, _payload in kept} == {items[i]["id"] for i in (0, 2, 3, 4)}
    assert not any(face(n) in payload for _item_id, payload in kept for n in (1, 5))
    assert any("(1 templates not kept)" in payload for _item_id, payload in kept)

    send(ingest, "enrolments", {"batch": "not a uuid", "enrolments": [enrolment("E2", faces=[face(8)])]})
    whole = RejectedMessage.objects.filter(item_id__isnull=True).order_by("pk").last()
    assert whole is not None and face(8) not in whole.payload and "not kept" in whole.payload
    assert json.loads(json.dumps(ack))  # the ack is plain JSON


def test_one_face_enrolled_for_two_employees_in_one_batch_is_taken_once(site) -> None:
    """The central's faces are read once a batch and kept current: the second employee with the first's new face is
    refused, and one whose old face went to nobody else is taken."""
    first, second = enrolment("E1", faces=[face(10)]), enrolment("E2", faces=[face(10)])
    ack = send(Ingest(), "enrolments", {"batch": str(uuid.uuid4()), "enrolments": [first, second]})[0]
    assert ack["stored"] == [first["id"]]
    assert [r["id"] for r in ack["rejected"]] == [second["id"]] and "employee E1" in ack["rejected"][0]["reason"]
    moved = [enrolment("E1", faces=[face(11)]), enrolment("E2", faces=[face(10)])]  # E1 re-enrolled, then E2
    assert send(Ingest(), "enrolments", {"batch": str(uuid.uuid4()), "enrolments": moved})[0]["stored"] == [
        moved[0]["id"], moved[1]["id"]]


def test_an_enrolment_made_before_the_templates_held_does_not_replace_them(site) -> None:
    """Door A enrols 张三 at 02:00 and its ack is lost; door B enrols him again at 03:00; door A's resend of 02:00 then
    arrives: 03:00's faces stay (and its fingers, which 02:00 did not send, are untouched by it). HR's photos taken
    by the central later win over a door's enrolment made before them but sent after."""
    from central.accounts.models import Role, User
    from central.people.face_photos import clear_faces

    ingest = Ingest()
    first = enrolment("E1", "2026-12-07T02:00:00.000000Z", faces=[face(1)])
    later = enrolment("E1", "2026-12-07T03:00:00.000000Z", faces=[face(2)], fingers=[{"finger": 1, "template": FINGER}])
    assert send(ingest, "enrolments", {"batch": str(uuid.uuid4()), "enrolments": [first]})[0]["stored"] == [first["id"]]
    send(ingest, "enrolments", {"batch": str(uuid.uuid4()), "enrolments": [later]}, device="door-b")
    version = roster.current_version()
    resend = send(ingest, "enrolments", {"batch": str(uuid.uuid4()), "enrolments": [first]})[0]
    assert resend["stored"] == [first["id"]] and resend["rejected"] == []  # acknowledged: the door stops sending it
    employee = Employee.objects.get(number="E1")
    assert employee.faces == [face(2)] and employee.fingers == [{"finger": 1, "template": FINGER}]
    assert roster.current_version() == version  # nothing for the terminals to take
    # a finger enrolled at 02:30 (before 03:00's fingers) with faces at 04:00 in another enrolment: each kind on its own
    mixed = enrolment("E1", "2026-12-07T02:30:00.000000Z", fingers=[{"finger": 2, "template": FINGER}])
    newer_faces = enrolment("E1", "2026-12-07T04:00:00.000000Z", faces=[face(3)])
    send(ingest, "enrolments", {"batch": str(uuid.uuid4()), "enrolments": [mixed, newer_faces]})
    employee.refresh_from_db()
    assert employee.faces == [face(3)] and employee.fingers == [{"finger": 1, "template": FINGER}]
    # HR clears his faces on the central now (after 04:00): a door's enrolment from 05:00 yesterday is older
    hr = User.objects.create_user("hr", password="x" * 12, is_superuser=True, role=Role.HR_ADMIN)
    clear_faces(hr, employee)
    stale = enrolment("E1", "2026-12-06T05:00:00.000000Z", faces=[face(4)])
    send(ingest, "enrolments", {"batch": str(uuid.uuid4()), "enrolments": [stale]})
    employee.refresh_from_db()
    assert employee.faces == [] and employee.faces_managed
