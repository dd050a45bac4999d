"""Templates enrolled at a door (门上登记): a terminal sends the face or fingerprint templates an admin enrolled there for
an employee of the roster, and the central takes them as that employee's own, so every terminal gets them
with the roster (docs/protocol.md, change 20).

Taken when the employee is the central's (of any site: the roster is the company's, and a door lets in whom
``allowed_devices`` allows) and a face is no other active employee's (the central's duplicate check, as for photos:
:mod:`central.people.face_photos`). Refused otherwise, with the reason in the terminal's ack: the terminal keeps the
refused enrolment aside and its templates stay on it. The same templates again change nothing (an enrolment sent
twice, an ack lost), and neither do templates enrolled before those the central holds were made (a door's resend
after another door enrolled the employee again, a door that was offline, HR's photos since): acknowledged, and
the roster then brings the newer ones to that door too. A change is one roster version and one audit entry
``employee.templates_enrolled`` naming the terminal (never a template).
"""
from __future__ import annotations

import logging

from django.db import transaction

from central.accounts import audit
from central.people import roster
from central.people.face_photos import EmployeeFaces, StoredFaces, not_anyone_else
from central.people.models import Employee
from contract import protocol as p
from contract.stamps import parse_stamp

log = logging.getLogger(__name__)


def take(site: str, device: str, item: p.Enrolment, stored: StoredFaces | None = None) -> str | None:
    """Hold ``item``'s templates as its employee's (in the caller's transaction); the reason when refused.
    ``stored``: the central's faces read once for a batch (kept current here)."""
    from terminal.vision.gallery import DEFAULT_THRESHOLD

    with transaction.atomic():
        employee = Employee.objects.select_for_update(of=("self",)).select_related("site", "department").filter(
            number=item.employee_number).first()
        if employee is None:
            return f"no employee {item.employee_number} on the central"
        faces = list(item.faces) if item.faces is not None else None
        fingers = [f.model_dump() for f in item.fingers] if item.fingers is not None else None
        at = parse_stamp(item.enrolled_at)
        if faces is not None and employee.faces_since is not None and at < employee.faces_since:
            faces = None  # newer faces are held: this enrolment's are superseded
        if fingers is not None and employee.fingers_since is not None and at < employee.fingers_since:
            fingers = None
        if faces is None and fingers is None:
            log.info("enrolment of employee %s at %s/%s superseded by newer templates", employee.number, site, device)
            return None
        if faces:
            group = EmployeeFaces(employee.number, employee.name, len(employee.faces or ()), templates=faces)
            not_anyone_else([group], lambda _number: True, DEFAULT_THRESHOLD, stored)
            if group.errors:
                return group.errors[0].split(" / ", 1)[-1]
        same_faces = faces is None or (employee.faces_managed and list(employee.faces) == faces)
        same_fingers = fingers is None or (employee.fingers_managed and list(employee.fingers) == fingers)
        if same_faces and same_fingers:
            return None
        record = roster.employee_message(employee)
        if faces is not None:
            record["faces"] = faces
        if fingers is not None:
            record["fingers"] = fingers
        try:
            version = roster.upsert_employees([record], actor=f"device:{device}", templates_at=at)
        except roster.RosterError as exc:
            return str(exc)
        if stored is not None and faces is not None:
            stored.put(employee.number, faces if employee.active else [])
        audit.record(f"device:{device}", "employee.templates_enrolled", employee.number, {
            "device": device, "faces": None if faces is None else len(faces),
            "fingers": None if fingers is None else len(fingers), "roster_version": version})
    log.info("templates of employee %s enrolled at %s/%s taken (roster version %s)", employee.number, site, device,
             version)
    return None
