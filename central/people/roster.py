"""Employee writes and the versioned roster sent to terminals.

Every change (upsert or delete of one employee) takes the next roster version and is
logged as a :class:`~central.people.models.RosterChange`; a terminal at version *n* gets
the delta ``n → current`` or, when it is behind or asks, the full roster. A record is
checked with the same rules the terminals apply (``contract``) before it is stored, so the
central can never publish a roster a terminal refuses: a bad record is refused here with a
reason naming the field, and the rest of the roster keeps flowing.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from central.people.models import Department, Employee, RosterChange, Site
from contract import protocol as p
from contract.roster_rules import RosterRuleError, check_roster, check_unique_card

log = logging.getLogger(__name__)
DEFAULT_SITE = "default"


class RosterError(ValueError):
    """An employee record the roster cannot take; the message names the employee and the field."""

    def __init__(self, message: str, *, field: str = "", number: str | None = None, reason: str = "",
                 holder: str | None = None):
        super().__init__(message)
        self.field = field
        self.number = number
        self.reason = reason or message  # the rule's own words, without the employee and field
        self.holder = holder  # for a card already held: the employee who holds it


def current_version() -> int:
    return int(RosterChange.objects.aggregate(v=Max("version"))["v"] or 0)


def _site(code: str | None) -> Site:
    if code:
        found = Site.objects.filter(code=code).first()
        if found is None:
            raise RosterError(f"site {code!r} does not exist", field="site")
        return found
    site = Site.objects.order_by("pk").first()
    if site is None:
        site = Site.objects.create(code=DEFAULT_SITE, name=DEFAULT_SITE)
    return site


def _department(site: Site, name: str, cache: dict[tuple[int, str], Department]) -> Department | None:
    name = name.strip()
    if not name:
        return None
    key = (site.pk, name)
    if key not in cache:
        cache[key], _ = Department.objects.get_or_create(site=site, name=name)
    return cache[key]


def _refused(rule: RosterRuleError) -> RosterError:
    return RosterError(str(rule), field=rule.field, number=rule.number, reason=rule.reason, holder=rule.holder)


def check_records(records: Iterable[Mapping[str, Any]]) -> list[p.RosterEmployee]:
    """Apply the terminals' rules to new records, also against the cards already held in the database."""
    items = [dict(r) for r in records]
    good, bad = check_roster([{k: v for k, v in r.items() if k != "site"} for r in items])
    if bad:
        raise _refused(bad[0])
    cards = [e.card for e in good if e.card]
    held = Employee.objects.filter(card__in=cards).exclude(number__in=[e.number for e in good])
    holders = {card: number for card, number in held.values_list("card", "number") if card} if cards else {}
    try:
        for employee in good:
            check_unique_card(employee.card, employee.number, holders)
    except RosterRuleError as rule:
        raise _refused(rule) from None
    return good


def upsert_employees(records: Iterable[Mapping[str, Any]], *, actor: str = "system") -> int:
    """Add or change employees (one version each, one transaction); returns the new roster version.

    A record may carry ``site`` (a site code); without it a new employee joins the first site.
    ``faces`` / ``fingers`` left out (None) keep the stored templates.
    """
    items = [dict(r) for r in records]
    checked = check_records(items)
    now = timezone.now()
    cache: dict[tuple[int, str], Department] = {}
    with transaction.atomic():
        version = start = current_version()
        for raw, emp in zip(items, checked, strict=True):
            version += 1
            existing = Employee.objects.filter(number=emp.number).select_related("site").first()
            site = _site(raw.get("site")) if raw.get("site") or existing is None else existing.site
            row = existing or Employee(number=emp.number)
            row.name, row.site = emp.name, site
            row.department = _department(site, emp.department, cache)
            row.card, row.pin_hash, row.role = emp.card or None, emp.pin_hash, emp.role
            row.verify_mode, row.active = emp.verify_mode, emp.active
            row.allowed_devices = sorted(set(emp.allowed_devices))
            if emp.faces is not None:
                row.faces = list(emp.faces)
            if emp.fingers is not None:
                row.fingers = [f.model_dump() for f in emp.fingers]
            row.version = version
            row.save()
            RosterChange.objects.create(version=version, number=emp.number, op="upsert", at=now)
    if version != start:
        log.info("roster now at version %s (%s employees changed by %s)", version, len(checked), actor)
    return version


def upsert_employee(employee: Mapping[str, Any], *, actor: str = "system") -> int:
    return upsert_employees([employee], actor=actor)


def delete_employee(number: str, *, actor: str = "system") -> int:
    """Remove an employee; terminals delete them and purge their templates. Returns the new version."""
    with transaction.atomic():
        found = Employee.objects.filter(number=number).first()
        if found is None:
            raise RosterError(f"no employee {number}", field="number", number=number)
        version = current_version() + 1
        found.delete()
        RosterChange.objects.create(version=version, number=number, op="delete", at=timezone.now())
    log.info("employee %s deleted by %s; roster now at version %s", number, actor, version)
    return version


def employee_message(row: Employee) -> dict[str, Any]:
    """An employee as the roster carries it (the contract's RosterEmployee)."""
    return {
        "number": row.number, "name": row.name, "department": row.department.name if row.department else "",
        "card": row.card, "pin_hash": row.pin_hash, "role": row.role, "verify_mode": row.verify_mode,
        "allowed_devices": list(row.allowed_devices), "active": row.active,
        "faces": list(row.faces), "fingers": list(row.fingers),
    }


def list_employees() -> list[dict[str, Any]]:
    return [employee_message(r) for r in Employee.objects.select_related("department").order_by("number")]


def full_roster() -> dict[str, Any]:
    with transaction.atomic():  # one consistent snapshot of version and rows
        version = current_version()
        upserts = [employee_message(r) for r in Employee.objects.select_related("department").order_by("number")]
    return {"version": version, "base": 0, "full": True, "issued_at": p.utc_stamp(), "upserts": upserts,
            "deletes": []}


def delta(since: int) -> dict[str, Any] | None:
    """Changes after version ``since`` as one message, or None when there are none."""
    with transaction.atomic():
        changes = list(RosterChange.objects.filter(version__gt=since).order_by("version").values_list(
            "version", "number", "op"))
        if not changes:
            return None
        last_op: dict[str, str] = {}
        for _, number, op in changes:
            last_op[number] = op
        upsert_numbers = sorted(n for n, op in last_op.items() if op == "upsert")
        upserts = [employee_message(r) for r in
                   Employee.objects.filter(number__in=upsert_numbers).select_related("department").order_by("number")]
    return {"version": int(changes[-1][0]), "base": since, "full": False, "issued_at": p.utc_stamp(),
            "upserts": upserts, "deletes": sorted(n for n, op in last_op.items() if op == "delete")}


__all__ = ["RosterError", "RosterRuleError", "current_version", "delete_employee", "delta", "full_roster",
           "list_employees", "upsert_employee", "upsert_employees"]
