"""Writes to people from the console and the API: every one scope-checked, audited, and sent to terminals.

An employee saved here goes through :mod:`central.people.roster`, so it is checked with the
terminals' own rules and takes a roster version that reaches every door.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from central.accounts import audit, scope
from central.people import roster
from central.people.models import Department, Device, Employee, EmployeeMove, Site
from contract.pins import PinFormatError, hash_pin

if TYPE_CHECKING:
    from central.accounts.models import User

log = logging.getLogger(__name__)


@dataclass
class EmployeeInput:
    """What a person types into the employee form or sends to the API."""
    number: str
    name: str
    site: str
    department: str = ""
    card: str | None = None
    pin: str | None = None  # None keeps the stored PIN; "" clears it
    verify_mode: str = "any"
    role: str = "employee"
    allowed_devices: list[str] = field(default_factory=list)
    active: bool = True
    moved_on: date | None = None  # a new site or department: the first day worked there (None: today)


class PeopleError(ValueError):
    """A change that cannot be made; ``field`` names the form field it concerns (may be empty)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


# what a person reads beside a field the roster rules refused: "中文 / English", then the rule's reason
FIELD_LEADS = {
    "number": "工号无效 / Employee number not accepted",
    "name": "姓名无效 / Name not accepted",
    "site": "站点无效 / Site not accepted",
    "department": "部门无效 / Department not accepted",
    "card": "卡号无效 / Card not accepted",
    "pin": "密码无效 / PIN not accepted",
    "pin_hash": "密码无效 / PIN not accepted",
    "verify_mode": "验证方式无效 / Verification mode not accepted",
    "role": "终端角色无效 / Terminal role not accepted",
    "allowed_devices": "允许的门无效 / Doors not accepted",
    "active": "在职状态无效 / Employment status not accepted",
    "faces": "人脸模板无效 / Face templates not accepted",
    "fingers": "指纹模板无效 / Fingerprint templates not accepted",
}
GENERIC_LEAD = "员工资料无效 / Employee record not accepted"


def refusal_message(exc: roster.RosterError) -> str:
    """A refused record as a short message for the person who typed it, e.g. ``卡号无效 / Card not accepted: …``."""
    if exc.field == "card" and exc.holder:
        return f"该卡已被员工 {exc.holder} 使用 / Card already held by employee {exc.holder}"
    return f"{FIELD_LEADS.get(exc.field, GENERIC_LEAD)}: {exc.reason}"


def save_employee(user: User, data: EmployeeInput, *, creating: bool) -> Employee:
    """Create or change one employee within the user's scope; returns the stored row."""
    from central.attendance.services import queue_after_move, run_claimed

    scope.require_manage(user)
    site = Site.objects.filter(code=data.site).first()
    if site is None:
        raise PeopleError(f"站点不存在 / No site {data.site!r}", "site")
    department = Department.objects.filter(site=site, name=data.department.strip()).first() if data.department.strip() else None
    if data.department.strip() and department is None and not user.is_superuser and site.pk not in scope.grants(user).sites:
        raise PeopleError("部门不存在 / No such department at this site", "department")
    try:
        scope.check_site_allowed(user, site, department)
    except scope.ScopeDenied as exc:
        raise PeopleError(f"超出您的权限范围 / Not allowed: {exc}", "site") from None
    existing = Employee.objects.filter(number=data.number).first()
    if creating and existing is not None:
        raise PeopleError(f"工号已存在 / Employee number {data.number} is taken", "number")
    if not creating:
        if existing is None or not scope.employees(user).filter(pk=existing.pk).exists():
            raise PeopleError(f"没有该员工 / No employee {data.number}", "number")
    moving = existing is not None and not creating and (
        existing.site_id != site.pk or (existing.department.name if existing.department else "") != data.department.strip())
    moved_on = _check_move(existing, data.moved_on) if moving and existing is not None else None
    unknown = sorted(set(data.allowed_devices) - set(Device.objects.filter(
        device_id__in=data.allowed_devices).values_list("device_id", flat=True)))
    if unknown:
        raise PeopleError(f"未知的门 / Unknown door: {', '.join(unknown)}", "allowed_devices")
    pin_hash = existing.pin_hash if existing is not None else None
    if data.pin is not None:
        try:
            pin_hash = hash_pin(data.pin) if data.pin else None
        except PinFormatError as exc:
            raise PeopleError(f"{FIELD_LEADS['pin']}: {exc}", "pin") from None
    record = {"number": data.number, "name": data.name, "department": data.department.strip(), "card": data.card or None,
              "pin_hash": pin_hash, "role": data.role, "verify_mode": data.verify_mode,
              "allowed_devices": data.allowed_devices, "active": data.active, "site": site.code}
    with transaction.atomic():
        try:
            version = roster.upsert_employee(record, actor=user.username, moved_on=moved_on)
        except roster.RosterError as exc:
            raise PeopleError(refusal_message(exc), exc.field) from None
        detail: dict[str, object] = {"roster_version": version, "site": site.code, "active": data.active,
                                     "pin_changed": data.pin is not None}
        if moving and existing is not None and moved_on is not None:
            detail["moved"] = {"since": moved_on.isoformat(), "from_site": existing.site.code,
                               "from_department": existing.department.name if existing.department else "",
                               "to_department": data.department.strip()}
        audit.record(user.username, "employee.create" if creating else "employee.update", data.number, detail)
        saved = Employee.objects.get(number=data.number)
        job = None
        if moving and moved_on is not None and moved_on < timezone.localdate():
            job = queue_after_move(saved.pk, saved.number, moved_on, user.username)
    run_claimed(job)
    return saved


def _check_move(employee: Employee, moved_on: date | None) -> date:
    """The first day of a move (today when not given): not in the future, since the employee's row says where they
    are now, and not before their last move."""
    today = timezone.localdate()
    day = moved_on or today
    if day > today:
        raise PeopleError("调动生效日期不能晚于今天；请在当天再调动 / A move cannot take effect after today: make it on "
                          "its first day", "moved_on")
    last = EmployeeMove.objects.filter(employee=employee).order_by("-since").values_list("since", flat=True).first()
    if last is not None and day < last:
        raise PeopleError(f"早于上一次调动（{last.isoformat()} 生效） / Before the last move, which took effect on "
                          f"{last.isoformat()}", "moved_on")
    return day


def _require_managed(user: User, employee: Employee) -> None:
    """The employee is in the user's scope (else "no employee", as if it did not exist) and the role may change it."""
    if not scope.employees(user).filter(pk=employee.pk).exists():
        raise PeopleError(f"没有该员工 / No employee {employee.number}", "number")
    scope.require_manage(user)


def deactivate_employee(user: User, employee: Employee) -> Employee:
    """An employee who left: kept for the records, refused at every door."""
    _require_managed(user, employee)
    record = roster.employee_message(employee) | {"active": False, "faces": None, "fingers": None}
    with transaction.atomic():
        version = roster.upsert_employee(record, actor=user.username)
        audit.record(user.username, "employee.deactivate", employee.number, {"roster_version": version})
    return Employee.objects.get(pk=employee.pk)


def delete_employee(user: User, employee: Employee) -> int:
    _require_managed(user, employee)
    with transaction.atomic():
        version = roster.delete_employee(employee.number, actor=user.username)
        audit.record(user.username, "employee.delete", employee.number, {"roster_version": version})
    return version


def save_site(user: User, code: str, name: str, time_zone: str = "Asia/Shanghai") -> Site:
    if not user.is_superuser:
        raise scope.ScopeDenied("only a superuser adds sites")
    with transaction.atomic():
        site, created = Site.objects.update_or_create(code=code, defaults={"name": name, "time_zone": time_zone})
        audit.record(user.username, "site.create" if created else "site.update", code, {"name": name})
    return site


def save_department(user: User, site: Site, name: str) -> Department:
    scope.check_site_allowed(user, site)
    name = name.strip()
    if not name:
        raise PeopleError("部门名称不能为空 / The department needs a name", "name")
    with transaction.atomic():
        department, created = Department.objects.get_or_create(site=site, name=name)
        if created:
            audit.record(user.username, "department.create", f"{site.code}/{name}")
    return department
