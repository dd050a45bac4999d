"""/employees: the staff list within the caller's scope; writes through :mod:`central.people.services`.

Every write is scope-checked, audited and reaches the terminals through the roster (the
services do all three). An employee outside the caller's scope answers 404 like an unknown
one; a role that may not change people answers 403.
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from ninja import Query, Router, Status

from central.accounts import scope
from central.accounts.models import User
from central.api import cursor as keyset
from central.api.auth import caller
from central.api.errors import ApiError, not_found
from central.api.routers.common import CODE, TEXT, cursor_param, limit_param
from central.api.schemas import (
    ERRORS,
    EmployeeCreate,
    EmployeeOut,
    EmployeePage,
    EmployeeRemoved,
    EmployeeWrite,
    FacesIn,
    FacesOut,
)
from central.people import face_photos, services
from central.people.models import Department, Employee
from contract import protocol as p

router = Router(tags=["employees 员工"])


TERMS = ("joined", "left", "work_started", "default_shift", "exempt", "overtime_listed")


def terms(e: Employee) -> dict[str, Any]:
    """The employee's attendance terms as the API writes them (none set: all empty)."""
    profile = getattr(e, "attendance", None)
    if profile is None:
        return {"joined": None, "left": None, "work_started": None, "default_shift": None, "exempt": False,
                "overtime_listed": False}
    return {"joined": profile.joined, "left": profile.left, "work_started": profile.work_started,
            "default_shift": profile.default_shift.name if profile.default_shift else None, "exempt": profile.exempt,
            "overtime_listed": profile.overtime_listed}


def out(e: Employee) -> dict:
    return {"number": e.number, "name": e.name, "site": e.site.code,
            "department": e.department.name if e.department else "", "card": e.card, "has_pin": bool(e.pin_hash),
            "role": e.role, "verify_mode": e.verify_mode, "allowed_devices": list(e.allowed_devices),
            "active": e.active, "faces": len(e.faces or ()), "fingers": len(e.fingers or ()), "version": e.version,
            "attendance": terms(e), "created_at": keyset.stamp(e.created_at), "updated_at": keyset.stamp(e.updated_at)}


def _visible(user: User) -> QuerySet[Employee]:
    return scope.employees(user).select_related("site", "department", "attendance", "attendance__default_shift")


def _find(user: User, number: str) -> Employee:
    found = _visible(user).filter(number=number).first() if re.match(p.NUMBER_RE, number) else None
    if found is None:
        raise not_found("employee", number)
    return found


def _check_place(user: User, site_code: str, department: str) -> None:
    """The site must be one the caller sees (else it reads as unknown) and may place people at (else 403)."""
    site = scope.sites(user).filter(code=site_code).first()
    if site is None:
        raise ApiError(422, f"站点不存在 / no site {site_code!r}", "site")
    dept = Department.objects.filter(site=site, name=department.strip()).first() if department.strip() else None
    scope.check_site_allowed(user, site, dept)


def _save(user: User, data: services.EmployeeInput, creating: bool, sent_terms: dict[str, Any] | None = None) -> Employee:
    """The employee, and the attendance terms sent (merged over the stored ones), in one transaction: terms refused
    leave the employee as it was."""
    _check_place(user, data.site, data.department)
    with transaction.atomic():
        saved = services.save_employee(user, data, creating=creating)
        if sent_terms is not None:
            _save_terms(user, _find(user, saved.number), sent_terms)
    return _find(user, saved.number)


def _save_terms(user: User, employee: Employee, sent: dict[str, Any]) -> None:
    from central.attendance.models import ShiftType
    from central.attendance.services import AttendanceError, save_attendance_profile

    values = {**terms(employee), **sent}
    name = values["default_shift"]
    values["default_shift"] = ShiftType.objects.filter(name=name).first() if name else None
    if name and values["default_shift"] is None:
        raise ApiError(422, f"没有名为 {name} 的班次 / no shift named {name!r}", "attendance.default_shift")
    for flag in ("exempt", "overtime_listed"):
        values[flag] = bool(values[flag])
    try:
        save_attendance_profile(user, employee, values)
    except AttendanceError as exc:
        raise ApiError(422, str(exc), f"attendance.{exc.field}" if exc.field else "attendance") from None


@router.get("/employees", response={200: EmployeePage, **ERRORS}, summary="员工列表 / employees in your scope")
def list_employees(request, site: str | None = Query(None, pattern=CODE, description="站点代码 / site code"),
                   department: str | None = Query(None, max_length=100, pattern=TEXT, description="部门名称 / department name"),
                   active: bool | None = Query(None, description="只看在职 (true) 或离职 (false) / only active or inactive"),
                   limit: int = limit_param(), cursor: str | None = cursor_param()):
    rows = scope.narrowed(_visible(caller(request)), site, department)
    if active is not None:
        rows = rows.filter(active=active)
    items, next_cursor = keyset.page(keyset.after_key(rows, cursor, "number"), limit, lambda e: (e.number,))
    return {"items": [out(e) for e in items], "next_cursor": next_cursor}


@router.post("/employees", response={201: EmployeeOut, **ERRORS}, summary="新增员工 / add an employee")
def create_employee(request, payload: EmployeeCreate):
    user = caller(request)
    scope.require_manage(user)
    data = services.EmployeeInput(
        number=payload.number, name=payload.name, site=payload.site, department=payload.department or "",
        card=payload.card or None, pin=payload.pin or None, verify_mode=payload.verify_mode or "any",
        role=payload.role or "employee", allowed_devices=list(payload.allowed_devices or []),
        active=True if payload.active is None else payload.active)
    sent = payload.model_dump(exclude_unset=True).get("attendance")
    return Status(201, out(_save(user, data, creating=True, sent_terms=sent)))


@router.get("/employees/{number}", response={200: EmployeeOut, **ERRORS}, summary="员工详情 / one employee")
def get_employee(request, number: str):
    return out(_find(caller(request), number))


@router.put("/employees/{number}", response={200: EmployeeOut, **ERRORS},
            summary="修改员工 / change an employee (fields left out keep their value)")
def update_employee(request, number: str, payload: EmployeeWrite):
    user = caller(request)
    current = _find(user, number)
    scope.require_manage(user)
    sent = payload.model_dump(exclude_unset=True)
    for name in ("name", "site"):
        if name in sent and sent[name] is None:
            raise ApiError(422, f"{name}: 不能为空 / may not be null", name)
    data = services.EmployeeInput(
        number=current.number, name=sent.get("name", current.name), site=sent.get("site", current.site.code),
        department=(sent["department"] or "") if "department" in sent else (current.department.name if current.department else ""),
        card=(sent["card"] or None) if "card" in sent else current.card,
        pin=(sent["pin"] if sent["pin"] is not None else "") if "pin" in sent else None,
        verify_mode=sent.get("verify_mode") or current.verify_mode, role=sent.get("role") or current.role,
        allowed_devices=list(sent["allowed_devices"] or []) if "allowed_devices" in sent else list(current.allowed_devices),
        active=current.active if sent.get("active") is None else sent["active"], moved_on=sent.get("moved_on"))
    return out(_save(user, data, creating=False, sent_terms=sent.get("attendance")))


@router.delete("/employees/{number}", response={200: EmployeeRemoved, **ERRORS},
               summary="停用（默认）或删除员工 / deactivate (default) or delete an employee")
def remove_employee(request, number: str, purge: bool = Query(
        False, description="true：彻底删除并清除所有终端上的模板；默认停用 / true deletes and purges templates everywhere; "
                           "the default deactivates")):
    user = caller(request)
    employee = _find(user, number)
    scope.require_manage(user)
    if purge:
        version = services.delete_employee(user, employee)
        return {"number": number, "action": "deleted", "roster_version": version}
    changed = services.deactivate_employee(user, employee)
    return {"number": number, "action": "deactivated", "roster_version": changed.version}


@router.put("/employees/{number}/faces", response={200: FacesOut, **ERRORS},
            summary="用照片登记人脸（替换原有模板） / enrol the employee's face from photos (replaces the templates)")
def put_faces(request, number: str, payload: FacesIn):
    """Each photo through the door's enrolment gates on the central (:mod:`central.people.face_photos`); refused
    whole (422, each reason named) when no photo is usable, the photos show different people, or the face is already
    another employee's. The photos are not kept."""
    user = caller(request)
    employee = _find(user, number)
    scope.require_manage(user)
    photos = []
    for index, item in enumerate(payload.photos):
        try:
            data = base64.b64decode(item.data, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(422, f"第 {index + 1} 张照片不是 base64 / photo {index + 1} is not base64",
                           f"photos.{index}.data") from None
        photos.append(face_photos.as_photo(item.name or f"photo-{index + 1}", data))
    with face_photos.shared_enroller() as enroller:
        described = face_photos.describe(face_photos.Upload(photos, []), enroller, number=employee.number)
    try:
        done = face_photos.apply(user, described, source=f"API {employee.number}")
    except face_photos.FacesRefused as exc:
        raise ApiError(422, exc.plan.refusal(), "photos") from None
    checked = done.plan
    return {"number": employee.number, "templates": len(checked.employees[0].templates), "roster_version": done.version,
            "photos": [{"name": r.file, "state": r.state, "message": r.message} for r in checked.photos]}


@router.delete("/employees/{number}/faces", response={200: FacesOut, **ERRORS},
               summary="清除员工的人脸模板 / clear the employee's face templates (the terminals delete them)")
def delete_faces(request, number: str):
    user = caller(request)
    employee = _find(user, number)
    scope.require_manage(user)
    version = face_photos.clear_faces(user, employee)
    return {"number": employee.number, "templates": 0, "roster_version": version, "photos": []}
